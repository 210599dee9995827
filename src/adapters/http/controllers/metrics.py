"""GET /metrics: the Prometheus exposition of the calls' figures."""

from __future__ import annotations

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency

from adapters.http.principal import principal_of
from adapters.observability.metrics import CONTENT_TYPE, PrometheusMetrics
from domain.errors import PermissionDeniedError


class MetricsController(Controller):
    """Behind the master key (an admin's key), unless `general_settings.public_metrics` puts it beside
    the health probes, outside authentication."""

    @get("/metrics")
    async def metrics(self, request: Request, metrics: NamedDependency[PrometheusMetrics]) -> Response:
        if not principal_of(request).reads_everything:
            raise PermissionDeniedError(
                "GET /metrics needs an admin's key (or general_settings.public_metrics: true)."
            )
        return Response(await metrics.scrape(), media_type=CONTENT_TYPE)

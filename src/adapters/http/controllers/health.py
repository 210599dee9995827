"""Health: the probes (no key needed) and GET /health, which calls every deployment (master key)."""

from __future__ import annotations

import functools
from importlib.metadata import PackageNotFoundError, version

import orjson
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery

from adapters.http.exchange import JSON, public_url
from adapters.http.principal import principal_of
from adapters.persistence.deferred import DeferredStore
from application.catalog import ModelCatalog
from application.health import WILDCARD_SKIPPED, EndpointHealth, HealthCheck, HealthReport
from application.models import ModelRegistry
from domain.deployments import Deployment
from domain.errors import PermissionDeniedError
from domain.router_state import CooldownReason
from ports.router_state import RouterState


@functools.cache
def package_version() -> str:
    """The installed package's version, read once: finding it scans the installed packages' metadata,
    which cost each readiness probe CPU and the process ~0.5 MB more RSS a probe for its first few."""
    try:
        return version("switchyard")
    except PackageNotFoundError:
        return "unknown"


class HealthController(Controller):
    @get(["/health/liveliness", "/health/liveness"])
    async def liveliness(self) -> Response:
        return Response(b'"I\'m alive!"', media_type=JSON)

    @get("/health/readiness")
    async def readiness(
        self,
        catalog: NamedDependency[ModelCatalog],
        router_state: NamedDependency[RouterState],
        store: NamedDependency[DeferredStore],
        models: NamedDependency[ModelRegistry],
    ) -> Response:
        """503 until the database is open (the server answers before it is: keys and stored models need
        it), 200 after. Stored deployments that cannot be served are named with why."""
        ready = store.store is not None
        body = {
            "status": "healthy" if ready else "starting",
            "version": package_version(),
            "models": len(catalog.groups()),
            "router_state": router_state.describe(),
            "db": store.describe(),
        }
        if models.broken:
            body["broken_models"] = dict(models.broken)
        return Response(orjson.dumps(body), media_type=JSON, status_code=200 if ready else 503)


def _endpoint(deployment: Deployment) -> dict[str, object]:
    """Where a deployment lives; never a credential."""
    return {
        "model": deployment.model_name,
        "id": deployment.id,
        "provider": deployment.provider,
        "api_base": public_url(deployment.api_base),
    }


def render_reason(reason: CooldownReason) -> dict[str, object]:
    """A failure's kind and HTTP status (LiteLLM's cooldown entries name it `status_code` too); never its
    message, which may quote an upstream's reply."""
    return {"kind": reason.kind.value, "status_code": reason.status_code}


def _checked(entry: EndpointHealth) -> dict[str, object]:
    body = _endpoint(entry.deployment)
    if entry.error is not None:
        body["error"] = entry.error
    if entry.failure is not None:
        body["failure"] = render_reason(CooldownReason.of(entry.failure))
    body["latency_ms"] = round(entry.latency * 1000, 3)
    return body


def render_report(report: HealthReport) -> dict[str, object]:
    """LiteLLM's shape, with the wildcard deployments that could not be checked listed apart."""
    return {
        "healthy_endpoints": [_checked(entry) for entry in report.healthy],
        "unhealthy_endpoints": [_checked(entry) for entry in report.unhealthy],
        "healthy_count": len(report.healthy),
        "unhealthy_count": len(report.unhealthy),
        "skipped_endpoints": [_endpoint(d) | {"reason": WILDCARD_SKIPPED} for d in report.skipped],
    }


class DeploymentHealthController(Controller):
    """Behind the master key: each check is a real, billed call to an upstream."""

    @get("/health")
    async def health(
        self,
        request: Request,
        health_check: NamedDependency[HealthCheck],
        model: FromQuery[str | None] = None,
    ) -> Response:
        if not principal_of(request).reads_everything:
            raise PermissionDeniedError("GET /health calls every deployment: it needs an admin's key.")
        report = await health_check.check(model)
        return Response(orjson.dumps(render_report(report)), media_type=JSON)

"""Health probes: no key needed."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import orjson
from litestar import Controller, Response, get
from litestar.di import NamedDependency

from adapters.http.exchange import JSON
from application.catalog import ModelCatalog
from ports.router_state import RouterState


def _version() -> str:
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
        self, catalog: NamedDependency[ModelCatalog], router_state: NamedDependency[RouterState]
    ) -> Response:
        body = {
            "status": "healthy",
            "version": _version(),
            "models": len(catalog.groups()),
            "router_state": router_state.describe(),
        }
        return Response(orjson.dumps(body), media_type=JSON)

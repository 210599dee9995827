"""The Litestar application, assembled in one place."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from litestar import Litestar, Router
from litestar.di import Provide

from adapters.http.auth import master_key_middleware
from adapters.http.controllers.chat import ChatController
from adapters.http.controllers.embeddings import EmbeddingsController
from adapters.http.controllers.health import DeploymentHealthController, HealthController
from adapters.http.controllers.models import ModelsController
from adapters.http.errors import EXCEPTION_HANDLERS


def create_app(
    *,
    dependencies: Mapping[str, Provide],
    master_key: str | None,
    max_body_bytes: int,
    lifespan: Sequence[Callable[[Litestar], AbstractAsyncContextManager[Any]]] = (),
) -> Litestar:
    """`dependencies` are the bridges to the use cases (`completions`, `catalog`, `router_state`,
    `health_check`, `deployment_states`), built by the composition root; with a `master_key`, every API
    route requires it (GET /health among them), the liveness and readiness probes excepted."""
    api = Router(
        path="/",
        route_handlers=[ChatController, EmbeddingsController, ModelsController, DeploymentHealthController],
        middleware=[master_key_middleware(master_key)] if master_key else [],
    )
    return Litestar(
        route_handlers=[api, HealthController],
        dependencies=dict(dependencies),
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=list(lifespan),
        request_max_body_size=max_body_bytes,
        openapi_config=None,
        logging_config=None,
        debug=False,
    )

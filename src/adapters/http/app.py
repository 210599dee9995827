"""The Litestar application, assembled in one place."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from litestar import Controller, Litestar, Router, asgi
from litestar.di import Provide
from litestar.events import BaseEventEmitterBackend
from litestar.exceptions import ImproperlyConfiguredException, MethodNotAllowedException, NotFoundException
from litestar.handlers import ASGIRouteHandler
from litestar.plugins import PluginProtocol
from litestar.types import (
    ASGIApp,
    ControllerRouterHandler,
    LifeSpanReceive,
    LifeSpanScope,
    LifeSpanSend,
    Receive,
    Scope,
    Send,
)
from litestar.utils import normalize_path

from adapters.http.auth import auth_middleware
from adapters.http.controllers.audio import AudioController
from adapters.http.controllers.chat import ChatController
from adapters.http.controllers.docs import DocsController
from adapters.http.controllers.embeddings import EmbeddingsController
from adapters.http.controllers.health import DeploymentHealthController, HealthController
from adapters.http.controllers.images import ImagesController
from adapters.http.controllers.messages import MessagesController
from adapters.http.controllers.metrics import MetricsController
from adapters.http.controllers.models import ModelsController
from adapters.http.controllers.moderations import ModerationsController
from adapters.http.controllers.passthrough import PassThroughController, custom_relays
from adapters.http.controllers.rerank import RerankController
from adapters.http.controllers.responses import ResponsesController, StoredResponsesController
from adapters.http.controllers.text_completions import TextCompletionsController
from adapters.http.errors import EXCEPTION_HANDLERS
from adapters.http.lane import inference_lane
from application.access import Gatekeeper
from domain.passthrough import CustomRoute

if TYPE_CHECKING:
    from adapters.http.ui.session import SessionSigner


_LANE_SERVICES = ("inference", "passthrough")


def create_app(
    *,
    dependencies: Mapping[str, Provide],
    gatekeeper: Callable[[], Gatekeeper] | None,
    max_body_bytes: int,
    lifespan: Sequence[Callable[[Litestar], AbstractAsyncContextManager[Any]]] = (),
    public_metrics: bool = False,
    metrics: bool = True,
    docs: bool = True,
    middleware: Sequence[Any] = (),
    passthrough_routes: Sequence[CustomRoute] = (),
    console: SessionSigner | None = None,
) -> Gateway:
    """`dependencies` are the bridges to the use cases (`completions`, `catalog`, `gatekeeper`,
    `management`, `models`, ...), built by the composition root. With a `gatekeeper` (a master key is
    set), every API route needs a valid credential, the liveness and readiness probes excepted; without
    one, auth is off and every caller acts as the admin (LiteLLM's behaviour without a master key).
    Without `metrics`, GET /metrics is an unknown route (404); without `docs`, so are GET /openapi.json
    and /docs. `passthrough_routes` are served when `passthrough` is, those with `auth: false` without a
    credential. With a `console` (its session signer), the admin console is served at /ui. Model admin,
    guardrails, management, spend reports and the console are registered when first asked for (`Gateway`)."""
    keyed_relays, open_relays = custom_relays(passthrough_routes if "passthrough" in dependencies else ())
    api_middleware = [auth_middleware(gatekeeper)] if gatekeeper is not None else []

    def keyed(controller: type[Controller]) -> Router:
        """A router for `controller` behind the API's authentication, as the routes of `api` are."""
        return _AppRouter(path="/", route_handlers=[controller], middleware=api_middleware)

    def later() -> Iterator[ControllerRouterHandler]:
        """The routes a client does not need first, registered when a request first needs one of them (see
        `Gateway`), each module imported then."""
        from adapters.http.controllers.model_admin import ModelAdminController

        yield keyed(ModelAdminController)
        if "guardrails" in dependencies:
            from adapters.http.controllers.guardrails import GuardrailsController

            yield keyed(GuardrailsController)
        from adapters.http.controllers.management import management_controllers

        yield from map(keyed, management_controllers)
        from adapters.http.controllers.spend import spend_controllers

        yield from map(keyed, spend_controllers)
        if console is not None:
            yield _console(console, dependencies, max_body_bytes)

    api = _AppRouter(
        path="/",
        route_handlers=[
            ChatController,
            MessagesController,
            ResponsesController,
            StoredResponsesController,
            EmbeddingsController,
            TextCompletionsController,
            ModerationsController,
            RerankController,
            ImagesController,
            AudioController,
            ModelsController,
            DeploymentHealthController,
            *([PassThroughController] if "passthrough" in dependencies else []),
            *keyed_relays,
            *([] if public_metrics or not metrics else [MetricsController]),
        ],
        middleware=api_middleware,
    )
    return Gateway(
        route_handlers=[
            api,
            HealthController,
            *open_relays,
            *([MetricsController] if public_metrics and metrics else []),
            *([DocsController] if docs else []),
        ],
        dependencies=dict(dependencies),
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=list(lifespan),
        middleware=list(middleware),
        request_max_body_size=max_body_bytes,
        openapi_config=None,
        logging_config=None,
        debug=False,
        event_emitter_backend=_NoListeners,
        lane=inference_lane(
            services={name: dependencies[name].dependency for name in _LANE_SERVICES if name in dependencies},
            gatekeeper=gatekeeper,
            max_body_bytes=max_body_bytes,
            middleware=middleware,
            custom_paths=[r.path for r in passthrough_routes],
        ),
        later=later(),
    )


class _AppRouter(Router):
    """A router made for the one app `create_app` builds. Litestar deep-copies a router it registers, so
    that one router can serve several apps; this one serves one, and copying its 200-odd handlers cost a
    start ~30 ms of CPU."""

    def __deepcopy__(self, memo: dict[int, Any]) -> _AppRouter:
        return self


class _NoListeners(BaseEventEmitterBackend):
    """The app's event emitter: it registers no listeners, so emitting is the error Litestar's own emitter
    raises then, and entering starts nothing (Litestar's starts a worker in an anyio task group, whose
    backend cost a start ~20 ms of CPU and 1 MB to import)."""

    __slots__ = ()

    async def __aenter__(self) -> _NoListeners:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    def emit(self, event_id: str, *args: Any, **kwargs: Any) -> None:
        raise ImproperlyConfiguredException(f"no event listeners are registered for event ID: {event_id}")


LATER_AFTER = 1.0
"""Seconds after the start at which the start's background work begins (`Gateway.asked`) if no request
came before: the first request (a readiness probe, usually) begins it otherwise."""


class Gateway(Litestar):
    """The Litestar app with the inference lane (`adapters.http.lane`) in front of its routing: a request
    the lane takes never enters Litestar's.

    The routes it registers `later` (route handlers and routers, in order) are not in the app as built:
    those a client does not need first (model admin, management, spend reports, the console: some 60
    handlers) were half of the build's CPU, their modules' imports included. The first request that the
    routes registered so far do not answer (path or method) registers them all, on the event loop
    (Litestar's route table is not thread-safe) one controller a turn, and is then routed among them; no
    route registered later answers a request that one registered first answers. A gateway that only
    serves calls never registers them: they held 3.4 MB of its RSS (bench config, 86.5 -> 83.1 MB once
    its start settled) when they registered by themselves after its first answer. `complete()` registers
    them at once, for whoever reads `routes` whole (the OpenAPI document, tests)."""

    def __init__(
        self,
        *args: Any,
        lane: Callable[[Scope], ASGIApp | None] | None,
        later: Iterator[ControllerRouterHandler] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._lane = lane
        self._later = later
        self._asked: asyncio.Event | None = asyncio.Event()
        self._registering: asyncio.Future[None] | None = None

    @staticmethod
    def _get_default_plugins(plugins: list[PluginProtocol]) -> list[PluginProtocol]:
        """Litestar's default plugins but pydantic's and attrs': no handler takes or returns a pydantic
        model or an attrs class (they read raw bodies and answer bytes, and the OpenAPI document is ours),
        and importing those two (pydantic.v1 and attrs with them) cost a start 25-45 ms of CPU."""
        from litestar.plugins.core import MsgspecDIPlugin

        return [*plugins, MsgspecDIPlugin()]

    def complete(self) -> None:
        """Registers every route still to register (nothing once all are)."""
        while self._register_next():
            pass

    async def _registered(self) -> None:
        """Returns once every route still to register has registered: one controller a turn of the loop
        (all at once took 72 ms of the loop's CPU, which the calls in flight would have waited for), by
        one task however many requests wait for it."""
        registering = self._registering
        if registering is None or registering.done():
            registering = self._registering = asyncio.ensure_future(self._register_rest())
        await asyncio.shield(registering)

    async def _register_rest(self) -> None:
        while self._register_next():
            await asyncio.sleep(0)

    def _register_next(self) -> bool:
        """Registers the next route handler or router of those registered later; False if none was left."""
        handler = next(self._later, None) if self._later is not None else None
        if handler is None:
            self._later = None
            return False
        self.register(handler)
        # Routing is cached by path and method, and a path found before may have a better match now.
        self.asgi_router.handle_routing.cache_clear()
        return True

    def _routes(self, scope: Scope) -> bool:
        """Whether the routes registered so far answer this request's path and method."""
        path = scope["path"]
        if root_path := scope.get("root_path", ""):
            path = path.split(root_path, maxsplit=1)[-1]
        try:
            self.asgi_router.handle_routing(path=normalize_path(path), method=scope["method"])
        except (NotFoundException, MethodNotAllowedException):
            return False
        return True

    async def __call__(
        self,
        scope: Scope | LifeSpanScope,
        receive: Receive | LifeSpanReceive,
        send: Send | LifeSpanSend,
    ) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        if self._asked is not None:
            self._asked.set()
            self._asked = None
        taken = self._lane(scope) if self._lane is not None else None
        if taken is not None:
            await taken(scope, receive, send)  # type: ignore[arg-type]
        else:
            if self._later is not None and not self._routes(scope):
                await self._registered()
            await super().__call__(scope, receive, send)

    async def asked(self) -> None:
        """Returns once the server has been asked its first request, or `LATER_AFTER` seconds after the
        start if none came: when work that a start leaves for after it answers may begin (see
        `bootstrap.http`). Waiting for the request rather than its answer lets that request need the
        work (a call that waits for the database, say)."""
        asked = self._asked
        if asked is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(LATER_AFTER):
                await asked.wait()

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Litestar's, with the first request of this run awaited afresh (`asked`)."""
        # Before Litestar's: the app's own lifespan hooks (bootstrap.http's resources) wait on it.
        self._asked = asyncio.Event()
        self._registering = None
        async with super().lifespan():
            yield


CONSOLE_PATH = "/ui"


def _console(
    console: SessionSigner, dependencies: Mapping[str, Provide], max_body_bytes: int
) -> ASGIRouteHandler:
    """The admin console, mounted at /ui and built as an app of its own on its first request: until a
    browser opens it, the gateway imports, builds and holds none of its pages (start time and memory)."""
    built: list[Litestar] = []

    @asgi(CONSOLE_PATH, is_mount=True, copy_scope=True)
    async def console_app(scope: Scope, receive: Receive, send: Send) -> None:
        if not built:
            from adapters.http.ui.console import console_router, not_found_page

            built.append(
                Litestar(
                    route_handlers=[console_router(console)],
                    dependencies=dict(dependencies),
                    # Routing's own 404s (an address below a real page) too: the console answers in HTML.
                    exception_handlers={**EXCEPTION_HANDLERS, NotFoundException: not_found_page},  # type: ignore[dict-item]
                    request_max_body_size=max_body_bytes,
                    openapi_config=None,
                    logging_config=None,
                    debug=False,
                )
            )
        # The mount hands over the path below /ui; the console's routes are written from the root.
        scope["path"] = CONSOLE_PATH + scope["path"].rstrip("/") if scope["path"] != "/" else CONSOLE_PATH
        await built[0](scope, receive, send)

    return console_app

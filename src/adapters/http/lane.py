"""The inference lane: the model-call routes (chat, messages, responses, completions, embeddings) and the
providers' pass-through routes answered in front of Litestar's routing, by the same handlers Litestar
routes to.

Litestar's routing, dependency resolution and response framing cost a chat call about 0.1 ms of CPU, as
much as the rest of its HTTP handling (measured with `bench.layers`); these routes take the same auth,
body limit, error rendering and tracing as the others, in a few plain ASGI steps. Every other route, and
any other method on these paths, goes through Litestar as before (whose route table also documents these
routes in /openapi.json).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import structlog
from litestar import Response
from litestar.types import ASGIApp, Receive, Scope, Send

from adapters.http.auth import auth_middleware
from adapters.http.controllers.chat import create_chat
from adapters.http.controllers.embeddings import create_embeddings
from adapters.http.controllers.messages import create_message
from adapters.http.controllers.passthrough import PROVIDER_PREFIXES, RELAYED_METHODS, relay_provider
from adapters.http.controllers.responses import create_response
from adapters.http.controllers.text_completions import create_text_completion
from adapters.http.errors import error_response
from adapters.http.exchange import HttpRequest
from application.access import Gatekeeper
from domain.errors import ClientClosedRequestError, InternalServerError, RequestTooLargeError

_log = structlog.get_logger("switchyard.http")

Handler = Callable[[HttpRequest, Any], Awaitable[Response]]
"""A route's handler: the request, and the service (app dependency) the route names."""

ROUTES: Mapping[str, tuple[str, Handler]] = {
    "/v1/chat/completions": ("inference", create_chat),
    "/chat/completions": ("inference", create_chat),
    "/v1/messages": ("inference", create_message),
    "/v1/responses": ("inference", create_response),
    "/responses": ("inference", create_response),
    "/v1/completions": ("inference", create_text_completion),
    "/completions": ("inference", create_text_completion),
    "/v1/embeddings": ("inference", create_embeddings),
    "/embeddings": ("inference", create_embeddings),
}
"""The POST routes the lane answers, by path: the service each handler is given, and the handler."""

RELAYED = ("passthrough", relay_provider)
"""Below each provider's prefix (/anthropic/..., when pass-through is served), every relayed method."""

_ROUTE = "switchyard.lane_route"
_ANSWERING = "switchyard.lane_answering"


class LaneRequest:
    """A request as the handlers read it (see `exchange.HttpRequest`): its scope, and its body read
    whole on first use, no larger than the gateway's limit (413 otherwise, as Litestar answers)."""

    __slots__ = ("_body", "_limit", "_receive", "scope")

    def __init__(self, scope: Scope, receive: Receive, limit: int) -> None:
        self.scope = scope
        self._receive = receive
        self._limit = limit
        self._body: bytes | None = None

    async def body(self) -> bytes:
        if self._body is not None:
            return self._body
        for name, value in self.scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self._limit:
                raise RequestTooLargeError("Request body is too large")
        pieces: list[bytes] = []
        size = 0
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ClientClosedRequestError("The client left before sending the whole request body.")
            piece = message.get("body", b"")
            size += len(piece)
            if size > self._limit:
                raise RequestTooLargeError("Request body is too large")
            pieces.append(piece)
            if not message.get("more_body", False):
                break
        self._body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        return self._body


def inference_lane(
    *,
    services: Mapping[str, Callable[[], Any]],
    gatekeeper: Callable[[], Gatekeeper] | None,
    max_body_bytes: int,
    middleware: Sequence[Callable[[ASGIApp], ASGIApp]] = (),
    custom_paths: Sequence[str] = (),
) -> Callable[[Scope], ASGIApp | None]:
    """What answers a request on the lane: `lane(scope)` is the ASGI app for a request the lane takes,
    None for one it leaves to Litestar. The app runs the auth middleware (with a `gatekeeper`) and the
    app's own `middleware` (tracing) around the handler, as Litestar runs them around its routes.
    `services` hand over the running gateway's use cases by name (they exist once the app has started);
    a route whose service is not among them is left to Litestar, and so are the operator's own
    pass-through routes (`custom_paths`), wherever they are."""
    exact = {path: route for path, route in ROUTES.items() if route[0] in services}
    prefixes = PROVIDER_PREFIXES if RELAYED[0] in services else ()
    custom = tuple(custom_paths)
    resolved: dict[str, Any] = {}

    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        name, handler = scope[_ROUTE]  # type: ignore[typeddict-item]
        service = resolved.get(name)
        if service is None:
            service = resolved[name] = services[name]()
        try:
            response = await handler(LaneRequest(scope, receive, max_body_bytes), service)
        except Exception as exc:  # what Litestar's last exception handler does for the other routes
            response = _unexpected(exc, scope)
        scope[_ANSWERING] = True  # type: ignore[typeddict-unknown-key]
        await _send(response, scope, receive, send)

    app: ASGIApp = answer  # type: ignore[assignment]
    if gatekeeper is not None:
        app = auth_middleware(gatekeeper)(app)
    for wrap in reversed(middleware):
        app = wrap(app)
    chain = app

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await chain(scope, receive, send)
        except Exception as exc:  # from the auth or tracing middleware, as Litestar answers them
            if scope.get(_ANSWERING):
                raise  # the answer had begun: uvicorn ends the connection
            await _send(_unexpected(exc, scope), scope, receive, send)

    app = guarded  # type: ignore[assignment]

    def lane(scope: Scope) -> ASGIApp | None:
        path = scope["path"]
        if scope["method"] == "POST" and (route := exact.get(path)) is not None:
            scope[_ROUTE] = route  # type: ignore[typeddict-unknown-key]
            scope["path_template"] = path  # type: ignore[typeddict-unknown-key]  # the span's route
            return app
        if (
            prefixes
            and path.startswith(prefixes)
            and scope["method"] in RELAYED_METHODS
            and not (custom and path.startswith(custom))
        ):
            provider, _, rest = path[1:].partition("/")
            if rest:
                scope[_ROUTE] = RELAYED  # type: ignore[typeddict-unknown-key]
                scope["path_template"] = f"/{provider}/{{path:path}}"  # type: ignore[typeddict-unknown-key]
                return app
        return None

    return lane


def _unexpected(exc: Exception, scope: Scope) -> Response:
    _log.exception("unhandled error", path=scope["path"], error=repr(exc))
    return error_response(InternalServerError("Internal server error"), path=scope["path"])


async def _send(response: Response, scope: Scope, receive: Receive, send: Send) -> None:
    if type(response) is not Response:  # a body of its own (a stream, a relayed reply)
        await response.to_asgi_response()(scope, receive, send)  # type: ignore[call-arg]
        return
    body: bytes = response.content  # the handlers render their bodies to bytes themselves
    media_type = response.media_type if isinstance(response.media_type, str) else "application/json"
    # In Litestar's order: the handler's headers, then the body's.
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers.items()]
    headers.append((b"content-type", media_type.encode()))
    headers.append((b"content-length", str(len(body)).encode()))
    # A handler leaves a success's status to the route (200 on every lane route), as Litestar's do.
    status = response.status_code or 200
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

"""/openai/*, /anthropic/*, /gemini/*, /cohere/*, /mistral/*, /azure/*, /vertex_ai/*, /bedrock/*: each
provider's own API, relayed; and the operator's own routes from `general_settings.pass_through_endpoints`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode

from litestar import Controller, Request, Response, route
from litestar.di import NamedDependency
from litestar.enums import HttpMethod
from litestar.handlers import HTTPRouteHandler
from litestar.types import Receive, Scope, Send

from adapters.call_ids import new_call_id
from adapters.http.errors import error_response
from adapters.http.exchange import HttpRequest
from adapters.http.principal import principal_of
from adapters.http.sse import HangUp, first_written
from application.passthrough import PassThroughCall, PassThroughCalls, Relayed
from domain.errors import SwitchyardError
from domain.passthrough import CUSTOM, PROVIDER_ROUTES, SIGNED_PROVIDERS, CustomRoute, header

_METHODS = [
    HttpMethod.GET,
    HttpMethod.POST,
    HttpMethod.PUT,
    HttpMethod.PATCH,
    HttpMethod.DELETE,
    HttpMethod.HEAD,
]


def _query(query: bytes, provider: str) -> str:
    text = query.decode("latin-1")
    if provider != "gemini" or "key=" not in text:
        return text
    # Gemini's clients may put the key in the query: the caller's key never goes upstream.
    return urlencode([(k, v) for k, v in parse_qsl(text, keep_blank_values=True) if k != "key"])


class PassThroughController(Controller):
    @route([f"/{name}/{{path:path}}" for name in (*PROVIDER_ROUTES, *SIGNED_PROVIDERS)], http_method=_METHODS)
    async def relay(self, request: Request, passthrough: NamedDependency[PassThroughCalls]) -> Response:
        return await relay_provider(request, passthrough)


PROVIDER_PREFIXES = tuple(f"/{name}/" for name in (*PROVIDER_ROUTES, *SIGNED_PROVIDERS))
"""The paths below which each provider's own API is relayed."""
RELAYED_METHODS = frozenset(method.value for method in _METHODS)
"""The methods relayed there."""


async def relay_provider(request: HttpRequest, passthrough: PassThroughCalls) -> Response:
    """/{provider}/..., as Litestar routes it and as the inference lane does."""
    provider, _, path = _raw_path(request).lstrip("/").partition("/")
    return await _relay(request, passthrough, provider, "/" + path)


def custom_relays(routes: Sequence[CustomRoute]) -> tuple[list[HTTPRouteHandler], list[HTTPRouteHandler]]:
    """The handlers of the operator's own routes (`general_settings.pass_through_endpoints`): those
    needing a key, and those needing none (to be served outside the auth middleware)."""
    keyed = [r.path for r in routes if r.auth]
    open_ = [r.path for r in routes if not r.auth]
    return _handlers(keyed, custom_relay), _handlers(open_, open_custom_relay)


def _handlers(paths: list[str], handler: Callable[..., Awaitable[Response]]) -> list[HTTPRouteHandler]:
    if not paths:
        return []
    served = [served for path in paths for served in (path, f"{path}/{{rest:path}}")]
    return [route(served, http_method=_METHODS)(handler)]


async def custom_relay(request: Request, passthrough: NamedDependency[PassThroughCalls]) -> Response:
    return await _relay(request, passthrough, CUSTOM, _raw_path(request))


async def open_custom_relay(request: Request, passthrough: NamedDependency[PassThroughCalls]) -> Response:
    return await _relay(request, passthrough, CUSTOM, _raw_path(request))


def _raw_path(request: HttpRequest) -> str:
    """The path as the caller sent it, its escapes kept (`%3A` in a Bedrock model id stays one)."""
    raw = request.scope.get("raw_path")
    # Some servers leave the query on it, which the ASGI spec does not.
    return raw.decode("latin-1").partition("?")[0] if raw else request.scope["path"]


async def _relay(request: HttpRequest, passthrough: PassThroughCalls, provider: str, path: str) -> Response:
    scope = request.scope
    call_id = new_call_id()
    call = PassThroughCall(
        provider=provider,
        method=scope["method"],
        path=path,
        query=_query(scope["query_string"], provider),
        headers=tuple((n.decode("latin-1"), v.decode("latin-1")) for n, v in scope["headers"]),
        body=await request.body(),
    )
    try:
        relayed = await passthrough.call(principal_of(request), call, call_id=call_id)
    except SwitchyardError as exc:
        return error_response(exc, {"x-switchyard-call-id": call_id}, path=scope["path"])
    return RelayedResponse(relayed, call_id, head=scope["method"] == "HEAD")


class RelayedResponse(Response[bytes]):
    """The upstream's reply as it came: its status, its headers in order (a repeated `set-cookie` stays
    repeated), its body chunk by chunk. Its own ASGI body, so that the upstream reply is closed and the
    call metered however the reply ends, even when its body is never read."""

    def __init__(self, relayed: Relayed, call_id: str, *, head: bool = False) -> None:
        super().__init__(b"", status_code=relayed.status)
        self._relayed = relayed
        self._head = head
        self._raw = [
            *((n.encode("latin-1"), v.encode("latin-1")) for n, v in relayed.headers),
            (b"x-switchyard-call-id", call_id.encode()),
        ]

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> _RelayedBody:  # type: ignore[override]
        # A stream's first piece is written before the rest is read; a JSON body goes in one write.
        streamed = not header(self._relayed.headers, "content-type").startswith("application/json")
        return _RelayedBody(self._relayed, self._raw, self._head, streamed)


class _RelayedBody:
    __slots__ = ("_head", "_headers", "_relayed", "_streamed")

    def __init__(
        self, relayed: Relayed, headers: list[tuple[bytes, bytes]], head: bool, streamed: bool
    ) -> None:
        self._relayed = relayed
        self._headers = headers
        self._head = head
        self._streamed = streamed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        relayed, whole = self._relayed, False
        try:
            async with HangUp(receive, scope) as call:
                start = {"type": "http.response.start", "status": relayed.status, "headers": self._headers}
                await send(start)
                if not self._head:
                    opening = self._streamed
                    async for data in relayed.body:
                        await send({"type": "http.response.body", "body": data, "more_body": True})
                        if opening:  # written before what follows it is read (its usage, say)
                            opening = False
                            await first_written()
                call.finished = whole = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await relayed.end(whole)

"""Authentication, as ASGI middleware in front of every API route when a master key is configured: the
caller's credential becomes the request's `Principal`, or the request ends in 401 / 403.

Plain ASGI on purpose: it runs on every call, and a Litestar guard costs a copy of the route handler
per request.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from urllib.parse import unquote_to_bytes

from litestar.types import ASGIApp, Receive, Scope, Send

from adapters.http.errors import error_body
from adapters.http.principal import PRINCIPAL
from application.access import Gatekeeper, LimitsLeft, Ticket
from domain.errors import AuthenticationError, RateLimitError, SwitchyardError

_KEY_HEADERS = (b"api-key", b"x-api-key", b"x-goog-api-key")


def presented_key(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The key a client sent: `x-switchyard-api-key` first, then `Authorization: Bearer`, then the
    `api-key` / `x-api-key` / `x-goog-api-key` headers (each provider SDK's own, for pass-through)."""
    fallback = None
    for name, value in headers:
        if name == b"x-switchyard-api-key" and value.strip():
            return value.strip()
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return token.strip()
        elif name in _KEY_HEADERS and fallback is None:
            fallback = value.strip() or None
    return fallback


def auth_middleware(gatekeeper: Callable[[], Gatekeeper]):
    """`gatekeeper` hands over the running app's Gatekeeper (it exists only once the app started)."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            key = presented_key(scope["headers"])
            if key is None and scope["path"].startswith("/gemini/"):
                key = _query_key(scope["query_string"])
            try:
                if key is None:
                    raise AuthenticationError(
                        "No API key provided. Pass it as 'Authorization: Bearer <key>'.",
                        code="missing_api_key",
                    )
                try:
                    secret = key.decode()
                except UnicodeDecodeError:
                    raise AuthenticationError("Malformed API key.", code="invalid_api_key") from None
                scope[PRINCIPAL] = await gatekeeper().authenticate(secret, scope["path"])  # type: ignore[literal-required]
            except SwitchyardError as error:
                await _refuse(send, error, scope["path"])
                return
            await app(scope, receive, send)

        return guarded

    return middleware


def _query_key(query: bytes) -> bytes | None:
    """Gemini's `?key=`: its clients may send the key in the query string."""
    for pair in query.split(b"&"):
        name, _, value = pair.partition(b"=")
        if name == b"key" and value:
            return unquote_to_bytes(value)
    return None


async def _refuse(send: Send, error: SwitchyardError, path: str) -> None:
    status, body = error_body(error, path)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if isinstance(error, RateLimitError) and error.retry_after is not None:
        headers.append((b"retry-after", str(max(1, math.ceil(error.retry_after))).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def rate_limit_headers(ticket: Ticket) -> Mapping[str, str]:
    """`x-ratelimit-*` headers (OpenAI's names) for a rate-limited caller: what is left in this window."""
    left: LimitsLeft | None = ticket.limits_left()
    if left is None:
        return {}
    reset = f"{max(1, math.ceil(left.reset_seconds))}s"
    headers = {}
    if left.limit_requests is not None:
        headers["x-ratelimit-limit-requests"] = str(left.limit_requests)
        headers["x-ratelimit-remaining-requests"] = str(left.remaining_requests)
        headers["x-ratelimit-reset-requests"] = reset
    if left.limit_tokens is not None:
        headers["x-ratelimit-limit-tokens"] = str(left.limit_tokens)
        headers["x-ratelimit-remaining-tokens"] = str(left.remaining_tokens)
        headers["x-ratelimit-reset-tokens"] = reset
    return headers

"""The master key check, as ASGI middleware in front of every API route when a key is configured.

Plain ASGI on purpose: it runs on every call, and a Litestar guard costs a copy of the route handler
per request.
"""

from __future__ import annotations

import hmac

import orjson
from litestar.types import ASGIApp, Receive, Scope, Send

from adapters.openai_format import render_error
from domain.errors import AuthenticationError

_KEY_HEADERS = (b"api-key", b"x-api-key")


def presented_key(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The key a client sent: `Authorization: Bearer`, or the `api-key` / `x-api-key` headers."""
    fallback = None
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return token.strip()
        elif name in _KEY_HEADERS and fallback is None:
            fallback = value.strip() or None
    return fallback


def master_key_middleware(master_key: str):
    expected = master_key.encode()

    def middleware(app: ASGIApp) -> ASGIApp:
        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            key = presented_key(scope["headers"])
            if key is None:
                error = AuthenticationError(
                    "No API key provided. Pass it as 'Authorization: Bearer <key>'.", code="missing_api_key"
                )
            elif hmac.compare_digest(key, expected):
                await app(scope, receive, send)
                return
            else:
                error = AuthenticationError("Invalid API key.", code="invalid_api_key")
            body = orjson.dumps(render_error(error))
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 401, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        return guarded

    return middleware

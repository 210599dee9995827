"""The master key check: every API route needs it when one is configured."""

from __future__ import annotations

import hmac

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from domain.errors import AuthenticationError


def presented_key(connection: ASGIConnection) -> str | None:
    """The key a client sent: `Authorization: Bearer`, or the `api-key` / `x-api-key` headers."""
    headers = connection.headers
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return headers.get("api-key") or headers.get("x-api-key")


def master_key_guard(master_key: str):
    expected = master_key.encode()

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        key = presented_key(connection)
        if key is None:
            raise AuthenticationError(
                "No API key provided. Pass it as 'Authorization: Bearer <key>'.", code="missing_api_key"
            )
        if not hmac.compare_digest(key.encode(), expected):
            raise AuthenticationError("Invalid API key.", code="invalid_api_key")

    return guard

"""The authenticated caller of a request, as the auth middleware left it in the ASGI scope."""

from __future__ import annotations

from typing import Any

from domain.access import MASTER, Principal

PRINCIPAL = "switchyard.principal"
"""The ASGI scope key holding the request's `Principal` (absent when no master key is set: auth is off
and every caller acts as the admin, as LiteLLM does)."""


def principal_of(request: Any) -> Principal:
    """The caller of `request` (a Litestar `Request`, or the inference lane's)."""
    return request.scope.get(PRINCIPAL, MASTER)  # type: ignore[return-value]

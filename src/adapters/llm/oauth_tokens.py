"""Bearer tokens bought with a form POST to a token endpoint (IBM Cloud IAM's API-key grant, Databricks'
and Microsoft Entra ID's OAuth client credentials), kept until shortly before they expire; concurrent
calls share one exchange."""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Hashable, Mapping

import httpx
import orjson

from adapters.llm.upstream_errors import retry_after, transport_errors
from domain import errors

_EARLY = 60.0
"""Seconds before its expiry a token is no longer handed out by default (a call may take a while to
arrive)."""
_DEFAULT_LIFETIME = 3600.0


class TokenCache:
    """Tokens by the key of the credentials that bought them. When a token is due, one exchange runs and
    every call that needs it meanwhile waits for that one; a waiter that is cancelled leaves it running
    for the others, and a failed exchange is not kept (the next call tries again)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, early: float = _EARLY) -> None:
        self._clock = clock
        self._early = early
        self._tokens: dict[Hashable, tuple[str, float]] = {}
        self._pending: dict[Hashable, asyncio.Future[str]] = {}

    async def token(self, key: Hashable, exchange: Callable[[], Awaitable[tuple[str, float]]]) -> str:
        """The token for `key`; `exchange` buys a new one, as (token, lifetime in seconds)."""
        cached = self._tokens.get(key)
        if cached is not None and self._clock() < cached[1]:
            return cached[0]
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = asyncio.ensure_future(self._buy(key, exchange))
            # Every waiter may be cancelled; the outcome must still count as retrieved.
            pending.add_done_callback(lambda done: done.cancelled() or done.exception())
        return await asyncio.shield(pending)

    async def _buy(self, key: Hashable, exchange: Callable[[], Awaitable[tuple[str, float]]]) -> str:
        try:
            token, lifetime = await exchange()
            # A short-lived token is used for its first half at least.
            self._tokens[key] = (token, self._clock() + lifetime - min(self._early, lifetime / 2))
            return token
        finally:
            del self._pending[key]


async def exchange_form(
    client: httpx.AsyncClient,
    url: str,
    form: Mapping[str, str],
    *,
    issuer: str,
    timeout: float,
    headers: Mapping[str, str] | None = None,
) -> tuple[str, float]:
    """(access_token, expires_in) from the token endpoint at `url`, which answers OAuth's JSON (RFC 6749
    section 5.1). A refusal is an AuthenticationError naming `issuer` and what it said; its overload a
    RateLimitError or ServiceUnavailableError."""
    request = httpx.Request(
        "POST",
        url,
        content=urllib.parse.urlencode(form).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            **(headers or {}),
        },
        extensions={"timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}},
    )
    with transport_errors():
        response = await client.send(request)
        content = await response.aread()
    try:
        payload = orjson.loads(content)
    except orjson.JSONDecodeError:
        payload = None
    details = payload if isinstance(payload, dict) else {}
    if not response.is_success:
        raise _refused(response.status_code, details, response.headers, issuer)
    token = details.get("access_token")
    if not isinstance(token, str) or not token:
        raise errors.BadGatewayError(f"{issuer} answered the token request without an access token.")
    lifetime = details.get("expires_in")
    try:
        return token, float(lifetime) if lifetime is not None else _DEFAULT_LIFETIME
    except (TypeError, ValueError):
        return token, _DEFAULT_LIFETIME


def _refused(
    status: int, details: Mapping[str, object], headers: Mapping[str, str], issuer: str
) -> errors.SwitchyardError:
    # OAuth says {"error", "error_description"}; IBM IAM {"errorCode", "errorMessage"}.
    reason = next(
        (
            str(details[name])
            for name in ("error_description", "errorMessage", "message", "error")
            if details.get(name)
        ),
        f"HTTP {status}",
    )
    message = f"{issuer} refused the credentials: {reason}"
    if status == 429:
        return errors.RateLimitError(message, retry_after=retry_after(headers))
    if status >= 500:
        return errors.ServiceUnavailableError(message)
    return errors.AuthenticationError(message)

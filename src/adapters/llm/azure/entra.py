"""Microsoft Entra ID bearer tokens for Azure: a configured token as it is, or one fetched with client
credentials (tenant_id, client_id, client_secret) over the adapter's own client and kept until shortly
before it expires."""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import orjson

from adapters.llm.upstream_errors import retry_after, transport_errors
from domain import errors

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
DEFAULT_SCOPE = "https://cognitiveservices.azure.com/.default"
_REFRESH_MARGIN = 300.0
"""Seconds before expiry at which a cached token is replaced, so that no call carries a stale one."""

_Key = tuple[str, str, str, str, str]


def uses_entra(extra: Mapping[str, Any]) -> bool:
    return bool(extra.get("azure_ad_token")) or all(
        extra.get(name) for name in ("tenant_id", "client_id", "client_secret")
    )


class EntraTokens:
    """Bearer tokens per set of client credentials; concurrent calls share one exchange."""

    def __init__(self, client: httpx.AsyncClient, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._clock = clock
        self._cached: dict[_Key, tuple[str, float]] = {}
        self._locks: dict[_Key, asyncio.Lock] = {}

    async def token(self, extra: Mapping[str, Any], timeout: float) -> str:
        """The bearer token the credentials in `extra` stand for."""
        configured = extra.get("azure_ad_token")
        if configured:
            return str(configured)
        key: _Key = (
            str(extra.get("azure_authority_host") or DEFAULT_AUTHORITY).rstrip("/"),
            str(extra["tenant_id"]),
            str(extra["client_id"]),
            str(extra["client_secret"]),
            str(extra.get("azure_scope") or DEFAULT_SCOPE),
        )
        cached = self._fresh(key)
        if cached is not None:
            return cached
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._fresh(key)  # another call may have fetched it while this one waited
            if cached is not None:
                return cached
            token, lifetime = await self._exchange(key, timeout)
            self._cached[key] = (token, self._clock() + max(lifetime - _REFRESH_MARGIN, lifetime / 2))
            return token

    def _fresh(self, key: _Key) -> str | None:
        cached = self._cached.get(key)
        if cached is not None and self._clock() < cached[1]:
            return cached[0]
        return None

    async def _exchange(self, key: _Key, timeout: float) -> tuple[str, float]:
        authority, tenant, client_id, secret, scope = key
        form = urllib.parse.urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
                "scope": scope,
            }
        )
        request = httpx.Request(
            "POST",
            f"{authority}/{urllib.parse.quote(tenant, safe='')}/oauth2/v2.0/token",
            content=form.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            extensions={"timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}},
        )
        with transport_errors():
            response = await self._client.send(request)
            content = await response.aread()
        try:
            payload = orjson.loads(content)
        except orjson.JSONDecodeError:
            payload = {}
        if not response.is_success:
            raise _token_error(response.status_code, payload, response.headers)
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            raise errors.BadGatewayError("Microsoft Entra ID answered the token request without a token.")
        lifetime = payload.get("expires_in")
        try:
            return token, float(lifetime)
        except (TypeError, ValueError):
            return token, 3600.0


def _token_error(status: int, payload: object, headers: Mapping[str, str]) -> errors.SwitchyardError:
    details = payload if isinstance(payload, dict) else {}
    reason = details.get("error_description") or details.get("error") or f"HTTP {status}"
    message = f"Microsoft Entra ID refused the client credentials: {reason}"
    if status == 429:
        return errors.RateLimitError(message, retry_after=retry_after(headers))
    if status >= 500:
        return errors.ServiceUnavailableError(message)
    return errors.AuthenticationError(message)

"""Microsoft Entra ID bearer tokens for Azure: a configured token as it is, or one fetched with client
credentials (tenant_id, client_id, client_secret) over the adapter's own client and kept until shortly
before it expires."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from adapters.llm.oauth_tokens import TokenCache, exchange_form

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
DEFAULT_SCOPE = "https://cognitiveservices.azure.com/.default"
_REFRESH_MARGIN = 300.0
"""Seconds before expiry at which a cached token is replaced, so that no call carries a stale one."""


def uses_entra(extra: Mapping[str, Any]) -> bool:
    return bool(extra.get("azure_ad_token")) or all(
        extra.get(name) for name in ("tenant_id", "client_id", "client_secret")
    )


class EntraTokens:
    """Bearer tokens per set of client credentials; concurrent calls share one exchange."""

    def __init__(self, client: httpx.AsyncClient, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._cache = TokenCache(clock, early=_REFRESH_MARGIN)

    async def token(self, extra: Mapping[str, Any], timeout: float) -> str:
        """The bearer token the credentials in `extra` stand for."""
        configured = extra.get("azure_ad_token")
        if configured:
            return str(configured)
        authority = str(extra.get("azure_authority_host") or DEFAULT_AUTHORITY).rstrip("/")
        tenant, client_id, secret = (
            str(extra["tenant_id"]),
            str(extra["client_id"]),
            str(extra["client_secret"]),
        )
        scope = str(extra.get("azure_scope") or DEFAULT_SCOPE)

        async def exchange() -> tuple[str, float]:
            form = {
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
                "scope": scope,
            }
            url = f"{authority}/{urllib.parse.quote(tenant, safe='')}/oauth2/v2.0/token"
            return await exchange_form(self._client, url, form, issuer="Microsoft Entra ID", timeout=timeout)

        return await self._cache.token((authority, tenant, client_id, secret, scope), exchange)

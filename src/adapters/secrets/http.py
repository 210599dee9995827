"""What the secret stores spoken over HTTP share: one request whose failures become `SecretUnavailable`
(never carrying a value), and a login token kept for its lease."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson

from domain.errors import SwitchyardError
from ports.secret_store import SecretStore, SecretUnavailable

ClientFactory = Callable[..., httpx.AsyncClient]
"""Builds the store's client; keyword arguments are httpx.AsyncClient's (a client certificate, ...)."""
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
_EARLY = 60.0
"""Seconds before a leased token expires at which a new one is fetched."""


def new_client(**options: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, **options)


async def read_json(
    client: httpx.AsyncClient,
    request: httpx.Request,
    *,
    name: str,
    store: str,
    missing: Callable[[int, Any], bool] = lambda status, _: status == 404,
) -> Any:
    """The JSON answer to `request`; SecretUnavailable naming `name` and `store` when there is none
    (`missing` says which answers mean the store holds no such secret)."""
    try:
        response = await client.send(request)
        content = await response.aread()
    except httpx.HTTPError as exc:
        raise SecretUnavailable(name, store, f"unreachable ({type(exc).__name__}: {exc})") from exc
    try:
        payload = orjson.loads(content) if content else None
    except orjson.JSONDecodeError:
        payload = None
    if not response.is_success:
        reason = f"HTTP {response.status_code}" + (f": {detail}" if (detail := _detail(payload)) else "")
        raise SecretUnavailable(name, store, reason, missing=missing(response.status_code, payload))
    if payload is None:
        raise SecretUnavailable(name, store, "the answer is not JSON")
    return payload


class HttpSecretStore(SecretStore):
    """A store spoken over an httpx client of its own, closed with it."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _read_text(self, request: httpx.Request, name: str, *path: str) -> str:
        """The text at `path` in the JSON answer to `request` (the read of the secret `name`)."""
        found: Any = await read_json(self._client, request, name=name, store=self.system)
        for key in path:
            found = found.get(key) if isinstance(found, dict) else None
        if not isinstance(found, str):
            raise SecretUnavailable(name, self.system, f"the answer holds no {'.'.join(path)}")
        return found


def unavailable(name: str, store: str, exc: SwitchyardError) -> SecretUnavailable:
    """A token that could not be had (Entra ID, Google OAuth) as the read's failure."""
    return SecretUnavailable(name, store, f"no access token: {exc}")


def _detail(payload: Any) -> str:
    """The error message of Vault (`errors`), Azure and Google (`error.message`), AWS (`__type`,
    `Message`) and Infisical (`message`) error bodies."""
    if not isinstance(payload, dict):
        return ""
    errors = payload.get("errors")
    if isinstance(errors, list) and errors:
        return "; ".join(str(error) for error in errors)
    error = payload.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or "")
    message = payload.get("message") or payload.get("Message") or error or ""
    kind = str(payload.get("__type") or "").rpartition("#")[2]
    return f"{kind}: {message}" if kind else str(message)


class LeasedToken:
    """A login token (Vault's AppRole or certificate login, Infisical's universal auth) kept until
    shortly before its lease ends; concurrent reads share one login."""

    def __init__(self, login: Callable[[], Awaitable[tuple[str, float]]], store: str) -> None:
        self._login = login
        """Logs in: (token, lease seconds; 0 for a token that does not expire)."""
        self._store = store
        self._token: str | None = None
        self._until = 0.0
        self._lock = asyncio.Lock()

    async def get(self, name: str) -> str:
        """The token for reading the secret `name`; a failed login fails that read."""
        if self._token is not None and time.monotonic() < self._until:
            return self._token
        async with self._lock:
            if self._token is None or time.monotonic() >= self._until:
                try:
                    token, lease = await self._login()
                except SecretUnavailable as exc:
                    raise SecretUnavailable(name, self._store, f"login failed: {exc.reason}") from exc
                self._token = token
                self._until = time.monotonic() + (lease - min(_EARLY, lease / 2) if lease else float("inf"))
        return self._token

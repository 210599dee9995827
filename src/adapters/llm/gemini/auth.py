"""OAuth2 access tokens for Vertex AI.

Where a token comes from, by what `vertex_credentials` holds (a file path, the JSON text, or a mapping;
the config fills it from GOOGLE_APPLICATION_CREDENTIALS when the deployment gives none):
- a service account key: a JWT signed with its private key (RS256), exchanged at its `token_uri`;
- gcloud's user credentials (`authorized_user`): its refresh token, exchanged at the same endpoint;
- nothing: the metadata server of the Google Cloud machine the gateway runs on.
A token is cached until shortly before it expires; when it must be refreshed, one refresh runs and every
call that needs the token meanwhile waits for that one.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from adapters.llm.upstream_errors import transport_errors
from domain.errors import AuthenticationError, ServiceUnavailableError, SwitchyardError

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
TOKEN_URI = "https://oauth2.googleapis.com/token"
METADATA = "http://metadata.google.internal/computeMetadata/v1"
_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_JWT_LIFETIME = 3600
_EARLY = 300.0
"""Seconds before its expiry a token is no longer handed out (a call may take a while to arrive)."""
_TIMEOUTS = {"connect": 10.0, "read": 30.0, "write": 30.0, "pool": 30.0}


@dataclass(frozen=True, slots=True)
class AccessToken:
    value: str
    expires_in: float
    """Seconds, as the token endpoint said."""


class TokenSource(ABC):
    """One kind of Google credentials: how to get a fresh access token, and the project they name."""

    @abstractmethod
    async def fetch(self, client: httpx.AsyncClient) -> AccessToken: ...

    async def project(self, client: httpx.AsyncClient) -> str | None:
        return None


class CachedTokens:
    """A token source behind a cache that refreshes once for all the calls waiting on it."""

    def __init__(self, source: TokenSource, clock: Callable[[], float] = time.monotonic) -> None:
        self.source = source
        self._clock = clock
        self._token: str | None = None
        self._good_until = 0.0
        self._refresh: asyncio.Future[str] | None = None
        self._project: str | None = None

    async def token(self, client: httpx.AsyncClient) -> str:
        if self._token is not None and self._clock() < self._good_until:
            return self._token
        if self._refresh is None:
            self._refresh = asyncio.ensure_future(self._fetch(client))
            # Every waiter may be cancelled; the outcome must still count as retrieved.
            self._refresh.add_done_callback(lambda done: done.cancelled() or done.exception())
        # A waiter that is cancelled leaves the refresh running for the others.
        return await asyncio.shield(self._refresh)

    def forget(self) -> None:
        """Drops the cached token (the upstream refused it): the next call fetches a new one."""
        self._token = None

    async def project(self, client: httpx.AsyncClient) -> str | None:
        if self._project is None:
            self._project = await self.source.project(client)
        return self._project

    async def _fetch(self, client: httpx.AsyncClient) -> str:
        try:
            token = await self.source.fetch(client)
            self._token = token.value
            # A short-lived token is used for its first half at least.
            self._good_until = self._clock() + token.expires_in - min(_EARLY, token.expires_in / 2)
            return token.value
        finally:
            self._refresh = None


def token_source(credentials: object) -> TokenSource:
    """The source `vertex_credentials` describes; the metadata server when it is unset."""
    if credentials is None or credentials == "":
        return MetadataServerTokens()
    info = _credentials_info(credentials)
    kind = info.get("type")
    if kind == "service_account":
        return ServiceAccountTokens(info)
    if kind == "authorized_user":
        return UserTokens(info)
    raise AuthenticationError(
        f"vertex_credentials of type {kind!r} are not supported; use a service account key "
        "(type service_account) or gcloud's application default credentials (type authorized_user)"
    )


class ServiceAccountTokens(TokenSource):
    def __init__(self, info: Mapping[str, Any]) -> None:
        try:
            self._email = str(info["client_email"])
            self._pem = str(info["private_key"])
        except KeyError as exc:
            raise AuthenticationError(f"the service account key in vertex_credentials lacks {exc}") from None
        self._key_id = info.get("private_key_id")
        self._token_uri = str(info.get("token_uri") or TOKEN_URI)
        self._project = info.get("project_id")
        self._key: Any = None

    async def fetch(self, client: httpx.AsyncClient) -> AccessToken:
        form = {"grant_type": _JWT_BEARER, "assertion": self.assertion(int(time.time()))}
        return await _exchange(client, self._token_uri, form)

    async def project(self, client: httpx.AsyncClient) -> str | None:
        return str(self._project) if self._project else None

    def assertion(self, now: int) -> str:
        """The self-signed JWT asking for a cloud-platform token, valid for an hour from `now`."""
        header: dict[str, Any] = {"alg": "RS256", "typ": "JWT"}
        if self._key_id:
            header["kid"] = self._key_id
        claims = {
            "iss": self._email,
            "scope": SCOPE,
            "aud": self._token_uri,
            "iat": now,
            "exp": now + _JWT_LIFETIME,
        }
        signing_input = _b64(orjson.dumps(header)) + b"." + _b64(orjson.dumps(claims))
        return (signing_input + b"." + _b64(self._sign(signing_input))).decode("ascii")

    def _sign(self, message: bytes) -> bytes:
        try:  # imported here: only service-account deployments need it, and it is not light
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import padding
        except ImportError:
            raise AuthenticationError(
                "signing Vertex AI service account tokens needs the 'cryptography' package "
                "(pip install cryptography)"
            ) from None
        if self._key is None:
            try:
                self._key = serialization.load_pem_private_key(self._pem.encode(), password=None)
            except (ValueError, TypeError) as exc:
                raise AuthenticationError(f"the service account private_key cannot be read: {exc}") from None
        return self._key.sign(message, padding.PKCS1v15(), hashes.SHA256())


class UserTokens(TokenSource):
    """gcloud's `application-default login` credentials: a refresh token for an OAuth client."""

    def __init__(self, info: Mapping[str, Any]) -> None:
        try:
            self._form = {
                "grant_type": "refresh_token",
                "client_id": str(info["client_id"]),
                "client_secret": str(info["client_secret"]),
                "refresh_token": str(info["refresh_token"]),
            }
        except KeyError as exc:
            raise AuthenticationError(f"the user credentials in vertex_credentials lack {exc}") from None
        self._token_uri = str(info.get("token_uri") or TOKEN_URI)
        self._project = info.get("quota_project_id")

    async def fetch(self, client: httpx.AsyncClient) -> AccessToken:
        return await _exchange(client, self._token_uri, self._form)

    async def project(self, client: httpx.AsyncClient) -> str | None:
        return str(self._project) if self._project else None


class MetadataServerTokens(TokenSource):
    """The default service account of the Google Cloud machine (GCE, GKE, Cloud Run) the gateway is on."""

    _HEADERS = {"Metadata-Flavor": "Google"}

    async def fetch(self, client: httpx.AsyncClient) -> AccessToken:
        body = await self._get(client, "/instance/service-accounts/default/token")
        return _token_of(body, "the metadata server")

    async def project(self, client: httpx.AsyncClient) -> str | None:
        return (await self._get(client, "/project/project-id")).decode().strip() or None

    async def _get(self, client: httpx.AsyncClient, path: str) -> bytes:
        request = httpx.Request(
            "GET", METADATA + path, headers=self._HEADERS, extensions={"timeout": _TIMEOUTS}
        )
        try:
            with transport_errors():
                response = await client.send(request)
        except SwitchyardError as exc:
            raise AuthenticationError(
                "no Vertex AI credentials: set vertex_credentials (or GOOGLE_APPLICATION_CREDENTIALS) to a "
                f"service account key, or run on Google Cloud (the metadata server is unreachable: {exc})"
            ) from exc
        if not response.is_success:
            raise _refused(response.status_code, response.content, "the metadata server")
        return response.content


async def _exchange(client: httpx.AsyncClient, uri: str, form: Mapping[str, str]) -> AccessToken:
    request = httpx.Request(
        "POST",
        uri,
        content=urllib.parse.urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        extensions={"timeout": _TIMEOUTS},
    )
    with transport_errors():
        response = await client.send(request)
    if not response.is_success:
        raise _refused(response.status_code, response.content, "Google's token endpoint")
    return _token_of(response.content, "Google's token endpoint")


def _token_of(body: bytes, where: str) -> AccessToken:
    try:
        payload = orjson.loads(body)
        return AccessToken(str(payload["access_token"]), float(payload.get("expires_in", 3600)))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise ServiceUnavailableError(f"{where} answered without an access token") from None


def _refused(status: int, body: bytes, where: str) -> SwitchyardError:
    """OAuth's error body: {"error": "invalid_grant", "error_description": "..."}."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = {}
    detail = ""
    if isinstance(payload, dict):
        detail = " ".join(str(payload[key]) for key in ("error", "error_description") if payload.get(key))
    message = f"{where} refused the Vertex AI credentials (HTTP {status})" + (f": {detail}" if detail else "")
    if status >= 500:
        return ServiceUnavailableError(message)
    return AuthenticationError(message)


def _credentials_info(credentials: object) -> Mapping[str, Any]:
    if isinstance(credentials, Mapping):
        return credentials
    text = str(credentials).strip()
    if not text.startswith("{"):
        try:
            text = Path(text).expanduser().read_text()
        except OSError as exc:
            raise AuthenticationError(f"vertex_credentials file cannot be read: {exc}") from None
    try:
        info = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AuthenticationError(f"vertex_credentials is not valid JSON: {exc}") from None
    if not isinstance(info, dict):
        raise AuthenticationError("vertex_credentials must be a JSON object")
    return info


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")

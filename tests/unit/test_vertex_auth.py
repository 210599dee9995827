"""Vertex AI access tokens: where they come from, how long they are kept, and one refresh at a time."""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.parse
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import orjson
import pytest

from adapters.llm.gemini.auth import (
    AccessToken,
    CachedTokens,
    MetadataServerTokens,
    ServiceAccountTokens,
    TokenSource,
    UserTokens,
    token_source,
)
from domain.errors import AuthenticationError, ServiceUnavailableError

TOKEN = {"access_token": "ya29.fresh", "expires_in": 3599, "token_type": "Bearer"}


class CountingSource(TokenSource):
    """Hands out token-1, token-2, ... once let through; remembers how often it was asked."""

    def __init__(self, *, expires_in: float = 3600.0, fail: Exception | None = None) -> None:
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.expires_in = expires_in
        self.fail = fail

    async def fetch(self, client: httpx.AsyncClient) -> AccessToken:
        self.calls += 1
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return AccessToken(f"token-{self.calls}", self.expires_in)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(500))) as client:
        yield client


def _answering(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_concurrent_callers_share_one_refresh(client: httpx.AsyncClient) -> None:
    source = CountingSource()
    source.gate.clear()
    tokens = CachedTokens(source)

    waiting = [asyncio.create_task(tokens.token(client)) for _ in range(10)]
    await asyncio.sleep(0)
    source.gate.set()

    assert await asyncio.gather(*waiting) == ["token-1"] * 10
    assert source.calls == 1


async def test_a_token_is_reused_until_shortly_before_it_expires(client: httpx.AsyncClient) -> None:
    clock = Clock()
    source = CountingSource(expires_in=3600)
    tokens = CachedTokens(source, clock)

    first = await tokens.token(client)
    clock.now += 3000
    still = await tokens.token(client)
    clock.now += 400  # within five minutes of expiry
    renewed = await tokens.token(client)

    assert (first, still, renewed) == ("token-1", "token-1", "token-2")


async def test_a_failed_refresh_fails_its_waiters_and_the_next_call_tries_again(
    client: httpx.AsyncClient,
) -> None:
    source = CountingSource(fail=AuthenticationError("refused"))
    tokens = CachedTokens(source)

    with pytest.raises(AuthenticationError):
        await tokens.token(client)
    source.fail = None

    assert await tokens.token(client) == "token-2"


async def test_a_cancelled_caller_leaves_the_refresh_running_for_the_others(
    client: httpx.AsyncClient,
) -> None:
    source = CountingSource()
    source.gate.clear()
    tokens = CachedTokens(source)
    impatient = asyncio.create_task(tokens.token(client))
    patient = asyncio.create_task(tokens.token(client))
    await asyncio.sleep(0)

    impatient.cancel()
    source.gate.set()

    assert await patient == "token-1"
    assert source.calls == 1


async def test_a_forgotten_token_is_fetched_anew(client: httpx.AsyncClient) -> None:
    source = CountingSource()
    tokens = CachedTokens(source)
    await tokens.token(client)

    tokens.forget()

    assert await tokens.token(client) == "token-2"


async def test_a_service_account_exchanges_a_signed_jwt_for_a_token() -> None:
    rsa = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.rsa")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "sa-project",
        "private_key_id": "kid-1",
        "private_key": pem,
        "client_email": "gateway@sa-project.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=TOKEN)

    async with _answering(answer) as client:
        source = token_source(json.dumps(info))
        token = await source.fetch(client)
        project = await source.project(client)

    assert (token.value, token.expires_in, project) == ("ya29.fresh", 3599.0, "sa-project")
    (request,) = sent
    assert str(request.url) == "https://oauth2.googleapis.com/token"
    form = dict(urllib.parse.parse_qsl(request.content.decode()))
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    header, claims, signature = form["assertion"].split(".")
    assert _unpadded(header) == {"alg": "RS256", "typ": "JWT", "kid": "kid-1"}
    body = _unpadded(claims)
    assert body["iss"] == info["client_email"] and body["aud"] == info["token_uri"]
    assert body["scope"] == "https://www.googleapis.com/auth/cloud-platform"
    assert body["exp"] - body["iat"] == 3600
    key.public_key().verify(
        _b64(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )


async def test_user_credentials_exchange_their_refresh_token(tmp_path: Path) -> None:
    path = tmp_path / "adc.json"
    path.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "cid",
                "client_secret": "secret",
                "refresh_token": "1//refresh",
            }
        )
    )
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=TOKEN)

    async with _answering(answer) as client:
        source = token_source(str(path))
        token = await source.fetch(client)

    assert isinstance(source, UserTokens) and token.value == "ya29.fresh"
    assert dict(urllib.parse.parse_qsl(sent[0].content.decode())) == {
        "grant_type": "refresh_token",
        "client_id": "cid",
        "client_secret": "secret",
        "refresh_token": "1//refresh",
    }


async def test_a_refused_grant_is_an_authentication_error_with_googles_reason() -> None:
    refusal = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    async with _answering(lambda _: httpx.Response(400, json=refusal)) as client:
        source = token_source(
            {"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"}
        )

        with pytest.raises(AuthenticationError, match="invalid_grant Token has been expired or revoked"):
            await source.fetch(client)


async def test_a_failing_token_endpoint_is_a_service_unavailable() -> None:
    async with _answering(lambda _: httpx.Response(503, text="unavailable")) as client:
        source = token_source(
            {"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"}
        )

        with pytest.raises(ServiceUnavailableError):
            await source.fetch(client)


async def test_without_credentials_the_metadata_server_is_asked() -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.path.endswith("/project/project-id"):
            return httpx.Response(200, text="gce-project")
        return httpx.Response(200, json=TOKEN)

    async with _answering(answer) as client:
        source = token_source(None)
        token = await source.fetch(client)
        project = await source.project(client)

    assert isinstance(source, MetadataServerTokens)
    assert (token.value, project) == ("ya29.fresh", "gce-project")
    assert str(sent[0].url) == (
        "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"
    )
    assert all(request.headers["metadata-flavor"] == "Google" for request in sent)


async def test_off_google_cloud_without_credentials_the_error_says_what_to_set() -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Name or service not known")

    async with _answering(unreachable) as client:
        with pytest.raises(AuthenticationError, match="set vertex_credentials"):
            await token_source(None).fetch(client)


@pytest.mark.parametrize(
    ("credentials", "message"),
    [
        ("/nonexistent/key.json", "cannot be read"),
        ("{not json", "not valid JSON"),
        ({"type": "external_account"}, "not supported"),
        ({"type": "service_account", "client_email": "x"}, "lacks 'private_key'"),
    ],
)
def test_unusable_credentials_are_refused_with_the_reason(credentials: object, message: str) -> None:
    with pytest.raises(AuthenticationError, match=message):
        token_source(credentials)


def test_a_service_account_key_that_is_not_a_key_is_refused_when_signing() -> None:
    pytest.importorskip("cryptography")
    source = ServiceAccountTokens({"client_email": "x@y", "private_key": "-----BEGIN PRIVATE KEY-----\nno\n"})

    with pytest.raises(AuthenticationError, match="private_key cannot be read"):
        source.assertion(0)


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _unpadded(text: str) -> dict[str, object]:
    return orjson.loads(_b64(text))

"""JWT verification: which tokens get in, which keys verify them, and how the JWKS is fetched and kept."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import pytest

from adapters.auth.jwt_verifier import JwtVerifier
from domain.errors import AuthenticationError, ConfigurationError
from tests.jwks import (
    AUDIENCE,
    ISSUER,
    SECRET,
    JwksEndpoint,
    claims,
    ec_key,
    forge_hs_with_public_key,
    hs_token,
    jwks,
    rsa_key,
    unsigned_token,
)

URL = "https://idp.example.test/.well-known/jwks.json"
RSA = rsa_key("rsa-1")
RSA_NEXT = rsa_key("rsa-2")
EC = ec_key("ec-1")
STRANGER = rsa_key("rsa-1")
"""Another private key that claims RSA's key id."""


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def endpoint() -> JwksEndpoint:
    return JwksEndpoint(jwks(RSA, EC))


@pytest.fixture
async def client(endpoint: JwksEndpoint) -> AsyncIterator[httpx.AsyncClient]:
    async with endpoint.client() as client:
        yield client


@pytest.fixture
def make(client: httpx.AsyncClient, clock: FakeClock) -> Callable[..., JwtVerifier]:
    def build(**options: Any) -> JwtVerifier:
        settings: dict[str, Any] = {
            "client": client,
            "jwks_url": URL,
            "audience": AUDIENCE,
            "issuer": ISSUER,
            "clock": clock,
        }
        settings.update(options)
        return JwtVerifier(**settings)

    return build


@pytest.fixture
def verifier(make: Callable[..., JwtVerifier]) -> JwtVerifier:
    return make()


async def rejection(verifier: JwtVerifier, token: str) -> AuthenticationError:
    with pytest.raises(AuthenticationError) as caught:
        await verifier.verify(token)
    return caught.value


# Tokens that get in


async def test_an_rs256_token_from_the_jwks_verifies_and_yields_its_claims(verifier: JwtVerifier) -> None:
    verified = await verifier.verify(RSA.sign(claims(team="ml", roles=["user"])))

    assert verified["sub"] == "alice"
    assert verified["team"] == "ml"
    assert verified["roles"] == ["user"]


async def test_an_es256_token_from_the_jwks_verifies(verifier: JwtVerifier) -> None:
    assert (await verifier.verify(EC.sign(claims(sub="bob"))))["sub"] == "bob"


async def test_a_jwk_without_alg_verifies_every_rsa_algorithm_that_is_accepted(
    endpoint: JwksEndpoint, verifier: JwtVerifier
) -> None:
    endpoint.document = jwks(RSA.jwk(alg=None))

    assert (await verifier.verify(RSA.sign(claims(), alg="PS256")))["sub"] == "alice"
    assert (await verifier.verify(RSA.sign(claims(), alg="RS384")))["sub"] == "alice"


async def test_a_token_without_kid_uses_the_only_key_of_the_jwks(
    endpoint: JwksEndpoint, verifier: JwtVerifier
) -> None:
    endpoint.document = jwks(RSA)

    assert (await verifier.verify(RSA.sign(claims(), kid=None)))["sub"] == "alice"


async def test_a_token_without_kid_is_rejected_when_the_jwks_holds_several_keys(
    verifier: JwtVerifier,
) -> None:
    assert (await rejection(verifier, RSA.sign(claims(), kid=None))).code == "unknown_key_id"


async def test_a_shared_secret_verifies_hs256_tokens() -> None:
    verifier = JwtVerifier(shared_secret=SECRET, audience=AUDIENCE, issuer=ISSUER)

    assert (await verifier.verify(hs_token(claims())))["sub"] == "alice"
    assert (await verifier.verify(hs_token(claims(), alg="HS512")))["sub"] == "alice"
    wrong = await rejection(verifier, hs_token(claims(), "another-secret-that-is-long-enough!!"))
    assert wrong.code == "invalid_signature"


async def test_a_pem_public_key_verifies_tokens_without_a_jwks() -> None:
    verifier = JwtVerifier(public_key=EC.public_pem(), audience=AUDIENCE, issuer=ISSUER)

    assert (await verifier.verify(EC.sign(claims(), kid=None)))["sub"] == "alice"
    assert (await rejection(verifier, RSA.sign(claims(), kid=None))).code == "unsupported_algorithm"


async def test_a_token_expired_within_the_leeway_still_verifies(verifier: JwtVerifier) -> None:
    assert (await verifier.verify(RSA.sign(claims(lifetime=-10))))["sub"] == "alice"


async def test_without_a_configured_audience_the_tokens_audience_is_not_checked(
    make: Callable[..., JwtVerifier],
) -> None:
    verifier = make(audience=None)

    assert (await verifier.verify(RSA.sign(claims(aud="some-other-service"))))["sub"] == "alice"


async def test_any_of_several_configured_audiences_is_accepted(make: Callable[..., JwtVerifier]) -> None:
    verifier = make(audience=["gateway", AUDIENCE])

    assert (await verifier.verify(RSA.sign(claims())))["sub"] == "alice"


# Tokens that are turned away


async def test_an_expired_token_is_rejected(verifier: JwtVerifier) -> None:
    error = await rejection(verifier, RSA.sign(claims(lifetime=-120)))

    assert error.code == "token_expired"
    assert "expired" in error.message
    assert isinstance(error.__cause__, jwt.ExpiredSignatureError)


async def test_a_token_not_valid_yet_is_rejected(verifier: JwtVerifier) -> None:
    token = RSA.sign(claims(nbf=claims()["iat"] + 600, lifetime=900))

    assert (await rejection(verifier, token)).code == "token_not_yet_valid"


async def test_a_token_without_exp_is_rejected(verifier: JwtVerifier) -> None:
    error = await rejection(verifier, RSA.sign(claims(exp=None)))

    assert error.code == "invalid_token"
    assert "exp" in error.message


async def test_a_token_for_another_audience_is_rejected(verifier: JwtVerifier) -> None:
    assert (await rejection(verifier, RSA.sign(claims(aud="billing")))).code == "invalid_audience"
    assert (await rejection(verifier, RSA.sign(claims(aud=None)))).code == "invalid_audience"


async def test_a_token_from_another_issuer_is_rejected(verifier: JwtVerifier) -> None:
    assert (await rejection(verifier, RSA.sign(claims(iss="https://evil.test")))).code == "invalid_issuer"


async def test_a_token_signed_by_another_key_under_a_known_kid_is_rejected(verifier: JwtVerifier) -> None:
    error = await rejection(verifier, STRANGER.sign(claims()))

    assert error.code == "invalid_signature"
    assert isinstance(error.__cause__, jwt.InvalidSignatureError)


async def test_a_token_whose_payload_was_tampered_with_is_rejected(verifier: JwtVerifier) -> None:
    header, _, signature = RSA.sign(claims()).split(".")
    forged = _b64(json.dumps(claims(sub="admin")).encode())

    assert (await rejection(verifier, f"{header}.{forged}.{signature}")).code == "invalid_signature"


async def test_a_token_with_alg_none_is_rejected(verifier: JwtVerifier) -> None:
    assert (await rejection(verifier, unsigned_token(claims(), kid="rsa-1"))).code == "unsupported_algorithm"


async def test_an_hs256_token_signed_with_the_rsa_public_key_is_rejected(verifier: JwtVerifier) -> None:
    assert (
        await rejection(verifier, forge_hs_with_public_key(RSA, claims()))
    ).code == "unsupported_algorithm"


async def test_an_hs256_token_signed_with_the_rsa_public_key_is_rejected_even_with_a_shared_secret(
    make: Callable[..., JwtVerifier],
) -> None:
    verifier = make(shared_secret=SECRET, public_key=RSA.public_pem())

    assert (await rejection(verifier, forge_hs_with_public_key(RSA, claims()))).code == "invalid_signature"


async def test_a_token_naming_another_algorithm_than_its_key_declares_is_rejected(
    verifier: JwtVerifier,
) -> None:
    error = await rejection(verifier, RSA.sign(claims(), alg="RS384"))

    assert error.code == "unsupported_algorithm"
    assert "rsa-1" in error.message


async def test_a_token_with_an_algorithm_outside_the_accepted_list_is_rejected(
    make: Callable[..., JwtVerifier],
) -> None:
    verifier = make(algorithms=["ES256"])

    assert (await rejection(verifier, RSA.sign(claims()))).code == "unsupported_algorithm"
    assert (await verifier.verify(EC.sign(claims())))["sub"] == "alice"


@pytest.mark.parametrize(
    "token",
    ["garbage", "only.two", "", "a.b.c", "e30.e30.", "!!!.???.###", RSA.sign(claims())[:-20] + "x.y"],
    ids=["garbage", "two segments", "empty", "not base64 json", "empty objects", "symbols", "four segments"],
)
async def test_a_malformed_token_is_rejected(verifier: JwtVerifier, token: str) -> None:
    assert (await rejection(verifier, token)).code == "invalid_token"


async def test_a_token_whose_kid_is_not_a_string_is_rejected(verifier: JwtVerifier) -> None:
    _, payload, signature = RSA.sign(claims()).split(".")
    token = f"{_b64(json.dumps({'alg': 'RS256', 'kid': 7}).encode())}.{payload}.{signature}"

    assert (await rejection(verifier, token)).code == "invalid_token"


async def test_a_signed_token_whose_payload_is_not_an_object_is_rejected(verifier: JwtVerifier) -> None:
    token = jwt.api_jws.encode(b"[1, 2]", RSA.private, algorithm="RS256", headers={"kid": RSA.kid})

    assert (await rejection(verifier, token)).code == "invalid_token"


# The JWKS: caching, rotation, outages


async def test_the_jwks_is_fetched_once_and_reused_while_fresh(
    endpoint: JwksEndpoint, verifier: JwtVerifier, clock: FakeClock
) -> None:
    for _ in range(5):
        await verifier.verify(RSA.sign(claims()))
        await verifier.verify(EC.sign(claims()))
        clock.now += 30

    assert endpoint.hits == 1


async def test_the_jwks_is_fetched_again_once_its_ttl_has_passed(
    endpoint: JwksEndpoint, verifier: JwtVerifier, clock: FakeClock
) -> None:
    await verifier.verify(RSA.sign(claims()))
    clock.now += 301
    await verifier.verify(RSA.sign(claims()))
    await verifier.verify(RSA.sign(claims()))

    assert endpoint.hits == 2


async def test_a_new_kid_fetches_the_jwks_again_and_verifies(
    endpoint: JwksEndpoint, verifier: JwtVerifier, clock: FakeClock
) -> None:
    await verifier.verify(RSA.sign(claims()))
    endpoint.document = jwks(RSA_NEXT)
    clock.now += 11

    assert (await verifier.verify(RSA_NEXT.sign(claims(sub="carol"))))["sub"] == "carol"
    assert endpoint.hits == 2


async def test_a_token_verified_before_is_no_longer_trusted_once_its_key_is_rotated_out(
    endpoint: JwksEndpoint, verifier: JwtVerifier, clock: FakeClock
) -> None:
    token = RSA.sign(claims())
    await verifier.verify(token)
    endpoint.document = jwks(RSA_NEXT)
    clock.now += 301

    assert (await rejection(verifier, token)).code == "unknown_key_id"


async def test_a_token_verified_before_is_rejected_once_it_expires(
    make: Callable[..., JwtVerifier], clock: FakeClock
) -> None:
    verifier = make(leeway=0)
    expires = int(time.time()) + 1
    token = RSA.sign(claims(exp=expires))
    await verifier.verify(token)
    started = time.monotonic()
    while time.time() <= expires + 0.05:
        await asyncio.sleep(0.05)
    clock.now += time.monotonic() - started

    assert (await rejection(verifier, token)).code == "token_expired"


async def test_a_kid_still_unknown_after_the_refetch_is_rejected(
    endpoint: JwksEndpoint, verifier: JwtVerifier, clock: FakeClock
) -> None:
    await verifier.verify(RSA.sign(claims()))
    clock.now += 11

    error = await rejection(verifier, RSA_NEXT.sign(claims()))

    assert error.code == "unknown_key_id"
    assert "rsa-2" in error.message
    assert endpoint.hits == 2


async def test_unknown_kids_refetch_the_jwks_at_most_once_per_interval(
    endpoint: JwksEndpoint, verifier: JwtVerifier, clock: FakeClock
) -> None:
    await verifier.verify(RSA.sign(claims()))
    clock.now += 11
    for kid in ("x-1", "x-2", "x-3"):
        await rejection(verifier, RSA.sign(claims(), kid=kid))
        clock.now += 1
    assert endpoint.hits == 2

    clock.now += 10
    await rejection(verifier, RSA.sign(claims(), kid="x-4"))
    assert endpoint.hits == 3


async def test_concurrent_verifies_with_a_cold_cache_fetch_the_jwks_once(
    endpoint: JwksEndpoint, verifier: JwtVerifier
) -> None:
    endpoint.gate.clear()
    tokens = [RSA.sign(claims(sub=f"user-{n}")) for n in range(10)] + [EC.sign(claims()) for _ in range(10)]
    verifies = asyncio.gather(*(verifier.verify(token) for token in tokens))
    await asyncio.sleep(0.01)
    endpoint.gate.set()

    verified = await verifies

    assert [claim["sub"] for claim in verified[:3]] == ["user-0", "user-1", "user-2"]
    assert endpoint.hits == 1


async def test_a_caller_cancelled_while_waiting_leaves_the_fetch_to_the_others(
    endpoint: JwksEndpoint, verifier: JwtVerifier
) -> None:
    endpoint.gate.clear()
    impatient = asyncio.ensure_future(verifier.verify(RSA.sign(claims())))
    patient = asyncio.ensure_future(verifier.verify(RSA.sign(claims(sub="dave"))))
    await asyncio.sleep(0.01)
    impatient.cancel()
    endpoint.gate.set()

    assert (await patient)["sub"] == "dave"
    assert endpoint.hits == 1


async def test_a_jwks_endpoint_that_is_down_rejects_the_caller(
    endpoint: JwksEndpoint, verifier: JwtVerifier
) -> None:
    endpoint.status = 503

    error = await rejection(verifier, RSA.sign(claims()))

    assert error.code == "jwks_unavailable"
    assert "503" in error.message


async def test_an_unreachable_jwks_endpoint_rejects_the_caller_with_the_cause_chained(
    clock: FakeClock,
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        verifier = JwtVerifier(client=client, jwks_url=URL, clock=clock)
        error = await rejection(verifier, RSA.sign(claims()))

    assert error.code == "jwks_unavailable"
    assert isinstance(error.__cause__, httpx.ConnectError)


async def test_after_a_failed_fetch_the_endpoint_is_tried_again_only_after_the_interval(
    endpoint: JwksEndpoint, verifier: JwtVerifier, clock: FakeClock
) -> None:
    endpoint.status = 500
    await rejection(verifier, RSA.sign(claims()))
    endpoint.status = 200
    clock.now += 5
    assert (await rejection(verifier, RSA.sign(claims()))).code == "jwks_unavailable"
    assert endpoint.hits == 1

    clock.now += 6
    assert (await verifier.verify(RSA.sign(claims())))["sub"] == "alice"
    assert endpoint.hits == 2


async def test_keys_fetched_before_keep_working_while_a_refresh_fails(
    endpoint: JwksEndpoint, verifier: JwtVerifier, clock: FakeClock
) -> None:
    token = RSA.sign(claims())
    await verifier.verify(token)
    endpoint.status = 503
    clock.now += 301

    assert (await verifier.verify(token))["sub"] == "alice"
    assert (await verifier.verify(EC.sign(claims())))["sub"] == "alice"
    assert endpoint.hits == 2


async def test_a_new_kid_after_a_failed_refresh_is_rejected_as_unavailable(
    endpoint: JwksEndpoint, verifier: JwtVerifier, clock: FakeClock
) -> None:
    await verifier.verify(RSA.sign(claims()))
    endpoint.status = 503
    clock.now += 301
    await verifier.verify(RSA.sign(claims()))

    assert (await rejection(verifier, RSA_NEXT.sign(claims()))).code == "jwks_unavailable"
    assert endpoint.hits == 2


async def test_a_closed_http_client_rejects_the_caller_as_unavailable(clock: FakeClock) -> None:
    client = JwksEndpoint(jwks(RSA)).client()
    await client.aclose()
    verifier = JwtVerifier(client=client, jwks_url=URL, clock=clock)

    assert (await rejection(verifier, RSA.sign(claims()))).code == "jwks_unavailable"


async def test_a_new_kid_while_the_jwks_is_down_is_rejected_as_unavailable(
    endpoint: JwksEndpoint, verifier: JwtVerifier, clock: FakeClock
) -> None:
    await verifier.verify(RSA.sign(claims()))
    endpoint.status = 503
    clock.now += 11

    assert (await rejection(verifier, RSA_NEXT.sign(claims()))).code == "jwks_unavailable"
    assert (await verifier.verify(RSA.sign(claims())))["sub"] == "alice"


@pytest.mark.parametrize(
    "document",
    [{"keys": []}, {"no": "keys"}, [1, 2], {"keys": [{"kty": "RSA", "kid": "rsa-1", "n": "AQAB"}]}],
    ids=["empty", "no keys list", "not an object", "only a broken key"],
)
async def test_a_jwks_without_usable_keys_counts_as_unavailable(
    endpoint: JwksEndpoint, verifier: JwtVerifier, document: Any
) -> None:
    endpoint.document = document

    assert (await rejection(verifier, RSA.sign(claims()))).code == "jwks_unavailable"


async def test_unusable_and_non_signing_jwks_entries_are_skipped(
    endpoint: JwksEndpoint, verifier: JwtVerifier
) -> None:
    endpoint.document = jwks(
        {"kty": "RSA", "kid": "broken", "n": "AQAB"},
        {"kty": "XYZ", "kid": "strange"},
        {"kty": "oct", "kid": "secret", "k": _b64(SECRET.encode())},
        "not a key",  # type: ignore[arg-type]
        RSA_NEXT.jwk(use="enc"),
        RSA,
    )

    assert (await verifier.verify(RSA.sign(claims())))["sub"] == "alice"
    assert (await rejection(verifier, RSA_NEXT.sign(claims()))).code == "unknown_key_id"


# Configuration


def test_a_verifier_needs_some_key_to_trust() -> None:
    with pytest.raises(ConfigurationError):
        JwtVerifier()


def test_a_jwks_url_without_a_client_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="jwks_url"):
        JwtVerifier(jwks_url=URL)


@pytest.mark.parametrize("algorithms", [["none"], ["RS256", "none"], ["HS256"], ["XY999"], []])
def test_unsafe_or_unknown_algorithms_are_configuration_errors(algorithms: list[str]) -> None:
    with pytest.raises(ConfigurationError, match="algorithms"):
        JwtVerifier(public_key=RSA.public_pem(), algorithms=algorithms)


def test_a_public_key_that_is_not_pem_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="public_key"):
        JwtVerifier(public_key="-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

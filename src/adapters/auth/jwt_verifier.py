"""`TokenVerifier` with PyJWT: keys from a JWKS URL (cached, rotated), a shared secret or a PEM public key.

How a token finds its key: an HS* token is checked against the shared secret only; any other token
against the JWKS key its `kid` names, or the PEM public key (for a token without `kid`, or one whose
`kid` the JWKS does not hold). Every key is bound to the algorithms it may verify, so a token cannot pick
an algorithm its key was not meant for (no `none`, no HS256 signed with an RSA public key).

The JWKS is fetched when first needed, again when older than `jwks_ttl`, and again when a token names a
key id it does not hold (at most once per `min_refresh_interval`, which also spaces out retries after a
failed fetch). Concurrent callers share one fetch. A failed refresh keeps the keys fetched before.
A token verified once is remembered until it expires or the JWKS that verified it is refreshed, so the
signature of a client's token is checked about once per `jwks_ttl`, not on every request.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import httpx
import jwt
import structlog
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt.algorithms import get_default_algorithms

from domain.errors import AuthenticationError, ConfigurationError
from ports.token_verifier import TokenVerifier

DEFAULT_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256")
"""Accepted when the configuration names none; HS256/384/512 join them when a shared secret is set."""
HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
_RSA = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
_EC_BY_CURVE = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512", "secp256k1": "ES256K"}
_EC_BY_CURVE_NAME = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512", "secp256k1": "ES256K"}

VERIFIED_CACHE_SIZE = 10_000
"""Verified tokens remembered (the oldest is forgotten first)."""

_log = structlog.get_logger("switchyard.auth")
Keys = Mapping[str, Any]
"""What verifies a token, by algorithm: one key trusted for each algorithm it may be used with."""


class JwtVerifier(TokenVerifier):
    """Verifies JWTs against whichever of a JWKS URL, a shared secret and a PEM public key is configured.

    `client` fetches the JWKS (the verifier never builds one); `clock` is monotonic seconds and times the
    caches only (`exp` / `nbf` are checked against the wall clock). `config_path` prefixes the
    path named by configuration errors.
    """

    def __init__(
        self,
        *,
        client: httpx.AsyncClient | None = None,
        jwks_url: str | None = None,
        shared_secret: str | None = None,
        public_key: str | None = None,
        algorithms: Sequence[str] | None = None,
        audience: str | Sequence[str] | None = None,
        issuer: str | None = None,
        leeway: float = 30,
        jwks_ttl: float = 300,
        min_refresh_interval: float = 10,
        clock: Callable[[], float] = time.monotonic,
        config_path: str = "general_settings.litellm_jwtauth",
    ) -> None:
        if not (jwks_url or shared_secret or public_key):
            raise ConfigurationError(
                config_path, "JWT auth needs a JWKS URL, a shared secret or a public key"
            )
        if jwks_url and client is None:
            raise ConfigurationError(f"{config_path}.jwks_url", "a JWKS URL needs an HTTP client to fetch it")
        self._algorithms = _allowed(algorithms, bool(shared_secret), f"{config_path}.algorithms")
        self._secret: Keys = (
            {alg: shared_secret.encode() for alg in HMAC_ALGORITHMS if alg in self._algorithms}
            if shared_secret
            else {}
        )
        self._pem: Keys = (
            _pem_keys(public_key, self._algorithms, f"{config_path}.public_key") if public_key else {}
        )
        self._client = client
        self._jwks_url = jwks_url or None
        self._audience = audience if audience is None or isinstance(audience, str) else list(audience)
        self._issuer = issuer
        self._leeway = leeway
        self._options: dict[str, Any] = {"require": ["exp"], "verify_aud": audience is not None}
        self._ttl = jwks_ttl
        self._min_interval = min_refresh_interval
        self._clock = clock
        self._jwks: dict[str | None, Keys] = {}
        self._loaded = False
        self._fetched_at = 0.0
        self._attempted_at: float | None = None
        self._last_failure: AuthenticationError | None = None
        self._inflight: asyncio.Future[None] | None = None
        self._verified: dict[str, tuple[Mapping[str, Any], float, bool]] = {}

    async def verify(self, token: str) -> Mapping[str, Any]:
        # Clients send the same token on every request: one verified before is trusted until it expires,
        # unless it was checked against a JWKS that is now due for a refresh (its key may be rotated out).
        hit = self._verified.get(token)
        if hit is not None:
            claims, until, from_jwks = hit
            now = self._clock()
            if now < until and not (from_jwks and now - self._fetched_at >= self._ttl):
                return claims
            del self._verified[token]
        header = _header(token)
        alg = header.get("alg")
        if not isinstance(alg, str):
            raise AuthenticationError("the token's header names no algorithm", code="invalid_token")
        if alg not in self._algorithms:
            raise AuthenticationError(
                f"tokens signed with alg {alg!r} are not accepted", code="unsupported_algorithm"
            )
        kid = header.get("kid")
        if not isinstance(kid, str | None):
            raise AuthenticationError("the token's key id (kid) is not a string", code="invalid_token")
        keys = self._secret if alg in HMAC_ALGORITHMS else await self._asymmetric_keys(kid)
        key = keys.get(alg)
        if key is None:
            named = f"the key {kid!r}" if kid is not None else "the configured key"
            raise AuthenticationError(f"{named} does not verify {alg} tokens", code="unsupported_algorithm")
        try:
            payload = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options=self._options,  # type: ignore[arg-type]
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise _rejection(exc) from exc
        claims = MappingProxyType(payload)
        self._remember(token, claims, from_jwks=keys is not self._secret and keys is not self._pem)
        return claims

    def _remember(self, token: str, claims: Mapping[str, Any], *, from_jwks: bool) -> None:
        # `exp` is wall-clock time; the cache runs on the monotonic clock.
        until = self._clock() + int(claims["exp"]) + self._leeway - time.time()
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (claims, until, from_jwks)

    async def _asymmetric_keys(self, kid: str | None) -> Keys:
        if self._jwks_url is None or (kid is None and self._pem):
            if not self._pem:
                raise AuthenticationError(
                    "no public key is configured to verify signed tokens", code="unknown_key_id"
                )
            return self._pem
        try:
            return await self._jwks_keys(kid)
        except AuthenticationError:
            if self._pem:  # the PEM key is trusted too: a token the JWKS cannot place may be signed with it
                return self._pem
            raise

    async def _jwks_keys(self, kid: str | None) -> Keys:
        if not self._loaded or self._clock() - self._fetched_at >= self._ttl:
            await self._refresh(required=not self._loaded)
        keys = self._lookup(kid)
        # A key id we do not know may be a key the provider has just rotated in.
        if keys is None and (self._inflight is not None or self._may_fetch()):
            await self._refresh(required=True)
            keys = self._lookup(kid)
        if keys is not None:
            return keys
        if self._last_failure is not None:  # the key may well be in the JWKS we could not fetch
            raise _unavailable_still(self._last_failure)
        if kid is None:
            raise AuthenticationError(
                "the token names no key id (kid) and the JWKS holds several keys", code="unknown_key_id"
            )
        raise AuthenticationError(f"the token's key id {kid!r} is not in the JWKS", code="unknown_key_id")

    def _lookup(self, kid: str | None) -> Keys | None:
        keys = self._jwks.get(kid)
        if keys is None and kid is None and len(self._jwks) == 1:
            keys = next(iter(self._jwks.values()))
        return keys

    def _may_fetch(self) -> bool:
        return self._attempted_at is None or self._clock() - self._attempted_at >= self._min_interval

    async def _refresh(self, *, required: bool) -> None:
        """Fetches the JWKS, or joins the fetch under way; a failure raises only when `required`."""
        if self._inflight is None:
            if not self._may_fetch():
                if required and self._last_failure is not None:
                    raise _unavailable_still(self._last_failure)
                return
            self._inflight = asyncio.ensure_future(self._fetch())
            # Every waiter may be cancelled; the outcome must still count as retrieved.
            self._inflight.add_done_callback(lambda done: done.cancelled() or done.exception())
        try:
            # A waiter that is cancelled leaves the fetch running for the others.
            await asyncio.shield(self._inflight)
        except AuthenticationError:
            if required:
                raise

    async def _fetch(self) -> None:
        assert self._client is not None and self._jwks_url is not None
        self._attempted_at = self._clock()
        try:
            self._jwks = await self._download(self._client, self._jwks_url)
            self._verified.clear()  # tokens verified with keys now rotated out must not stay trusted
            self._loaded = True
            self._fetched_at = self._clock()
            self._last_failure = None
        except AuthenticationError as exc:
            self._last_failure = exc
            _log.warning(
                "jwks_refresh_failed", url=self._jwks_url, reason=exc.message, kept_keys=len(self._jwks)
            )
            raise
        finally:
            self._inflight = None

    async def _download(self, client: httpx.AsyncClient, url: str) -> dict[str | None, Keys]:
        try:
            response = await client.get(url, headers={"accept": "application/json"})
            response.raise_for_status()
            document = response.json()
        except httpx.HTTPStatusError as exc:
            raise _unavailable(f"answered HTTP {exc.response.status_code}") from exc
        except (httpx.HTTPError, OSError, RuntimeError) as exc:  # RuntimeError: the client was closed
            raise _unavailable(f"could not be reached ({type(exc).__name__})") from exc
        except ValueError as exc:
            raise _unavailable("answered something that is not JSON") from exc
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise _unavailable("answered JSON without a `keys` list")
        keys = _load_jwks(entries, self._algorithms)
        if not keys:
            raise _unavailable("holds no signing key this gateway can use")
        return keys


def _header(token: str) -> dict[str, Any]:
    """The unverified header, read without decoding the rest (jwt.decode checks all of it again)."""
    if not isinstance(token, str) or token.count(".") != 2:
        raise AuthenticationError("the token is not a well-formed JWT", code="invalid_token")
    segment = token[: token.index(".")]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, TypeError, RecursionError) as exc:
        raise AuthenticationError("the token is not a well-formed JWT", code="invalid_token") from exc
    if not isinstance(header, dict):
        raise AuthenticationError("the token's header is not a JSON object", code="invalid_token")
    return header


def _allowed(algorithms: Sequence[str] | None, has_secret: bool, path: str) -> frozenset[str]:
    if algorithms is None:
        return frozenset(DEFAULT_ALGORITHMS + (HMAC_ALGORITHMS if has_secret else ()))
    if isinstance(algorithms, str):
        algorithms = [algorithms]
    known = set(get_default_algorithms()) - {"none"}
    for alg in algorithms:
        if alg not in known:
            raise ConfigurationError(
                path, f"unknown or unsafe algorithm {alg!r}; use some of {sorted(known)}"
            )
        if alg in HMAC_ALGORITHMS and not has_secret:
            raise ConfigurationError(path, f"{alg} needs a shared secret")
    if not algorithms:
        raise ConfigurationError(path, "names no algorithm")
    return frozenset(algorithms)


def _pem_keys(pem: str, allowed: frozenset[str], path: str) -> Keys:
    try:
        data = pem.encode()
        key: Any = (
            x509.load_pem_x509_certificate(data).public_key()
            if b"CERTIFICATE-----" in data
            else load_pem_public_key(data)
        )
    except ValueError as exc:
        raise ConfigurationError(path, f"is not a PEM public key or certificate: {exc}") from exc
    if isinstance(key, rsa.RSAPublicKey):
        family: Sequence[str] = _RSA
    elif isinstance(key, ec.EllipticCurvePublicKey):
        family = [_EC_BY_CURVE_NAME.get(key.curve.name, "")]
    elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        family = ["EdDSA"]
    else:
        family = []
    keys = {alg: key for alg in family if alg in allowed}
    if not keys:
        raise ConfigurationError(path, f"the key verifies none of the accepted algorithms {sorted(allowed)}")
    return keys


def _load_jwks(entries: list[Any], allowed: frozenset[str]) -> dict[str | None, Keys]:
    """Each usable signing key by key id, loaded once for every accepted algorithm it may verify."""
    jwks: dict[str | None, Keys] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        # A published key set is public: a symmetric key in it would let anyone sign tokens.
        if entry.get("kty") == "oct":
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str | None) or kid in jwks:
            continue
        loaded = {}
        for alg in _algorithms_of(entry) & allowed:
            try:
                loaded[alg] = jwt.PyJWK(entry, alg)
            except (jwt.PyJWTError, ValueError, TypeError, KeyError):
                break
        else:
            if loaded:
                jwks[kid] = loaded
    return jwks


def _algorithms_of(entry: Mapping[str, Any]) -> set[str]:
    declared = entry.get("alg")
    if declared is not None:
        return {declared} if isinstance(declared, str) else set()
    kty = entry.get("kty")
    if kty == "RSA":
        return set(_RSA)
    if kty == "EC":
        alg = _EC_BY_CURVE.get(entry.get("crv", "P-256"))
        return {alg} if alg else set()
    if kty == "OKP":
        return {"EdDSA"}
    return set()


def _unavailable(what: str) -> AuthenticationError:
    return AuthenticationError(f"the identity provider's JWKS {what}", code="jwks_unavailable")


def _unavailable_still(failure: AuthenticationError) -> AuthenticationError:
    """The last fetch's failure again, for a caller who may not retry it yet."""
    error = AuthenticationError(failure.message, code="jwks_unavailable")
    error.__cause__ = failure
    return error


_REJECTIONS: tuple[tuple[type[Exception], str, str], ...] = (
    (jwt.ExpiredSignatureError, "token_expired", "the token has expired"),
    (jwt.ImmatureSignatureError, "token_not_yet_valid", "the token is not valid yet"),
    (jwt.InvalidAudienceError, "invalid_audience", "the token is meant for another audience"),
    (jwt.InvalidIssuerError, "invalid_issuer", "the token comes from an untrusted issuer"),
    (jwt.InvalidAlgorithmError, "unsupported_algorithm", "the token's algorithm does not match its key"),
    (jwt.InvalidSignatureError, "invalid_signature", "the token's signature does not verify"),
    (jwt.InvalidKeyError, "invalid_signature", "the token's key cannot verify it"),
)


def _rejection(exc: Exception) -> AuthenticationError:
    """The one translation of PyJWT's failures into the domain's."""
    if isinstance(exc, jwt.MissingRequiredClaimError):
        code = {"aud": "invalid_audience", "iss": "invalid_issuer"}.get(exc.claim, "invalid_token")
        return AuthenticationError(f"the token lacks the {exc.claim!r} claim", code=code)
    for kind, code, message in _REJECTIONS:
        if isinstance(exc, kind):
            return AuthenticationError(message, code=code)
    return AuthenticationError(f"the token is malformed ({exc})", code="invalid_token")

"""Test helper: signing keys, the JWKS that publishes them, tokens they sign, and a fake JWKS endpoint."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://idp.example.test"
AUDIENCE = "switchyard"
SECRET = "a-shared-secret-of-sixty-four-bytes-or-more-so-that-hs512-is-happy-too"


@dataclass(frozen=True)
class SigningKey:
    """A private key with the key id and algorithm its tokens name."""

    kid: str
    alg: str
    private: Any

    def jwk(self, **extra: Any) -> dict[str, Any]:
        """The public half as a JWK, with `kid`, `alg` and `use: sig` (drop or override them via `extra`)."""
        data = _public_jwk(self.private)
        data.update({"kid": self.kid, "alg": self.alg, "use": "sig"})
        data.update(extra)
        return {name: value for name, value in data.items() if value is not None}

    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def sign(
        self,
        claims: dict[str, Any],
        *,
        kid: str | None = "",
        alg: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> str:
        """A token over `claims`; `kid=None` leaves the key id out, `kid=""` uses this key's."""
        header = dict(headers or {})
        if kid is not None:
            header["kid"] = kid or self.kid
        return jwt.encode(claims, self.private, algorithm=alg or self.alg, headers=header)


def rsa_key(kid: str = "rsa-1", alg: str = "RS256") -> SigningKey:
    return SigningKey(kid, alg, rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_key(kid: str = "ec-1", alg: str = "ES256") -> SigningKey:
    curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}[alg]
    return SigningKey(kid, alg, ec.generate_private_key(curve))


def jwks(*keys: SigningKey | dict[str, Any]) -> dict[str, Any]:
    """A JWKS document publishing `keys` (signing keys, or JWK dicts as they are)."""
    return {"keys": [key.jwk() if isinstance(key, SigningKey) else key for key in keys]}


def claims(*, lifetime: float = 300, **overrides: Any) -> dict[str, Any]:
    """Valid claims for `ISSUER` / `AUDIENCE`, expiring `lifetime` seconds from now; `None` drops one."""
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "alice",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + int(lifetime),
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def hs_token(
    claims: dict[str, Any], secret: str = SECRET, *, alg: str = "HS256", kid: str | None = None
) -> str:
    return jwt.encode(claims, secret, algorithm=alg, headers={"kid": kid} if kid else None)


def unsigned_token(claims: dict[str, Any], *, kid: str | None = None) -> str:
    """A token with `alg: none` and no signature, as an attacker would send it."""
    header = {"alg": "none", "typ": "JWT", **({"kid": kid} if kid else {})}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


def forge_hs_with_public_key(key: SigningKey, claims: dict[str, Any]) -> str:
    """An HS256 token whose HMAC secret is `key`'s public PEM: the classic algorithm-confusion attack."""
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    mac = hmac.new(key.public_pem().encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


@dataclass
class JwksEndpoint:
    """A JWKS served through `httpx.MockTransport`: swap `document`, set `status` to fail, count `hits`;
    clear `gate` to hold requests until it is set again."""

    document: dict[str, Any]
    status: int = 200
    hits: int = 0
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.gate.set()

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.hits += 1
        await self.gate.wait()
        if self.status != 200:
            return httpx.Response(self.status, json={"error": "down"})
        return httpx.Response(200, json=self.document)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))


def _public_jwk(private: Any) -> dict[str, Any]:
    public = private.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        return dict(RSAAlgorithm.to_jwk(public, as_dict=True))
    return dict(ECAlgorithm.to_jwk(public, as_dict=True))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

"""The console's session cookie: who signed in, until when, and the CSRF token of their forms, signed
with HMAC-SHA256 so the browser can hold it but not change it.

The cookie never holds a secret: a master-key session says "master", a virtual-key session the key's
SHA-256 hash (as the key store keys it), so each request resolves the caller again and a key blocked or
deleted meanwhile is out at once. A `user` session (email and password, an invitation, SSO) holds the
user's id, and the user's role is read again on every request.

The same signature seals the short-lived cookies of the steps before a session: the login form's CSRF
token, and an SSO round trip's state and PKCE verifier."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import orjson

COOKIE = "switchyard_console"
LIFETIME = 12 * 3600
"""Seconds a session lasts: a working day; signing in again is cheap."""
PRE_SESSION_LIFETIME = 3600
"""Seconds a login form or an SSO round trip may take."""


class SessionKind(StrEnum):
    MASTER = "master"
    KEY = "key"
    USER = "user"


@dataclasses.dataclass(frozen=True, slots=True)
class Session:
    kind: SessionKind
    subject: str
    """The virtual key's hash for a KEY session, the user id for a USER one; empty for MASTER."""
    expires: float
    csrf: str
    """Every form POST must carry it back (hidden field or X-CSRF-Token header)."""

    def csrf_matches(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), self.csrf.encode())


class SessionSigner:
    """Issues and reads session cookies under one key. Build it with `from_secrets` from the salt key
    and the master key: rotating either ends every session."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_secrets(cls, salt_key: str | None, master_key: str | None) -> SessionSigner:
        """A key derived from both (a gateway without either gets a random one: sessions then last as
        long as the process and are not shared by a fleet)."""
        if not salt_key and not master_key:
            return cls(secrets.token_bytes(32))
        material = f"switchyard-console\0{salt_key or ''}\0{master_key or ''}".encode()
        return cls(hashlib.sha256(material).digest())

    def issue(self, kind: SessionKind, subject: str, now: float) -> Session:
        return Session(kind, subject, now + LIFETIME, secrets.token_urlsafe(32))

    def dump(self, session: Session) -> str:
        return self.seal({"k": session.kind, "s": session.subject, "c": session.csrf}, session.expires)

    def load(self, cookie: str | None, now: float) -> Session | None:
        """The session the cookie holds; None when it is absent, altered or expired."""
        fields = self.unseal(cookie, now)
        if fields is None:
            return None
        return Session(SessionKind(fields["k"]), fields["s"], float(fields["e"]), fields["c"])

    def seal(self, fields: Mapping[str, Any], expires: float) -> str:
        """`fields` (JSON values) and their expiry time as a signed cookie value."""
        payload = orjson.dumps({**fields, "e": expires})
        return f"{_encode(payload)}.{_encode(self._sign(payload))}"

    def unseal(self, cookie: str | None, now: float) -> dict[str, Any] | None:
        """What `seal` sealed; None when the cookie is absent, altered or expired."""
        if not cookie or "." not in cookie:
            return None
        encoded, _, signature = cookie.partition(".")
        try:
            payload, presented = _decode(encoded), _decode(signature)
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(presented, self._sign(payload)):
            return None
        fields = orjson.loads(payload)
        return fields if float(fields["e"]) > now else None

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

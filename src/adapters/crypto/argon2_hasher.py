"""Console passwords as argon2id hashes (argon2-cffi's defaults, RFC 9106's second recommendation),
the library loaded on the first password hashed or checked."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ports.password_hasher import PasswordHasher

if TYPE_CHECKING:
    import argon2


class Argon2PasswordHasher(PasswordHasher):
    __slots__ = ("_hasher",)

    def __init__(self) -> None:
        self._hasher: argon2.PasswordHasher | None = None

    def hash(self, password: str) -> str:
        return self._loaded().hash(password)

    def verify(self, hashed: str, password: str) -> bool:
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            return self._loaded().verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False

    def _loaded(self) -> argon2.PasswordHasher:
        if self._hasher is None:
            import argon2

            self._hasher = argon2.PasswordHasher()  # argon2id by default
        return self._hasher

"""The port that turns console passwords into slow, salted hashes and checks them."""

from __future__ import annotations

from abc import ABC, abstractmethod


class PasswordHasher(ABC):
    """Contract: `hash` returns a self-describing string (algorithm, parameters, salt) that differs on
    every call for the same password; `verify` says whether `password` is the one `hashed` was made
    from, and is False (never an error) for a malformed hash."""

    @abstractmethod
    def hash(self, password: str) -> str: ...

    @abstractmethod
    def verify(self, hashed: str, password: str) -> bool: ...

"""The port for encrypting credentials that are kept at rest (the stored deployments' provider keys)."""

from __future__ import annotations

from abc import ABC, abstractmethod

SEALED_MARK = "switchyard:"
"""How every cipher's output starts, followed by its format version (`switchyard:v1:...`): a store tells
sealed values from those kept before encryption was on without needing the key."""


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SEALED_MARK)


class CredentialUnreadable(Exception):
    """A sealed credential that cannot be opened: sealed under another key or for another context,
    altered since, or in a format this version does not know. The message never holds the value."""


class CredentialCipher(ABC):
    """Authenticated encryption of one credential at a time, under one key.

    Contract:
    - `decrypt(encrypt(text, context), context) == text`; the output `is_sealed`, and is never the same
      twice (a fresh nonce each time), so equal credentials do not show as equal in the store.
    - `context` names where the credential is kept (a record and a field): the sealed text opens only
      for the same context, so it cannot be moved to another record or field unnoticed.
    - `decrypt` raises `CredentialUnreadable` for text sealed under another key or context, altered, or
      not sealed at all.
    """

    @abstractmethod
    def encrypt(self, text: str, context: str) -> str: ...

    @abstractmethod
    def decrypt(self, sealed: str, context: str) -> str: ...

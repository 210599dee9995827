"""AES-256-GCM encryption of stored credentials, under a key derived from the salt key."""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ports.credential_cipher import SEALED_MARK, CredentialCipher, CredentialUnreadable

PREFIX = SEALED_MARK + "v1:"
"""Marks a sealed value and its format (v1: base64url of a 12-byte nonce, then the AES-GCM ciphertext
with its 16-byte tag), so that a later format can be told apart and older plain values read as such."""
_NONCE = 12
_TAG = 16
# Binds the derived key to this use: the same salt key used elsewhere yields an unrelated key here.
_SALT = b"switchyard stored credentials"
_INFO = b"aes-256-gcm v1"


def derive_key(salt_key: str) -> bytes:
    """The 256-bit key for a salt key. HKDF, not a password hash: the salt key is meant to be a long
    random value (as LiteLLM's LITELLM_SALT_KEY), and a start must not spend a second stretching it."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=_INFO).derive(salt_key.encode())


class AesGcmCredentialCipher(CredentialCipher):
    def __init__(self, salt_key: str) -> None:
        if not salt_key:
            raise ValueError("the salt key must not be empty")
        self._aead = AESGCM(derive_key(salt_key))

    def encrypt(self, text: str, context: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, text.encode(), context.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, sealed: str, context: str) -> str:
        if not sealed.startswith(PREFIX):
            raise CredentialUnreadable(f"{context}: not in the {PREFIX} format")
        try:
            raw = base64.urlsafe_b64decode(sealed.removeprefix(PREFIX).encode("ascii"))
        except (binascii.Error, UnicodeEncodeError):
            raise CredentialUnreadable(f"{context}: the sealed value is malformed") from None
        if len(raw) < _NONCE + _TAG:
            raise CredentialUnreadable(f"{context}: the sealed value is truncated")
        try:
            return self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], context.encode()).decode()
        except InvalidTag:
            raise CredentialUnreadable(f"{context}: sealed under another salt key, or altered") from None

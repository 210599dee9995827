"""A cipher that loads `cryptography` (several MB of native code) only when a credential is first sealed
or opened: a gateway with no stored models never pays for it."""

from __future__ import annotations

from ports.credential_cipher import CredentialCipher


class LazyCredentialCipher(CredentialCipher):
    __slots__ = ("_cipher", "_salt_key")

    def __init__(self, salt_key: str) -> None:
        if not salt_key:
            raise ValueError("the salt key must not be empty")
        self._salt_key = salt_key
        self._cipher: CredentialCipher | None = None

    def encrypt(self, text: str, context: str) -> str:
        return self._loaded().encrypt(text, context)

    def decrypt(self, sealed: str, context: str) -> str:
        return self._loaded().decrypt(sealed, context)

    def _loaded(self) -> CredentialCipher:
        if self._cipher is None:
            from adapters.crypto.aes_gcm_cipher import AesGcmCredentialCipher

            self._cipher = AesGcmCredentialCipher(self._salt_key)
        return self._cipher

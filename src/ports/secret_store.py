"""The port through which config values `os.environ/NAME` are read from a secret manager."""

from __future__ import annotations

from abc import ABC, abstractmethod


class SecretStore(ABC):
    """A secret manager (HashiCorp Vault, AWS Secrets Manager, Azure Key Vault, Google Secret Manager,
    Infisical) read by secret name.

    Contract:
    - `read(name)` answers the current value of the secret `name` as text, read from the store at that
      moment (caching and refreshing are the caller's business, so a rotated secret is seen at once).
    - A store that holds no secret of that name raises `SecretUnavailable` with `missing` true; one that
      cannot be reached, refuses the credentials or answers something unreadable raises it with
      `missing` false. Nothing else leaves `read`.
    - No message, exception or log line carries a secret's value: they name the secret and the store.
    - Reads may run concurrently; `aclose` releases the store's connections, after which it is not used.
    """

    system: str = ""
    """The store's name as LiteLLM's `general_settings.key_management_system` spells it."""

    @abstractmethod
    async def read(self, name: str) -> str: ...

    async def aclose(self) -> None:
        return None


class SecretUnavailable(Exception):
    """A secret could not be read; the message names it and the store, never a value."""

    def __init__(self, name: str, store: str, reason: str, *, missing: bool = False) -> None:
        super().__init__(f"secret {name} cannot be read from {store}: {reason}")
        self.name = name
        self.store = store
        self.reason = reason
        self.missing = missing

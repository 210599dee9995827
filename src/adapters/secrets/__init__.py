"""The secret managers `general_settings.key_management_system` may name, each imported only when a
config names it."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from adapters.secrets.http import ClientFactory, new_client
from ports.secret_store import SecretStore

# LiteLLM's name of each store -> the adapter ("module:class") that speaks its API.
STORES: dict[str, str] = {
    "hashicorp_vault": "adapters.secrets.vault:VaultSecretStore",
    "aws_secret_manager": "adapters.secrets.aws:AwsSecretsManagerStore",
    "azure_key_vault": "adapters.secrets.azure:AzureKeyVaultStore",
    "google_secret_manager": "adapters.secrets.google:GoogleSecretManagerStore",
    "infisical": "adapters.secrets.infisical:InfisicalSecretStore",
}


def open_secret_store(
    system: str,
    settings: Mapping[str, Any],
    environ: Mapping[str, str],
    clients: ClientFactory = new_client,
) -> SecretStore:
    """The store `system` names, configured from key_management_settings and the environment as LiteLLM
    configures it; ConfigurationError when a setting it needs is missing."""
    module, _, name = STORES[system].partition(":")
    store: SecretStore = getattr(importlib.import_module(module), name).create(settings, environ, clients)
    return store

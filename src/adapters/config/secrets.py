"""`general_settings.key_management_system`: which `os.environ/NAME` references a secret manager answers
(https://docs.litellm.ai/docs/secret), found in the raw config before anything is resolved."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from adapters.config.diagnostics import did_you_mean, path_of
from adapters.config.environment import PREFIX
from domain.errors import ConfigurationError

SYSTEMS = ("aws_secret_manager", "azure_key_vault", "google_secret_manager", "hashicorp_vault", "infisical")
"""LiteLLM's names of the secret managers served."""
DEFAULT_REFRESH_INTERVAL = 86400.0
"""Seconds between reads of a secret: LiteLLM's SECRET_MANAGER_REFRESH_INTERVAL default (a day)."""
_REFRESH_ENV = {
    "hashicorp_vault": "HCP_VAULT_REFRESH_INTERVAL",
    "google_secret_manager": "GOOGLE_SECRET_MANAGER_REFRESH_INTERVAL",
}
"""The stores whose own refresh interval LiteLLM reads before SECRET_MANAGER_REFRESH_INTERVAL."""
_GENERIC_REFRESH_ENV = "SECRET_MANAGER_REFRESH_INTERVAL"
# What a store is configured by always comes from the process environment, never from the store itself
# (LiteLLM's AWS store skips the same names: they would have to be read to reach it).
_OWN_SETTINGS = {
    "aws_secret_manager": (
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION_NAME", "AWS_REGION",
        "AWS_BEDROCK_RUNTIME_ENDPOINT",
    ),
    "azure_key_vault": ("AZURE_KEY_VAULT_URI", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID"),
    "google_secret_manager": ("GOOGLE_SECRET_MANAGER_PROJECT_ID", "GOOGLE_APPLICATION_CREDENTIALS"),
    "hashicorp_vault": (
        "HCP_VAULT_ADDR", "HCP_VAULT_TOKEN", "HCP_VAULT_APPROLE_ROLE_ID", "HCP_VAULT_APPROLE_SECRET_ID",
    ),
    "infisical": ("INFISICAL_CLIENT_ID", "INFISICAL_CLIENT_SECRET", "INFISICAL_SITE_URL"),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class SecretPlan:
    """The secret manager to read and what to read from it."""

    system: str
    references: Mapping[str, str]
    """NAME -> the first config path whose `os.environ/NAME` asks for it (what a failure names)."""
    settings: Mapping[str, Any] = field(default_factory=dict, repr=False)
    """`general_settings.key_management_settings` as written (store-specific keys included)."""
    refresh_interval: float = DEFAULT_REFRESH_INTERVAL
    tree: Mapping[str, Any] = field(default_factory=dict, repr=False)
    """The raw config, resolved again when a secret changes."""


def secret_plan(tree: Mapping[str, Any], environ: Mapping[str, str]) -> SecretPlan | None:
    """The plan `tree` (a raw config, includes merged) asks for; None without a key_management_system,
    or when its access_mode reads nothing (`write_only`). ConfigurationError for an unknown store."""
    general = tree.get("general_settings")
    system = general.get("key_management_system") if isinstance(general, Mapping) else None
    if not system:
        return None
    where = "general_settings.key_management_system"
    if system not in SYSTEMS:
        hint = did_you_mean(str(system), SYSTEMS) or f"; use one of {', '.join(SYSTEMS)}"
        raise ConfigurationError(where, f"secret manager '{system}' is not supported{hint}")
    settings = general.get("key_management_settings") or {}
    if not isinstance(settings, Mapping):
        raise ConfigurationError("general_settings.key_management_settings", "must be a mapping")
    if settings.get("access_mode", "read_only") == "write_only":
        return None
    hosted = settings.get("hosted_keys")
    own = _OWN_SETTINGS[system]
    references: dict[str, str] = {}
    for name, path in _references(tree):
        if name not in own and (hosted is None or name in hosted):
            references.setdefault(name, path)
    return SecretPlan(system, references, settings, _refresh_interval(system, environ), tree)


def _references(tree: Any, *loc: str | int) -> Iterator[tuple[str, str]]:
    """(NAME, config path) for every `os.environ/NAME` string in `tree`."""
    if isinstance(tree, str):
        if tree.startswith(PREFIX):
            yield tree.removeprefix(PREFIX).strip(), path_of(*loc)
    elif isinstance(tree, Mapping):
        for key, value in tree.items():
            yield from _references(value, *loc, str(key))
    elif isinstance(tree, list | tuple):
        for index, value in enumerate(tree):
            yield from _references(value, *loc, index)


def _refresh_interval(system: str, environ: Mapping[str, str]) -> float:
    for name in (_REFRESH_ENV.get(system), _GENERIC_REFRESH_ENV):
        value = environ.get(name) if name else None
        if value:
            try:
                seconds = float(value)
            except ValueError:
                raise ConfigurationError(name, f"must be a number of seconds, not '{value}'") from None
            if seconds <= 0:
                raise ConfigurationError(name, "must be greater than 0")
            return seconds
    return DEFAULT_REFRESH_INTERVAL

"""The values of the secrets a config references, read from its store all at once at start and read
again on each refresh, the last good value kept through an outage."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import structlog

from domain.errors import ConfigurationError
from ports.secret_store import SecretStore, SecretUnavailable

_log = structlog.get_logger("switchyard.secrets")


class SecretValues:
    """NAME -> value for each `os.environ/NAME` the store answers.

    As LiteLLM does, a secret the store does not hold is taken from the process environment when set
    there; one that neither has, or that the store cannot be asked for, stops the start."""

    def __init__(
        self,
        store: SecretStore,
        references: Mapping[str, str],
        environ: Mapping[str, str],
        values: Mapping[str, str] | None = None,
    ) -> None:
        """`references`: NAME -> the config path naming it; `values`: those read already."""
        self._store = store
        self._references = dict(references)
        self._environ = environ
        self.values: dict[str, str] = dict(values or {})
        self._failing: set[str] = set()

    async def load(self) -> dict[str, str]:
        """Reads every referenced secret concurrently; ConfigurationError naming the first reference that
        cannot be read and the store (never a value)."""
        for name, outcome in await self._read_all():
            if isinstance(outcome, str):
                self.values[name] = outcome
            elif not (outcome.missing and name in self._environ):
                raise ConfigurationError(
                    self._references[name],
                    f"os.environ/{name} cannot be read from {outcome.store}: {outcome.reason}",
                )
        return self.values

    async def refresh(self) -> bool:
        """Reads every secret again and says whether any value changed. A secret that cannot be read
        keeps its last value; that is logged once, until it can be read again."""
        changed = False
        for name, outcome in await self._read_all():
            if isinstance(outcome, SecretUnavailable):
                if name not in self._failing and name in self.values:
                    _log.warning("secret refresh failed; keeping its last value", secret=name,
                                 store=outcome.store, reason=outcome.reason)  # fmt: skip
                self._failing.add(name)
                continue
            if name in self._failing:
                _log.info("secret readable again", secret=name, store=self._store.system)
                self._failing.discard(name)
            changed = changed or self.values.get(name) != outcome
            self.values[name] = outcome
        return changed

    async def _read_all(self) -> list[tuple[str, str | SecretUnavailable]]:
        names = list(self._references)
        outcomes = await asyncio.gather(*(self._store.read(name) for name in names), return_exceptions=True)
        read: list[tuple[str, str | SecretUnavailable]] = []
        for name, outcome in zip(names, outcomes, strict=True):
            if isinstance(outcome, BaseException) and not isinstance(outcome, SecretUnavailable):
                raise outcome
            read.append((name, outcome))
        return read

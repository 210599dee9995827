"""The SecretStore contract, run against every store adapter (each against a local fake of its HTTP API,
configured through the environment as LiteLLM's users configure it) and the in-memory fake store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field

import pytest

from adapters.secrets import open_secret_store
from adapters.secrets.azure import vault_name
from ports.secret_store import SecretStore, SecretUnavailable
from tests.e2e import secret_store_fakes as fakes
from tests.e2e.secret_store_fakes import FakeSecretStore


@dataclass
class Harness:
    """One store under test: how to open it, put a secret in it, and take it down."""

    open: Callable[[], SecretStore]
    seed: Callable[[str, str], None]
    set_down: Callable[[bool], None]
    clear: Callable[[], None]
    requests: list[dict] = field(default_factory=list)

    def reset(self) -> None:
        self.clear()
        self.set_down(False)
        self.requests.clear()


def _served(
    make: Callable[[], fakes.SecretFake], system: str, key: Callable[[str], str] = str
) -> Callable[[ExitStack], Harness]:
    """A harness over the fake `make` starts, the store configured by the fake's environment."""

    def build(stack: ExitStack) -> Harness:
        fake = stack.enter_context(make())
        environ = fake.environment()
        return Harness(
            open=lambda: open_secret_store(system, {}, environ),
            seed=lambda name, value: fake.secrets.__setitem__(key(name), value),
            set_down=lambda down: setattr(fake, "down", down),
            clear=fake.secrets.clear,
            requests=fake.requests,
        )

    return build


def _memory(stack: ExitStack) -> Harness:
    store = FakeSecretStore()
    return Harness(
        open=lambda: store,
        seed=lambda name, value: store.values.__setitem__(name, value),
        set_down=lambda down: setattr(store, "down", down),
        clear=store.values.clear,
    )


STORES: dict[str, Callable[[ExitStack], Harness]] = {
    "memory": _memory,
    "hashicorp_vault": _served(lambda: fakes.FakeVault(namespace="admin"), "hashicorp_vault"),
    "aws_secret_manager": _served(fakes.FakeSecretsManager, "aws_secret_manager"),
    "azure_key_vault": _served(fakes.FakeKeyVault, "azure_key_vault", key=vault_name),
    "google_secret_manager": _served(fakes.FakeGoogleSecretManager, "google_secret_manager"),
    "infisical": _served(fakes.FakeInfisical, "infisical"),
}


class _Servers(ExitStack):
    """The fake stores, each started at its first test and kept for the module (stopping one takes
    half a second)."""

    def __init__(self) -> None:
        super().__init__()
        self.harnesses: dict[str, Harness] = {}

    def harness(self, name: str) -> Harness:
        if name not in self.harnesses:
            self.harnesses[name] = STORES[name](self)
        return self.harnesses[name]


@pytest.fixture(scope="module")
def servers() -> Iterator[_Servers]:
    with _Servers() as servers:
        yield servers


@pytest.fixture(params=sorted(STORES))
def harness(request: pytest.FixtureRequest, servers: _Servers) -> Harness:
    """A store under test, empty and up."""
    harness = servers.harness(request.param)
    harness.reset()
    return harness


async def _read(harness: Harness, *names: str) -> list[str]:
    store = harness.open()
    try:
        return list(await asyncio.gather(*(store.read(name) for name in names)))
    finally:
        await store.aclose()


async def test_a_stored_secret_is_read_as_text(harness: Harness) -> None:
    harness.seed("OPENAI_API_KEY", "sk-from-the-store")
    assert await _read(harness, "OPENAI_API_KEY") == ["sk-from-the-store"]


async def test_many_secrets_are_read_concurrently_with_one_login(harness: Harness) -> None:
    names = [f"KEY_{index}" for index in range(6)]
    for name in names:
        harness.seed(name, f"value-{name}")
    assert await _read(harness, *names) == [f"value-{name}" for name in names]
    logins = [r for r in harness.requests if "login" in r["path"] or "token" in r["path"]]
    assert len(logins) <= 1


async def test_a_rotated_secret_is_read_anew(harness: Harness) -> None:
    harness.seed("ANTHROPIC_API_KEY", "old")
    store = harness.open()
    try:
        assert await store.read("ANTHROPIC_API_KEY") == "old"
        harness.seed("ANTHROPIC_API_KEY", "new")
        assert await store.read("ANTHROPIC_API_KEY") == "new"
    finally:
        await store.aclose()


async def test_a_secret_the_store_lacks_is_missing_and_named(harness: Harness) -> None:
    with pytest.raises(SecretUnavailable) as raised:
        await _read(harness, "NOT_THERE")
    assert raised.value.missing
    assert raised.value.name == "NOT_THERE"
    assert "NOT_THERE" in str(raised.value)


async def test_an_outage_is_unavailable_not_missing_and_never_shows_a_value(harness: Harness) -> None:
    harness.seed("OPENAI_API_KEY", "sk-must-not-leak")
    harness.set_down(True)
    with pytest.raises(SecretUnavailable) as raised:
        await _read(harness, "OPENAI_API_KEY")
    assert not raised.value.missing
    assert "OPENAI_API_KEY" in str(raised.value)
    assert "sk-must-not-leak" not in str(raised.value)

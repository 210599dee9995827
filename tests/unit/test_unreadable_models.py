"""A stored model whose credentials this gateway cannot decrypt: not served, named in the log once (never
its value), and written again only once its credentials are given again."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from adapters.persistence.deferred import DeferredStore
from adapters.persistence.memory import InMemoryStore
from application.identity_cache import IdentityCache
from application.models import ModelRegistry
from bootstrap.loops import run_store
from domain.access import MASTER
from domain.deployments import Deployment, DeploymentRecord
from domain.errors import BadRequestError
from tests.fakes import FakeClock

LOCKED = DeploymentRecord(
    "locked", "m", {"model": "openai/gpt-4o"}, {"id": "locked"}, unreadable=("api_key",)
)
OPEN = DeploymentRecord("open", "m", {"model": "openai/gpt-4o", "api_key": "sk-open"}, {"id": "open"})


def _parse(record: DeploymentRecord) -> Deployment:
    provider, _, upstream = str(record.litellm_params["model"]).partition("/")
    return Deployment(
        id=record.model_id, model_name=record.model_name, provider=provider, upstream_model=upstream
    )


async def _registry(store: InMemoryStore) -> ModelRegistry:
    async with store.unit_of_work() as uow:
        await uow.deployments.add(LOCKED)
        await uow.deployments.add(OPEN)
        await uow.commit()
    return ModelRegistry(
        uow=store.unit_of_work, clock=FakeClock(), configured=[], parse=_parse, activate=lambda _: None
    )


async def test_the_model_is_logged_once_by_id_and_the_others_are_served() -> None:
    store = InMemoryStore()
    registry = await _registry(store)
    sleeps = 0

    async def sleep(_: float) -> None:
        nonlocal sleeps
        sleeps += 1
        if sleeps == 3:
            raise asyncio.CancelledError

    async def opener() -> InMemoryStore:
        return store

    identities = IdentityCache(uow=store.unit_of_work, clock=FakeClock())
    with capture_logs() as logs, pytest.raises(asyncio.CancelledError):
        await run_store(DeferredStore(opener), identities, registry, sleep=sleep)

    (logged,) = [entry for entry in logs if entry["event"] == "stored model not served"]
    assert logged["model_id"] == "locked" and "litellm_params.api_key cannot be decrypted" in logged["reason"]
    assert registry.record("open") == OPEN and registry.record("locked") is None


async def test_an_update_must_give_the_unreadable_credentials_again() -> None:
    registry = await _registry(InMemoryStore())
    await registry.load()

    with pytest.raises(BadRequestError) as refused:
        await registry.update(MASTER, "locked", params={"rpm": 5})
    await registry.update(MASTER, "locked", params={"api_key": "sk-new"})

    assert refused.value.param == "litellm_params.api_key"
    assert registry.broken == {}
    stored = registry.record("locked")
    assert stored is not None and stored.litellm_params["api_key"] == "sk-new" and stored.unreadable == ()

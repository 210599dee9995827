"""Deployments added through the management API: stored, parsed as the config's are, served live."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from adapters.persistence.memory import InMemoryStore
from application.models import ModelRegistry
from domain.access import MASTER, Principal, Via
from domain.deployments import Deployment, DeploymentRecord
from domain.errors import BadRequestError, PermissionDeniedError
from domain.identity import Role
from ports.unit_of_work import MODELS
from tests.fakes import FakeClock

CONFIGURED = Deployment(id="from-file", model_name="gpt-x", provider="openai", upstream_model="gpt-4o-mini")


def _parse(record: DeploymentRecord) -> Deployment:
    model = str(record.litellm_params.get("model", ""))
    provider, _, upstream = model.partition("/")
    if not upstream:
        raise BadRequestError("litellm_params.model: needs <provider>/<model>", param="litellm_params.model")
    return Deployment(
        id=record.model_id, model_name=record.model_name, provider=provider, upstream_model=upstream
    )


class Served:
    def __init__(self) -> None:
        self.deployments: list[Deployment] = []

    def __call__(self, deployments: Sequence[Deployment]) -> None:
        self.deployments = list(deployments)

    def ids(self) -> set[str]:
        return {d.id for d in self.deployments}


def _registry(store: InMemoryStore, served: Served) -> ModelRegistry:
    return ModelRegistry(
        uow=store.unit_of_work, clock=FakeClock(), configured=[CONFIGURED], parse=_parse, activate=served
    )


async def test_an_added_model_is_served_next_to_the_configured_ones_and_audited() -> None:
    store, served = InMemoryStore(), Served()
    registry = _registry(store, served)
    await registry.load()

    added = await registry.add(MASTER, "gpt-y", {"model": "openai/gpt-4o", "api_key": "sk-up"}, {"id": "y1"})

    assert added.id == "y1" and served.ids() == {"from-file", "y1"}
    record = registry.record("y1")
    assert record is not None and record.litellm_params["api_key"] == "sk-up"
    async with store.unit_of_work() as uow:
        (entry,) = await uow.audit.list(table="model")
    assert entry.action == "created" and entry.after is not None
    assert entry.after["litellm_params"]["api_key"] == "****"


async def test_only_a_proxy_admin_changes_models_and_never_the_config_files() -> None:
    registry = _registry(InMemoryStore(), Served())
    user = Principal(Via.VIRTUAL_KEY, Role.INTERNAL_USER, user_id="u")

    with pytest.raises(PermissionDeniedError):
        await registry.add(user, "m", {"model": "openai/x"}, {})
    with pytest.raises(BadRequestError, match="config file"):
        await registry.delete(MASTER, "from-file")
    with pytest.raises(BadRequestError, match="taken"):
        await registry.add(MASTER, "m", {"model": "openai/x"}, {"id": "from-file"})


async def test_a_stored_model_that_no_longer_parses_is_not_served_and_says_why() -> None:
    store, served = InMemoryStore(), Served()
    async with store.unit_of_work() as uow:
        await uow.deployments.add(DeploymentRecord("bad", "m", {"model": "nonsense"}, {"id": "bad"}))
        await uow.commit()

    registry = _registry(store, served)
    await registry.load()

    assert served.ids() == {"from-file"}
    assert "provider" in registry.broken["bad"]


async def test_a_change_made_by_another_instance_is_served_after_the_next_poll() -> None:
    store, here, there = InMemoryStore(), Served(), Served()
    mine, theirs = _registry(store, here), _registry(store, there)
    await mine.load()
    await theirs.load()

    await theirs.add(MASTER, "gpt-z", {"model": "openai/gpt-4o"}, {"id": "z"})
    assert here.ids() == {"from-file"}
    assert await mine.poll(await store.stamps()) is True

    assert here.ids() == {"from-file", "z"}
    assert (await store.stamps())[MODELS] == 1
    assert await mine.poll() is False

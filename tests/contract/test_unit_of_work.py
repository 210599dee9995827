"""The UnitOfWork contract (ports/unit_of_work.py), held in memory, in SQLite and in the real PostgreSQL."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from adapters.persistence.database import Database
from adapters.persistence.migrate import current, head, upgrade
from adapters.persistence.tables import metadata
from domain.budgets import BudgetTerms
from domain.deployments import DeploymentRecord
from domain.errors import ConflictError, NotFoundError
from domain.identity import (
    AuditEntry,
    Budget,
    EndUser,
    Invitation,
    Member,
    MemberRole,
    Organization,
    Role,
    Team,
    User,
    VirtualKey,
)
from ports.unit_of_work import IDENTITY, MODELS, StoreUnavailable, UnitOfWork
from tests.contract.persistence_backends import (
    HUGE,
    ID_FIELDS,
    KINDS,
    POSTGRES_URL,
    SAMPLES,
    T0,
    T1,
    TERMS,
    TINY,
    Backend,
    backend,
    migrated_sqlite,
    new_schema,
    postgres_admin,
    postgres_schema,
    sample,
    token,
)

__all__ = ["backend", "migrated_sqlite", "postgres_schema"]  # fixtures, found by name


def repository(uow: UnitOfWork, kind: str) -> Any:
    return getattr(uow, kind)


async def saved(backend: Backend, kind: str, *records: Any) -> None:
    async with backend.unit_of_work() as uow:
        for record in records:
            await repository(uow, kind).add(record)
        await uow.commit()


async def fetch(backend: Backend, kind: str, id: str) -> Any:
    async with backend.unit_of_work() as uow:
        return await repository(uow, kind).get(id)


def entry(id: str, at: datetime, table: str = "key", object_id: str = "k1", **changes: Any) -> AuditEntry:
    return AuditEntry(
        **{"id": id, "at": at, "actor": "admin", "action": "updated", "table": table, "object_id": object_id}
        | changes
    )


@pytest.mark.parametrize("kind", KINDS)
async def test_every_kind_of_record_comes_back_exactly_as_saved(backend: Backend, kind: str) -> None:
    record = SAMPLES[kind]
    await saved(backend, kind, record)

    async with backend.unit_of_work() as uow:
        id = getattr(record, ID_FIELDS[kind])
        assert await repository(uow, kind).get(id) == record
        assert await repository(uow, kind).get_many([id, "missing"]) == [record]
        assert await repository(uow, kind).list() == [record]


async def test_money_keeps_every_digit_and_times_come_back_aware_in_utc(backend: Backend) -> None:
    plus_two = timezone(timedelta(hours=2))
    at_five = datetime(2025, 1, 2, 5, 0, tzinfo=plus_two)
    terms = replace(TERMS, spend=TINY, max_budget=HUGE, budget_reset_at=at_five)
    key = sample("keys", "k", budget=terms, created_at=at_five)
    await saved(backend, "keys", key)

    found = await fetch(backend, "keys", key.token)
    assert (found.budget.spend, found.budget.max_budget) == (Decimal("0.000000123456789"), HUGE)
    assert found.budget.model_max_budget == {"gpt-4o": TINY, "claude": HUGE}
    assert found.created_at == found.budget.budget_reset_at == datetime(2025, 1, 2, 3, 0, tzinfo=UTC)
    assert found.created_at.utcoffset() == found.budget.budget_reset_at.utcoffset() == timedelta(0)
    assert found.expires.utcoffset() == timedelta(0)


async def test_records_with_every_field_left_out_come_back_equal(backend: Backend) -> None:
    bare = {
        "keys": VirtualKey(token=token("bare"), key_name="sk-...0000"),
        "teams": Team(team_id="bare"),
        "users": User(user_id="bare"),
        "organizations": Organization(organization_id="bare"),
        "end_users": EndUser(user_id="bare"),
        "budgets": Budget(budget_id="bare"),
        "deployments": DeploymentRecord(model_id="bare", model_name="m"),
        "invitations": Invitation(id="bare", user_id="u", expires_at=T0),
    }
    for kind, record in bare.items():
        await saved(backend, kind, record)
        assert await fetch(backend, kind, getattr(record, ID_FIELDS[kind])) == record


@pytest.mark.parametrize("kind", KINDS)
async def test_adding_an_existing_id_is_a_conflict_and_the_unit_of_work_goes_on(
    backend: Backend, kind: str
) -> None:
    await saved(backend, kind, sample(kind, "one"))

    async with backend.unit_of_work() as uow:
        with pytest.raises(ConflictError, match="already exists"):
            await repository(uow, kind).add(
                sample(kind, "one", key_alias="other") if kind == "keys" else sample(kind, "one")
            )
        await repository(uow, kind).add(sample(kind, "two"))
        await uow.commit()

    async with backend.unit_of_work() as uow:
        assert await repository(uow, kind).count() == 2


async def test_a_key_alias_in_use_is_a_conflict_but_keys_without_one_never_collide(backend: Backend) -> None:
    await saved(backend, "keys", sample("keys", "a", key_alias="shared"), sample("keys", "b", key_alias=None))

    async with backend.unit_of_work() as uow:
        with pytest.raises(ConflictError, match="alias 'shared'"):
            await uow.keys.add(sample("keys", "c", key_alias="shared"))
        await uow.keys.add(sample("keys", "d", key_alias=None))
        with pytest.raises(ConflictError, match="alias 'shared'"):
            await uow.keys.update(sample("keys", "b", key_alias="shared"))
        await uow.commit()

    async with backend.unit_of_work() as uow:
        assert await uow.keys.count({"key_alias": None}) == 2


@pytest.mark.parametrize("kind", KINDS)
async def test_updating_a_missing_record_is_not_found(backend: Backend, kind: str) -> None:
    async with backend.unit_of_work() as uow:
        with pytest.raises(NotFoundError):
            await repository(uow, kind).update(sample(kind, "ghost"))


async def test_update_replaces_the_whole_record_members_included(backend: Backend) -> None:
    await saved(backend, "teams", SAMPLES["teams"])
    changed = Team(team_id="t1", members=(Member("u9", MemberRole.ADMIN), Member("u1", MemberRole.ADMIN)))

    async with backend.unit_of_work() as uow:
        await uow.teams.update(changed)
        await uow.commit()

    assert await fetch(backend, "teams", "t1") == changed


async def test_delete_says_whether_a_record_was_deleted_and_takes_its_members(backend: Backend) -> None:
    await saved(backend, "organizations", SAMPLES["organizations"])

    async with backend.unit_of_work() as uow:
        assert await uow.organizations.delete("o1") is True
        assert await uow.organizations.delete("o1") is False
        await uow.commit()

    async with backend.unit_of_work() as uow:
        assert await uow.organizations.get("o1") is None
        assert await uow.organizations.list({"member": "u1"}) == []
    await saved(backend, "organizations", Organization(organization_id="o1"))
    assert (await fetch(backend, "organizations", "o1")).members == ()


async def test_keys_filter_by_each_documented_field_and_none_matches_the_unset(backend: Backend) -> None:
    a = sample("keys", "a", user_id="u1", team_id="t1", organization_id="o1", budget=TERMS)
    unpointed = replace(TERMS, budget_id=None)
    b = sample("keys", "b", user_id="u2", team_id=None, organization_id="o1", budget=unpointed, created_at=T1)
    await saved(backend, "keys", a, b)

    async with backend.unit_of_work() as uow:
        assert await uow.keys.list({"user_id": "u1"}) == [a]
        assert await uow.keys.list({"team_id": None}) == [b]
        assert await uow.keys.list({"organization_id": "o1"}) == [a, b]
        assert await uow.keys.list({"organization_id": "o1", "budget_id": "b1"}) == [a]
        assert await uow.keys.list({"key_alias": "alias-b"}) == [b]
        assert await uow.keys.count({"user_id": "nobody"}) == 0


async def test_teams_and_organizations_filter_by_member(backend: Backend) -> None:
    lonely = Team(team_id="t2", team_alias="solo", organization_id="o2")
    await saved(backend, "teams", SAMPLES["teams"], lonely)
    await saved(backend, "organizations", SAMPLES["organizations"], Organization(organization_id="o2"))

    async with backend.unit_of_work() as uow:
        assert await uow.teams.list({"member": "u3"}) == [SAMPLES["teams"]]
        assert await uow.teams.list({"member": None}) == [lonely]
        assert await uow.teams.list({"team_alias": "solo", "organization_id": "o2"}) == [lonely]
        assert await uow.organizations.count({"member": "u2"}) == 1
        assert await uow.organizations.list({"organization_alias": "acme", "member": "u9"}) == []


async def test_users_end_users_and_deployments_filter_by_their_fields(backend: Backend) -> None:
    viewer = User(user_id="u2", user_email="v@x.io", user_role=Role.INTERNAL_USER_VIEWER)
    await saved(backend, "users", SAMPLES["users"], viewer)
    await saved(backend, "end_users", SAMPLES["end_users"], EndUser(user_id="c2"))
    await saved(
        backend, "deployments", SAMPLES["deployments"], DeploymentRecord(model_id="m2", model_name="x")
    )

    async with backend.unit_of_work() as uow:
        assert await uow.users.list({"user_role": "internal_user_viewer"}) == [viewer]
        assert await uow.users.list({"user_email": "a@x.io", "organization_id": "o1"}) == [SAMPLES["users"]]
        assert await uow.users.list({"organization_id": None}) == [viewer]
        assert await uow.end_users.list({"alias": "Cust", "budget_id": "b1"}) == [SAMPLES["end_users"]]
        assert await uow.end_users.count({"budget_id": None}) == 1
        assert await uow.deployments.list({"model_name": "gpt-4o"}) == [SAMPLES["deployments"]]


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("keys", "spend"),
        ("teams", "member_of"),
        ("users", "team_id"),
        ("budgets", "budget_id"),
        ("deployments", "model_id"),
        ("end_users", "user_id"),
        ("organizations", "team_id"),
    ],
)
async def test_filtering_by_an_undocumented_field_is_a_value_error(
    backend: Backend, kind: str, field: str
) -> None:
    async with backend.unit_of_work() as uow:
        with pytest.raises(ValueError, match=field):
            await repository(uow, kind).list({field: "x"})
        with pytest.raises(ValueError, match=field):
            await repository(uow, kind).count({field: "x"})


async def test_lists_come_in_creation_order_then_by_id_and_page(backend: Backend) -> None:
    budgets = [
        Budget(budget_id="z", created_at=T0),
        Budget(budget_id="B", created_at=T1),
        Budget(budget_id="a", created_at=T1),
        Budget(budget_id="c", created_at=T0 - timedelta(microseconds=1)),
    ]
    await saved(backend, "budgets", *budgets)
    ordered = ["c", "z", "B", "a"]

    async with backend.unit_of_work() as uow:
        assert [b.budget_id for b in await uow.budgets.list()] == ordered
        assert [b.budget_id for b in await uow.budgets.list(offset=1, limit=2)] == ordered[1:3]
        assert [b.budget_id for b in await uow.budgets.list(offset=3, limit=None)] == ordered[3:]
        assert await uow.budgets.list(offset=4) == []
        assert await uow.budgets.count() == 4


async def test_leaving_the_block_without_commit_rolls_everything_back(backend: Backend) -> None:
    async with backend.unit_of_work() as uow:
        await uow.keys.add(SAMPLES["keys"])
        await uow.deployments.add(SAMPLES["deployments"])
        await uow.audit.append(entry("e1", T0))
        assert await uow.keys.get(SAMPLES["keys"].token) == SAMPLES["keys"]

    with pytest.raises(RuntimeError):
        async with backend.unit_of_work() as uow:
            await uow.teams.add(SAMPLES["teams"])
            raise RuntimeError("boom")

    async with backend.unit_of_work() as uow:
        assert await uow.keys.count() == await uow.teams.count() == await uow.deployments.count() == 0
        assert await uow.audit.list() == []
        assert await uow.stamps() == {IDENTITY: 0, MODELS: 0}


async def test_rollback_discards_what_was_not_committed_and_is_harmless_after_a_commit(
    backend: Backend,
) -> None:
    async with backend.unit_of_work() as uow:
        await uow.users.add(sample("users", "kept"))
        await uow.commit()
        await uow.rollback()
        await uow.users.add(sample("users", "dropped"))
        await uow.rollback()
        await uow.users.add(sample("users", "later"))
        await uow.commit()

    async with backend.unit_of_work() as uow:
        assert [u.user_id for u in await uow.users.list()] == ["kept", "later"]


async def test_changes_are_visible_to_other_units_of_work_only_after_commit(backend: Backend) -> None:
    async with backend.unit_of_work() as writer, backend.unit_of_work() as reader:
        await writer.budgets.add(Budget(budget_id="b"))
        assert await reader.budgets.get("b") is None
        assert await reader.budgets.count() == 0
        await writer.commit()
        assert await reader.budgets.get("b") == Budget(budget_id="b")


async def test_of_two_units_of_work_adding_one_id_at_once_one_conflicts_and_the_other_is_kept(
    backend: Backend,
) -> None:
    async def add(amount: int, pause: float) -> None:
        async with backend.unit_of_work() as uow:
            await uow.budgets.add(Budget(budget_id="b", terms=BudgetTerms(max_budget=Decimal(amount))))
            await asyncio.sleep(pause)
            await uow.commit()

    # The databases hold the later insert until the first transaction ends; memory checks at commit.
    outcomes = await asyncio.gather(add(1, 0.05), add(2, 0), return_exceptions=True)

    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["ConflictError", "NoneType"]
    kept = 1 if outcomes[0] is None else 2
    assert (await fetch(backend, "budgets", "b")).terms.max_budget == kept
    assert await backend.stamps() == {IDENTITY: 1, MODELS: 0}


async def test_stamps_advance_per_topic_written_in_commit_order(backend: Backend) -> None:
    assert await backend.stamps() == {IDENTITY: 0, MODELS: 0}
    await saved(backend, "keys", SAMPLES["keys"])
    assert await backend.stamps() == {IDENTITY: 1, MODELS: 0}
    await saved(backend, "deployments", SAMPLES["deployments"])
    assert await backend.stamps() == {IDENTITY: 1, MODELS: 1}

    async with backend.unit_of_work() as uow:
        await uow.teams.add(SAMPLES["teams"])
        await uow.budgets.add(SAMPLES["budgets"])
        await uow.deployments.delete("m1")
        await uow.commit()
        assert await uow.stamps() == {IDENTITY: 2, MODELS: 2}
        await uow.audit.append(entry("e1", T0))
        assert await uow.deployments.delete("m1") is False
        await uow.commit()
        await uow.users.add(SAMPLES["users"])
        await uow.rollback()

    assert await backend.stamps() == {IDENTITY: 2, MODELS: 2}


async def test_the_audit_log_lists_newest_first_filtered_and_paged(backend: Backend) -> None:
    entries = [
        entry("e1", T0, before=None, after={"spend": "1.5", "models": ["a"]}),
        entry("e2", T1, table="team", object_id="t1", before={"blocked": False}, after={"blocked": True}),
        entry("e3", T0 + timedelta(seconds=1), action="deleted", before={"x": 1}, after=None),
        entry("e4", T1, object_id="k2"),
    ]
    async with backend.unit_of_work() as uow:
        for e in entries:
            await uow.audit.append(e)
        await uow.commit()

    async with backend.unit_of_work() as uow:
        assert [e.id for e in await uow.audit.list()] == ["e4", "e2", "e3", "e1"]
        assert await uow.audit.list(table="key", object_id="k1") == [entries[2], entries[0]]
        assert await uow.audit.list(table="team") == [entries[1]]
        assert [e.id for e in await uow.audit.list(offset=1, limit=2)] == ["e2", "e3"]
        with pytest.raises(ConflictError):
            await uow.audit.append(entry("e1", T1))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_an_unreachable_database_raises_store_unavailable_quickly() -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{_closed_port()}/test"
    database = Database.open(url)
    started = time.monotonic()
    try:
        with pytest.raises(StoreUnavailable):
            async with database.unit_of_work() as uow:
                await uow.keys.get(token("k"))
        with pytest.raises(StoreUnavailable):
            await database.stamps()
        with pytest.raises(StoreUnavailable):
            await upgrade(url)
    finally:
        await database.close()
    assert time.monotonic() - started < 5


async def test_two_instances_migrating_sqlite_at_once_both_succeed(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'new' / 'switchyard.db'}"
    assert await current(url) is None

    assert await asyncio.gather(upgrade(url), upgrade(url)) == [head(), head()]
    assert await current(url) == head()


async def test_two_instances_migrating_postgresql_at_once_both_succeed() -> None:
    schema = new_schema()
    await postgres_admin(f"CREATE SCHEMA {schema}")
    try:
        assert await current(POSTGRES_URL, schema=schema) is None
        results = await asyncio.gather(
            upgrade(POSTGRES_URL, schema=schema), upgrade(POSTGRES_URL, schema=schema)
        )
        assert results == [head(), head()]
        assert await current(POSTGRES_URL, schema=schema) == head()
        database = Database.open(POSTGRES_URL, schema=schema)
        assert await database.stamps() == {IDENTITY: 0, MODELS: 0}
        await database.close()
    finally:
        await postgres_admin(f"DROP SCHEMA {schema} CASCADE")


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
async def test_the_migrated_schema_is_the_one_the_adapter_maps(
    request: pytest.FixtureRequest, engine: str
) -> None:
    if engine == "sqlite":
        database = Database.open(f"sqlite+aiosqlite:///{request.getfixturevalue('migrated_sqlite')}")
    else:
        database = Database.open(POSTGRES_URL, schema=request.getfixturevalue("postgres_schema"))
    try:
        async with database.engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
    finally:
        await database.close()
    assert differences == []

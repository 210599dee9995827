"""The stores the UnitOfWork and SpendLedger contracts run against (in memory, an SQLite file, and the real
PostgreSQL at DATABASE_URL, where each test session keeps to a schema of its own, dropped at the end), and
sample records with every field set."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest

from adapters.persistence.database import Database, make_engine
from adapters.persistence.memory import InMemoryStore
from adapters.persistence.migrate import upgrade
from domain.budgets import BudgetTerms
from domain.deployments import DeploymentRecord
from domain.identity import (
    Budget,
    EndUser,
    Invitation,
    Member,
    MemberRole,
    Organization,
    RateLimits,
    Role,
    Team,
    User,
    VirtualKey,
)
from ports.spend_ledger import SpendLedger
from ports.unit_of_work import UnitOfWork

T = TypeVar("T")

POSTGRES_URL = os.environ.get("DATABASE_URL") or "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
BACKENDS = ["memory", "sqlite", "postgresql"]


@dataclass(frozen=True)
class Backend:
    name: str
    unit_of_work: Callable[[], UnitOfWork]
    stamps: Callable[[], Awaitable[Mapping[str, int]]]
    spend_ledger: Callable[[str], SpendLedger]
    """The ledger writing to a shard's rows (one shard per gateway instance)."""


def run_aside(coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs `coroutine` to the end on a loop of its own, for session fixtures set up while a test's loop
    is already running."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def postgres_admin(*statements: str) -> None:
    engine = make_engine(POSTGRES_URL, pool_size=1)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()


def new_schema() -> str:
    return f"sy_test_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str]:
    """A schema of this session's own, migrated once; each test empties it first."""
    schema = new_schema()
    run_aside(postgres_admin(f"CREATE SCHEMA {schema}"))
    try:
        run_aside(upgrade(POSTGRES_URL, schema=schema))
        yield schema
    finally:
        run_aside(postgres_admin(f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated once, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "switchyard.db"
    run_aside(upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


async def _emptied(database: Database) -> None:
    async with database.engine.begin() as connection:
        await connection.exec_driver_sql(
            "TRUNCATE keys, teams, team_members, users, organizations, organization_members, end_users,"
            " budgets, deployments, audit_log, spend_logs, spend_totals, spend_daily, spend_resets,"
            " responses, invitations"
        )
        await connection.exec_driver_sql("UPDATE change_stamps SET stamp = 0")


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "memory":
        store = InMemoryStore()
        yield Backend("memory", store.unit_of_work, store.stamps, store.spend_ledger)
        return
    if request.param == "sqlite":
        path = tmp_path / "switchyard.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
        database = Database.open(f"sqlite+aiosqlite:///{path}")
    else:
        database = Database.open(POSTGRES_URL, schema=request.getfixturevalue("postgres_schema"))
        await _emptied(database)
    yield Backend(request.param, database.unit_of_work, database.stamps, database.spend_ledger)
    await database.close()


# Sample records: every field set, none to its default.

T0 = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
T1 = T0 + timedelta(days=30, microseconds=1)
TINY = Decimal("0.000000123456789")
HUGE = Decimal("123456789012345678.000000001")
LIMITS = RateLimits(
    rpm_limit=10,
    tpm_limit=10_000,
    max_parallel_requests=2,
    model_rpm_limit={"gpt-4o": 5},
    model_tpm_limit={"gpt-4o": 500, "claude": 7},
)
METADATA = {"owner": "ml", "nested": {"list": [1, 2.5, None, True, "x"]}, "empty": {}}
STAMPS = {"created_at": T0, "updated_at": T1, "created_by": "admin", "updated_by": "ops"}
MEMBERS = (Member("u2", MemberRole.ADMIN, "b@x.io"), Member("u1"), Member("u3", MemberRole.USER, "c@x.io"))
TERMS = BudgetTerms(
    max_budget=HUGE,
    soft_budget=Decimal("0.5"),
    budget_duration="30d",
    budget_id="b1",
    model_max_budget={"gpt-4o": TINY, "claude": HUGE},
    spend=TINY,
    budget_reset_at=T1,
)
SPENDING = {
    "models": ("gpt-4o", "claude"),
    "budget": TERMS,
    "limits": LIMITS,
    "blocked": True,
    "metadata": METADATA,
}


def token(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


SAMPLES: dict[str, Any] = {
    "keys": VirtualKey(
        token=token("sk-1"),
        key_name="sk-...abcd",
        key_alias="alias-1",
        user_id="u1",
        team_id="t1",
        organization_id="o1",
        allowed_routes=("/chat/completions", "/embeddings"),
        allowed_cache_controls=("no-cache", "ttl"),
        expires=T1,
        tags=("prod", "eu"),
        **SPENDING,
        **STAMPS,
    ),
    "teams": Team(
        team_id="t1",
        team_alias="core",
        organization_id="o1",
        members=MEMBERS,
        tags=("a",),
        **SPENDING,
        **STAMPS,
    ),
    "users": User(
        user_id="u1",
        user_email="a@x.io",
        user_alias="Ada",
        user_role=Role.ORG_ADMIN,
        organization_id="o1",
        **SPENDING,
        **STAMPS,
        password_hash="$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
    ),
    "organizations": Organization(
        organization_id="o1", organization_alias="acme", members=MEMBERS, tags=("b",), **SPENDING, **STAMPS
    ),
    "end_users": EndUser(
        user_id="customer-1",
        alias="Cust",
        blocked=True,
        budget=BudgetTerms(
            max_budget=TINY,
            soft_budget=Decimal("0"),
            budget_duration="1d",
            budget_id="b1",
            model_max_budget={"claude": Decimal("2.50")},
            spend=HUGE,
            budget_reset_at=T0,
        ),
        limits=LIMITS,
        allowed_model_region="eu",
        default_model="gpt-4o",
        metadata=METADATA,
        created_at=T0,
        updated_at=T1,
    ),
    "budgets": Budget(
        budget_id="b1",
        terms=BudgetTerms(
            max_budget=HUGE,
            soft_budget=TINY,
            budget_duration="7d",
            model_max_budget={"gpt-4o": Decimal("1.10")},
            budget_reset_at=T1,
        ),
        limits=LIMITS,
        **STAMPS,
    ),
    "deployments": DeploymentRecord(
        model_id="m1",
        model_name="gpt-4o",
        litellm_params={"model": "openai/gpt-4o", "api_key": "os.environ/KEY", "rpm": 5, "temperature": 0.2},
        model_info={"mode": "chat", "input_cost_per_token": 2.5e-06},
        **STAMPS,
    ),
    "invitations": Invitation(
        id="i1", user_id="u1", expires_at=T1, is_accepted=True, accepted_at=T0, **STAMPS
    ),
}
KINDS = list(SAMPLES)
ID_FIELDS = {
    "keys": "token",
    "teams": "team_id",
    "users": "user_id",
    "organizations": "organization_id",
    "end_users": "user_id",
    "budgets": "budget_id",
    "deployments": "model_id",
    "invitations": "id",
}


def sample(kind: str, name: str, **changes: Any) -> Any:
    """The sample record of `kind` under the id `name` (a key's token is derived from it)."""
    if kind == "keys":
        changes = {"token": token(name), "key_alias": f"alias-{name}"} | changes
    else:
        changes = {ID_FIELDS[kind]: name} | changes
    return replace(SAMPLES[kind], **changes)

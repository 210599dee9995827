"""Stored deployments' credentials encrypted at rest, in SQLite and in the real PostgreSQL: the column holds
no plain text, reads come back whole, another key is named and never breaks the rest, and
`switchyard db rotate-salt-key` seals everything again under a new key."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from adapters.crypto.aes_gcm_cipher import AesGcmCredentialCipher
from adapters.persistence import tables
from adapters.persistence.database import Database, make_engine
from adapters.persistence.key_rotation import rotate_credentials
from adapters.persistence.migrate import upgrade
from application.models import ModelRegistry
from domain.access import MASTER
from domain.deployments import Deployment, DeploymentRecord
from domain.errors import BadRequestError
from ports.credential_cipher import CredentialCipher, CredentialUnreadable, is_sealed
from tests.contract.persistence_backends import (
    POSTGRES_URL,
    T0,
    T1,
    migrated_sqlite,
    postgres_schema,
    run_aside,
)
from tests.fakes import FakeClock

__all__ = ["migrated_sqlite", "postgres_schema"]  # fixtures, found by name

OLD, NEW = "old-salt-key-0123456789", "new-salt-key-9876543210"
SECRET = "sk-live-upstream-secret"
PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----abc"
RECORD = DeploymentRecord(
    model_id="m1",
    model_name="gpt-x",
    litellm_params={
        "model": "vertex_ai/gemini-2.0-flash",
        "api_key": SECRET,
        "vertex_credentials": {"type": "service_account", "private_key": PRIVATE_KEY},
        "vertex_project": "proj",
        "rpm": 5,
    },
    model_info={"mode": "chat"},
    created_at=T0,
    updated_at=T0,
)
PLAIN = DeploymentRecord(
    "m2", "gpt-y", {"model": "openai/gpt-4o", "api_key": "sk-kept-plain-before"}, {}, created_at=T1
)


def cipher(key: str) -> CredentialCipher:
    return AesGcmCredentialCipher(key)


@dataclass(frozen=True)
class Place:
    """A migrated database: its URL and, on PostgreSQL, the schema it keeps to."""

    url: str
    schema: str | None = None

    def open(self, key: str | None) -> Database:
        return Database.open(self.url, schema=self.schema, cipher=cipher(key) if key else None)


@pytest.fixture(params=["sqlite", "postgresql"])
async def place(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Place]:
    if request.param == "sqlite":
        path = tmp_path / "switchyard.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
        yield Place(f"sqlite+aiosqlite:///{path}")
        return
    # The session's schema, which other tests empty as they start, as this one does.
    found = Place(POSTGRES_URL, request.getfixturevalue("postgres_schema"))
    database = found.open(None)
    async with database.engine.begin() as connection:
        await connection.exec_driver_sql("TRUNCATE deployments, audit_log")
    await database.close()
    yield found


async def saved(place: Place, key: str | None, *records: DeploymentRecord) -> None:
    database = place.open(key)
    try:
        async with database.unit_of_work() as uow:
            for record in records:
                await uow.deployments.add(record)
            await uow.commit()
    finally:
        await database.close()


async def read(place: Place, key: str | None) -> list[DeploymentRecord]:
    database = place.open(key)
    try:
        async with database.unit_of_work() as uow:
            return await uow.deployments.list(limit=None)
    finally:
        await database.close()


async def stored_params(place: Place) -> dict[str, dict[str, Any]]:
    """The `litellm_params` column as the database holds it."""
    database = place.open(None)
    table = tables.deployments
    try:
        async with database.engine.connect() as connection:
            rows = await connection.execute(select(table.c.model_id, table.c.litellm_params))
            return {model_id: params for model_id, params in rows}
    finally:
        await database.close()


async def test_credentials_are_encrypted_in_the_column_and_read_back_whole(place: Place) -> None:
    await saved(place, OLD, RECORD)

    stored = (await stored_params(place))["m1"]
    assert SECRET not in json.dumps(stored) and PRIVATE_KEY not in json.dumps(stored)
    assert is_sealed(stored["api_key"]) and is_sealed(stored["vertex_credentials"])
    assert stored["vertex_project"] == "proj" and stored["rpm"] == 5
    assert await read(place, OLD) == [RECORD]


async def test_credentials_kept_in_plain_text_are_read_and_encrypted_on_the_next_write(place: Place) -> None:
    await saved(place, None, PLAIN)

    assert await read(place, OLD) == [PLAIN]
    database = place.open(OLD)
    try:
        async with database.unit_of_work() as uow:
            await uow.deployments.update(replace(PLAIN, model_name="gpt-z"))
            await uow.commit()
    finally:
        await database.close()

    assert is_sealed((await stored_params(place))["m2"]["api_key"])
    assert await read(place, OLD) == [replace(PLAIN, model_name="gpt-z")]


def _parse(record: DeploymentRecord) -> Deployment:
    provider, _, upstream = str(record.litellm_params["model"]).partition("/")
    return Deployment(
        id=record.model_id, model_name=record.model_name, provider=provider, upstream_model=upstream
    )


async def test_a_gateway_with_another_key_names_the_unreadable_model_and_serves_the_rest(
    place: Place,
) -> None:
    await saved(place, OLD, RECORD)
    await saved(place, None, PLAIN)
    database = place.open(NEW)
    registry = ModelRegistry(
        uow=database.unit_of_work, clock=FakeClock(), configured=[], parse=_parse, activate=lambda _: None
    )
    try:
        await registry.load()
        why = registry.broken["m1"]
        assert set(registry.broken) == {"m1"} and registry.record("m2") == PLAIN
        assert "litellm_params.api_key, litellm_params.vertex_credentials cannot be decrypted" in why
        assert SECRET not in why and PRIVATE_KEY not in why

        with pytest.raises(BadRequestError, match="vertex_credentials cannot be decrypted"):
            await registry.update(MASTER, "m1", params={"api_key": "sk-given-again"})
        await registry.update(
            MASTER, "m1", params={"api_key": "sk-given-again", "vertex_credentials": {"type": "x"}}
        )
    finally:
        await database.close()

    assert registry.broken == {}
    assert {r.model_id: r.litellm_params["api_key"] for r in await read(place, NEW)} == {
        "m1": "sk-given-again",
        "m2": "sk-kept-plain-before",
    }


async def test_rotation_seals_every_credential_under_the_new_key(place: Place) -> None:
    await saved(place, OLD, RECORD)
    await saved(place, None, PLAIN)

    count = await rotate_credentials(place.url, cipher(OLD), cipher(NEW), schema=place.schema)

    assert count == 3
    assert await read(place, NEW) == [RECORD, PLAIN]
    assert [r.unreadable for r in await read(place, OLD)] == [("api_key", "vertex_credentials"), ("api_key",)]


async def test_a_rotation_that_cannot_open_a_credential_changes_nothing(place: Place) -> None:
    await saved(place, None, PLAIN)
    await saved(place, OLD, RECORD)
    before = await stored_params(place)

    with pytest.raises(CredentialUnreadable, match=r"model m1: litellm_params\.api_key") as raised:
        await rotate_credentials(place.url, cipher("not-the-key"), cipher(NEW), schema=place.schema)

    assert SECRET not in str(raised.value)
    assert await stored_params(place) == before


# --- the command, end to end -----------------------------------------------------------------------------


def _switchyard(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "switchyard.cli", *args], capture_output=True, text=True, timeout=60, env=env
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def command_place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Place]:
    """A database of its own that the command reaches through DATABASE_URL alone: a copy of the migrated
    SQLite file, or a new PostgreSQL database, dropped after."""
    if request.param == "sqlite":
        path = tmp_path / "switchyard.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
        yield Place(f"sqlite+aiosqlite:///{path}")
        return
    name = f"sy_rotate_{uuid.uuid4().hex[:12]}"
    run_aside(_postgres_autocommit(f"CREATE DATABASE {name}"))
    try:
        url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        run_aside(upgrade(url))
        yield Place(url)
    finally:
        run_aside(_postgres_autocommit(f"DROP DATABASE {name} WITH (FORCE)"))


async def _postgres_autocommit(statement: str) -> None:
    engine = make_engine(POSTGRES_URL, pool_size=1).execution_options(isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()


def _environ(place: Place, **names: str) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.endswith("SALT_KEY") and "MASTER_KEY" not in k}
    return kept | {"DATABASE_URL": place.url} | names


async def test_the_command_rotates_the_key_of_a_database(command_place: Place) -> None:
    await saved(command_place, OLD, RECORD)
    await saved(command_place, None, PLAIN)

    result = _switchyard(
        "db",
        "rotate-salt-key",
        env=_environ(command_place, SWITCHYARD_SALT_KEY=OLD, SWITCHYARD_NEW_SALT_KEY=NEW),
    )

    assert result.returncode == 0, result.stderr
    assert "encrypted 3 stored credentials" in result.stdout
    assert await read(command_place, NEW) == [RECORD, PLAIN]


async def test_the_command_falls_back_on_the_master_key_and_takes_the_new_key_as_an_option(
    command_place: Place,
) -> None:
    await saved(command_place, "sk-master", RECORD)

    result = _switchyard(
        "db",
        "rotate-salt-key",
        "--new-key",
        NEW,
        env=_environ(command_place, SWITCHYARD_MASTER_KEY="sk-master"),
    )

    assert result.returncode == 0, result.stderr
    assert await read(command_place, NEW) == [RECORD]


async def test_the_command_with_the_wrong_current_key_fails_naming_the_model(command_place: Place) -> None:
    await saved(command_place, OLD, RECORD)

    result = _switchyard(
        "db", "rotate-salt-key", "--new-key", NEW, env=_environ(command_place, LITELLM_SALT_KEY="x")
    )
    missing = _switchyard("db", "rotate-salt-key", env=_environ(command_place, SWITCHYARD_SALT_KEY=OLD))

    assert result.returncode == 1 and "nothing changed: model m1: litellm_params.api_key" in result.stderr
    assert SECRET not in result.stderr and "Traceback" not in result.stderr
    assert missing.returncode == 2 and "--new-key" in missing.stderr
    assert await read(command_place, OLD) == [RECORD]

"""The ResponseStore contract (ports/response_store.py), inside the unit of work held in memory, in SQLite
and in the real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from domain.errors import ConflictError
from domain.identity import Team
from domain.responses import ResponseOwner, ResponseStatus, StoredResponse
from tests.contract.persistence_backends import Backend, backend, migrated_sqlite, postgres_schema

__all__ = ["backend", "migrated_sqlite", "postgres_schema"]  # fixtures, found by name

T0 = datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
DAY = timedelta(days=1)
FOREVER = datetime.max.replace(tzinfo=UTC)

BODY: dict[str, Any] = {
    "id": "resp_1",
    "object": "response",
    "status": "completed",
    "model": "gpt-4o",
    "output": [
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "content": [
                {"type": "output_text", "text": 'Grüße, 世界 🌍 — "quoted" \\ back\nslash', "annotations": []}
            ],
        },
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f", "arguments": '{"x": 1}'},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": None},
    ],
    # Keys out of alphabetical order, and numbers of every kind: each must come back as it went in.
    "zeta": 1,
    "alpha": 1.0,
    "mid": [2**53 + 1, 2**63 - 1, -(2**63), 0.1, -0.0, 1e-300, 2.5e300, True, False, None],
    "usage": {"output_tokens": 7, "input_tokens": 12, "total_tokens": 19},
    "empty": {"list": [], "map": {}, "text": ""},
    "nested": [[[{"deep": [1, [2, [3.5]]]}]]],
}
INPUT = (
    {"type": "message", "id": "msg_0", "role": "user", "content": [{"type": "input_text", "text": "héllo"}]},
    {"type": "function_call_output", "id": "fco_0", "call_id": "call_0", "output": "42"},
)


def response(id: str, **changes: Any) -> StoredResponse:
    """A response with every field set, none to its default."""
    fields: dict[str, Any] = {
        "id": id,
        "owner": ResponseOwner(key="a" * 64, team_id="t1"),
        "created_at": T0,
        "expires_at": T0 + 30 * DAY,
        "status": ResponseStatus.COMPLETED,
        "model": "gpt-4o",
        "input_items": INPUT,
        "body": BODY | {"id": id},
        "previous_response_id": None,
        "deployment_id": "d1",
        "native": True,
    }
    return StoredResponse(**(fields | changes))


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Backend]:
    """The backend with no stored responses (the PostgreSQL schema is shared by the session's tests)."""
    async with backend.unit_of_work() as uow:
        await uow.responses.purge(FOREVER)
        await uow.commit()
    yield backend


async def saved(backend: Backend, *responses: StoredResponse) -> None:
    async with backend.unit_of_work() as uow:
        for each in responses:
            await uow.responses.add(each)
        await uow.commit()


async def fetch(backend: Backend, id: str) -> StoredResponse | None:
    async with backend.unit_of_work() as uow:
        return await uow.responses.get(id)


def assert_exact(found: Any, expected: Any) -> None:
    # repr tells apart what == does not: key order, 1 from 1.0 and True, lists from tuples.
    assert found == expected
    assert repr(found) == repr(expected)


async def test_a_response_comes_back_exactly_as_saved(store: Backend) -> None:
    full = response("resp_1", previous_response_id="resp_0")
    bare = StoredResponse(
        id="resp_bare",
        owner=ResponseOwner(),
        created_at=T0,
        expires_at=T0 + DAY,
        status=ResponseStatus.QUEUED,
        model="m",
        input_items=(),
        body={},
    )
    await saved(store, full, bare)

    assert_exact(await fetch(store, "resp_1"), full)
    assert_exact(await fetch(store, "resp_bare"), bare)
    assert await fetch(store, "missing") is None


async def test_times_come_back_aware_in_utc(store: Backend) -> None:
    plus_two = timezone(timedelta(hours=2))
    await saved(store, response("r", created_at=datetime(2025, 1, 2, 5, 0, tzinfo=plus_two)))

    found = await fetch(store, "r")
    assert found is not None
    assert found.created_at == datetime(2025, 1, 2, 3, 0, tzinfo=UTC)
    assert found.created_at.utcoffset() == found.expires_at.utcoffset() == timedelta(0)


async def test_integers_beyond_64_bits_lone_surrogates_and_deep_nesting_come_back_exact(
    store: Backend,
) -> None:
    deep: Any = "bottom"
    for _ in range(300):
        deep = {"in": [deep]}
    odd = response(
        "r",
        input_items=({"type": "message", "big": 2**64 + 5, "negative": -(2**80), "text": "\ud800"},),
        body={"deep": deep, "float": 1.5, "int": 3},
    )
    await saved(store, odd)

    assert_exact(await fetch(store, "r"), odd)


async def test_a_large_body_comes_back_exactly(store: Backend) -> None:
    items = [
        {"type": "message", "id": f"msg_{i}", "content": [{"type": "output_text", "text": "ä" * 500, "n": i}]}
        for i in range(1000)
    ]
    large = response("r", body=BODY | {"output": items, "score": 0.25})
    await saved(store, large)

    assert_exact(await fetch(store, "r"), large)


async def test_adding_an_existing_id_is_a_conflict_and_the_unit_of_work_goes_on(store: Backend) -> None:
    await saved(store, response("r1"))

    async with store.unit_of_work() as uow:
        with pytest.raises(ConflictError, match="'r1' already exists"):
            await uow.responses.add(response("r1", model="other"))
        await uow.responses.add(response("r2"))
        with pytest.raises(ConflictError, match="'r2' already exists"):
            await uow.responses.add(response("r2"))
        await uow.commit()

    assert (await fetch(store, "r1")) == response("r1")
    assert (await fetch(store, "r2")) == response("r2")


async def test_changes_are_invisible_to_others_until_commit_and_a_rollback_discards_them(
    store: Backend,
) -> None:
    async with store.unit_of_work() as writer:
        await writer.responses.add(response("r"))
        assert await writer.responses.get("r") == response("r")
        assert await fetch(store, "r") is None
        await writer.rollback()
        assert await writer.responses.get("r") is None

    assert await fetch(store, "r") is None

    async with store.unit_of_work() as writer:
        await writer.responses.add(response("r"))
    # Leaving the block without a commit rolls back.
    assert await fetch(store, "r") is None

    async with store.unit_of_work() as writer:
        await writer.responses.add(response("r"))
        await writer.commit()
    assert await fetch(store, "r") == response("r")


async def test_replacing_and_deleting_are_invisible_to_others_until_commit(store: Backend) -> None:
    await saved(store, response("a"), response("b"))

    async with store.unit_of_work() as writer:
        assert await writer.responses.replace(response("a", model="new")) is True
        assert await writer.responses.delete("b") is True
        assert (await writer.responses.get("a")) == response("a", model="new")
        assert await writer.responses.get("b") is None
        assert await fetch(store, "a") == response("a")
        assert await fetch(store, "b") == response("b")

    assert await fetch(store, "a") == response("a")
    assert await fetch(store, "b") == response("b")


async def test_writing_responses_advances_no_change_stamp(store: Backend) -> None:
    before = await store.stamps()
    await saved(store, response("r"))

    assert await store.stamps() == before


async def test_a_chain_is_the_response_and_its_ancestors_oldest_first(store: Backend) -> None:
    first = response("r1")
    second = response("r2", previous_response_id="r1")
    third = response("r3", previous_response_id="r2")
    aside = response("r2b", previous_response_id="r1")
    await saved(store, third, aside, first, second)

    async with store.unit_of_work() as uow:
        assert [r.id for r in await uow.responses.chain("r3")] == ["r1", "r2", "r3"]
        assert [r.id for r in await uow.responses.chain("r2b")] == ["r1", "r2b"]
        assert_exact(await uow.responses.chain("r1"), [first])
        assert_exact(await uow.responses.chain("r3"), [first, second, third])


async def test_a_chain_stops_at_the_first_missing_ancestor_and_is_empty_for_a_missing_id(
    store: Backend,
) -> None:
    await saved(
        store,
        response("r1"),
        response("r2", previous_response_id="r1"),
        response("r3", previous_response_id="r2"),
        response("r4", previous_response_id="r3"),
    )
    async with store.unit_of_work() as uow:
        assert await uow.responses.delete("r2") is True
        await uow.commit()

    async with store.unit_of_work() as uow:
        assert [r.id for r in await uow.responses.chain("r4")] == ["r3", "r4"]
        assert await uow.responses.chain("missing") == []


async def test_a_chain_sees_the_unit_of_works_own_changes(store: Backend) -> None:
    await saved(store, response("r1"))

    async with store.unit_of_work() as uow:
        await uow.responses.add(response("r2", previous_response_id="r1"))
        assert [r.id for r in await uow.responses.chain("r2")] == ["r1", "r2"]


async def test_a_chain_that_loops_ends_before_it_repeats_a_response(store: Backend) -> None:
    await saved(store, response("r1", previous_response_id="r3"), response("r2", previous_response_id="r1"))
    await saved(store, response("r3", previous_response_id="r2"))

    async with store.unit_of_work() as uow:
        assert [r.id for r in await uow.responses.chain("r3")] == ["r1", "r2", "r3"]
        assert [r.id for r in await uow.responses.chain("r1")] == ["r2", "r3", "r1"]


async def test_replace_replaces_the_whole_record_and_says_whether_it_did(store: Backend) -> None:
    running = response("r", status=ResponseStatus.IN_PROGRESS, body={"status": "in_progress"}, native=False)
    await saved(store, running)
    done = response("r", status=ResponseStatus.COMPLETED, deployment_id="d2", expires_at=T0 + 2 * DAY)

    async with store.unit_of_work() as uow:
        assert await uow.responses.replace(done) is True
        assert await uow.responses.replace(response("missing")) is False
        await uow.commit()

    assert_exact(await fetch(store, "r"), done)
    assert await fetch(store, "missing") is None


async def test_replace_only_if_a_status_leaves_a_record_in_another_status_alone(store: Backend) -> None:
    await saved(store, response("r", status=ResponseStatus.IN_PROGRESS, body={"status": "in_progress"}))
    cancelled = response("r", status=ResponseStatus.CANCELLED, body={"status": "cancelled"})
    late = response("r", status=ResponseStatus.COMPLETED)

    async with store.unit_of_work() as uow:
        assert await uow.responses.replace(cancelled, only_if=ResponseStatus.IN_PROGRESS) is True
        await uow.commit()
    async with store.unit_of_work() as uow:
        assert await uow.responses.replace(late, only_if=ResponseStatus.IN_PROGRESS) is False
        assert await uow.responses.replace(late, only_if=ResponseStatus.QUEUED) is False
        assert await uow.responses.replace(response("missing"), only_if=ResponseStatus.CANCELLED) is False
        await uow.commit()

    assert_exact(await fetch(store, "r"), cancelled)


async def test_delete_says_whether_a_record_was_deleted(store: Backend) -> None:
    await saved(store, response("r"))

    async with store.unit_of_work() as uow:
        assert await uow.responses.delete("r") is True
        assert await uow.responses.delete("r") is False
        assert await uow.responses.delete("missing") is False
        await uow.commit()

    assert await fetch(store, "r") is None
    await saved(store, response("r"))
    assert await fetch(store, "r") == response("r")


async def test_purge_deletes_only_the_expired_and_says_how_many(store: Backend) -> None:
    now = T0 + 10 * DAY
    old = response("old", expires_at=now - DAY)
    due = response("due", expires_at=now)
    fresh = response("fresh", expires_at=now + timedelta(microseconds=1))
    await saved(store, old, due, fresh)

    async with store.unit_of_work() as uow:
        # Expired records are still there to read until purged.
        assert await uow.responses.get("old") == old
        assert [r.id for r in await uow.responses.chain("old")] == ["old"]
        assert await uow.responses.purge(now) == 2
        assert await uow.responses.purge(now) == 0
        await uow.commit()

    assert await fetch(store, "old") is None
    assert await fetch(store, "due") is None
    assert await fetch(store, "fresh") == fresh


async def test_a_purge_rolled_back_deletes_nothing(store: Backend) -> None:
    await saved(store, response("r", expires_at=T0))

    async with store.unit_of_work() as uow:
        assert await uow.responses.purge(T0 + DAY) == 1

    assert await fetch(store, "r") == response("r", expires_at=T0)


async def test_responses_commit_and_roll_back_together_with_the_other_records(store: Backend) -> None:
    async with store.unit_of_work() as uow:
        await uow.teams.add(Team(team_id="t1"))
        await uow.responses.add(response("r"))
        with pytest.raises(ConflictError):
            await uow.teams.add(Team(team_id="t1"))
    async with store.unit_of_work() as uow:
        assert (await uow.teams.get("t1"), await uow.responses.get("r")) == (None, None)

    async with store.unit_of_work() as uow:
        await uow.teams.add(Team(team_id="t1"))
        await uow.responses.add(response("r"))
        await uow.commit()
    async with store.unit_of_work() as uow:
        assert (await uow.teams.get("t1"), await uow.responses.get("r")) == (
            Team(team_id="t1"),
            response("r"),
        )


async def test_many_are_added_at_once_and_those_already_stored_are_left_as_they_are(store: Backend) -> None:
    kept = response("resp_kept", status=ResponseStatus.IN_PROGRESS)
    await saved(store, kept)
    fresh = [response("resp_new_1"), response("resp_new_2")]

    async with store.unit_of_work() as uow:
        await uow.responses.add_new([*fresh, response("resp_kept")])
        await uow.responses.add_new([])
        await uow.commit()

    assert_exact(await fetch(store, "resp_kept"), kept)
    for each in fresh:
        assert_exact(await fetch(store, each.id), each)

"""Callbacks of the operator's own: loaded by dotted path, fed each finished call's record as a plain
dict beside the calls, never in their way (a slow, failing or full callback costs the calls nothing)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from adapters.observability.callbacks import QueuedCallback, custom_callback, record_dict
from domain.completions import Usage
from domain.errors import ConfigurationError
from domain.spend import Caller, CallStatus, SpendRecord

STARTED = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _record(request_id: str = "call-1", **changes: object) -> SpendRecord:
    fields: dict = {
        "request_id": request_id,
        "call_type": "chat",
        "started_at": STARTED,
        "ended_at": STARTED + timedelta(seconds=1),
        "model_group": "gpt-x",
        "caller": Caller(key_alias="ci", team_id="t1"),
        "usage": Usage(10, 5),
        "cost": Decimal("0.000123"),
    }
    return SpendRecord(**(fields | changes))


class Recording:
    """A callback as an operator writes one: no constructor arguments, two async methods."""

    seen: list[tuple[str, dict]] = []

    async def on_success(self, record: dict) -> None:
        Recording.seen.append(("success", record))

    async def on_failure(self, record: dict) -> None:
        Recording.seen.append(("failure", record))


async def _settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def test_a_record_is_plain_json_ready_data() -> None:
    plain = record_dict(_record())

    assert plain["request_id"] == "call-1" and plain["status"] == "success"
    assert plain["cost"] == "0.000123" and plain["started_at"] == "2026-12-06T12:00:00+00:00"
    assert plain["usage"]["prompt_tokens"] == 10 and plain["caller"]["team_id"] == "t1"


async def test_a_class_named_by_its_dotted_path_gets_each_record_by_outcome() -> None:
    Recording.seen = []
    callback = custom_callback(f"{__name__}.Recording", "litellm_settings.callbacks[0]")

    callback.call_ended(_record("ok"))
    callback.call_ended(_record("bad", status=CallStatus.FAILURE, error_type="rate_limit_error"))
    await _settle()

    assert [(kind, record["request_id"]) for kind, record in Recording.seen] == [
        ("success", "ok"), ("failure", "bad")
    ]  # fmt: skip


@pytest.mark.parametrize("path", ["tests.unit.nowhere.Sink", f"{__name__}.Missing", f"{__name__}._record"])
def test_a_callback_that_cannot_be_loaded_stops_startup_naming_where(path: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        custom_callback(path, "litellm_settings.callbacks[2]")

    assert refused.value.path == "litellm_settings.callbacks[2]"


async def test_a_slow_callback_never_holds_up_a_call_and_a_full_queue_drops_and_counts() -> None:
    release = asyncio.Event()
    delivered: list[str] = []

    async def slow(record: dict, succeeded: bool) -> None:
        await release.wait()
        delivered.append(record["request_id"])

    callback = QueuedCallback("slow", slow, queue_size=2)
    for n in range(5):
        callback.call_ended(_record(f"c{n}"))  # returns at once, whatever the callback does
    await _settle()
    callback.call_ended(_record("c5"))

    release.set()
    await _settle()
    # c0 went to the callback at once and c1 waited in the queue; c2 to c4 found it full.
    assert delivered == ["c0", "c1", "c5"] and callback.dropped == 3


async def test_a_failing_callback_is_logged_once_per_outage_and_the_records_keep_flowing(capsys) -> None:
    outcomes = iter([RuntimeError("down"), RuntimeError("down"), None, RuntimeError("down again")])

    async def flaky(record: dict, succeeded: bool) -> None:
        outcome = next(outcomes)
        if outcome is not None:
            raise outcome

    callback = QueuedCallback("flaky", flaky)
    for n in range(4):
        callback.call_ended(_record(f"c{n}"))
    await _settle()

    assert callback.failed == 3
    assert callback.backlog == 0
    said = capsys.readouterr().out
    assert said.count("callback failed") == 2 and said.count("callback recovered") == 1


async def test_closing_delivers_what_is_queued() -> None:
    delivered: list[str] = []

    async def sink(record: dict, succeeded: bool) -> None:
        await asyncio.sleep(0.01)
        delivered.append(record["request_id"])

    callback = QueuedCallback("sink", sink)
    for n in range(3):
        callback.call_ended(_record(f"c{n}"))

    await callback.close()

    assert delivered == ["c0", "c1", "c2"]

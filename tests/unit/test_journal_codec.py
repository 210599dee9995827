"""Spend records as journal lines: exact both ways, and readable across versions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from adapters.journal.codec import UnreadableLine, decode, encode
from domain.spend import SpendRecord
from tests.contract.test_spend_journal import full_record, record


def test_a_record_round_trips_exactly_on_one_line() -> None:
    line = encode(full_record())

    assert b"\n" not in line
    assert decode(line) == full_record()
    assert orjson.loads(line)["cost"] == "1.23456789E-7"


def test_times_are_written_in_utc_and_read_as_the_same_instant() -> None:
    paris = timezone(timedelta(hours=2))
    moment = datetime(2025, 5, 1, 14, 0, tzinfo=paris)
    original = SpendRecord("r", "chat", moment, moment, "m")

    row = orjson.loads(encode(original))

    assert row["started_at"] == "2025-05-01T12:00:00+00:00"
    assert decode(encode(original)).started_at == moment.astimezone(UTC)


@pytest.mark.parametrize(
    "moment",
    [datetime(2025, 5, 1, 12, 0, tzinfo=UTC), datetime(2025, 5, 1, 12, 0, 0, 5, tzinfo=UTC),
     datetime(999, 1, 1, tzinfo=UTC), datetime(2025, 5, 1, 12, 0, 0, 123456)],
    ids=["utc", "utc-microseconds", "utc-year-999", "naive"],
)  # fmt: skip
def test_times_are_written_as_isoformat_writes_them(moment: datetime) -> None:
    row = orjson.loads(encode(SpendRecord("r", "chat", moment, moment, "m")))

    assert row["started_at"] == row["ended_at"] == moment.isoformat()


def test_a_later_versions_line_is_read_without_the_fields_this_one_does_not_know() -> None:
    row = orjson.loads(encode(record(1)))
    row |= {"v": 2, "a_later_field": {"x": 1}}

    assert decode(orjson.dumps(row)) == record(1)


def test_a_line_without_the_optional_fields_reads_them_as_their_defaults() -> None:
    row = {
        k: orjson.loads(encode(record(1)))[k] for k in ("request_id", "call_type", "started_at", "ended_at")
    }

    assert decode(orjson.dumps({"v": 1, **row, "model_group": "gpt-x"})) == record(1)


@pytest.mark.parametrize(
    "line",
    [b"", b"not json", b"[1, 2]", b'{"request_id": "r"}', b'{"v": 1, "request_id": 5}', b'{"v": 1}'],
)
def test_a_line_that_is_no_record_is_unreadable(line: bytes) -> None:
    with pytest.raises(UnreadableLine):
        decode(line)

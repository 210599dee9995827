"""The console's Spend page through Litestar's test client: totals and charts by day, model, team and key
from the ledger's daily aggregates, narrowed as the spend API narrows them, and their CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient

from application.access import hash_key
from domain.completions import Usage
from domain.spend import Caller, CallStatus, SpendRecord
from tests.unit.ui_console import Client, console_app, new_key, sign_in, spend_ledger

NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date()


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with AsyncTestClient(console_app()) as test_client:
        yield test_client


def call(
    request_id: str,
    cost: str,
    *,
    key: str = "a" * 64,
    alias: str | None = "ci-key",
    team: str | None = "red",
    model: str = "gpt-x",
    days_ago: int = 0,
    status: CallStatus = CallStatus.SUCCESS,
) -> SpendRecord:
    at = NOW - timedelta(days=days_ago)
    return SpendRecord(
        request_id=request_id,
        call_type="chat",
        started_at=at,
        ended_at=at + timedelta(seconds=1),
        model_group=model,
        caller=Caller(key_hash=key, key_alias=alias, team_id=team),
        usage=Usage(10, 5),
        cost=Decimal(cost),
        status=status,
    )


async def _spent(client: Client, *records: SpendRecord) -> None:
    await (await spend_ledger(client)).write(records)


async def test_an_admin_sees_totals_and_spend_by_day_model_team_and_key(client: Client) -> None:
    await sign_in(client)
    await _spent(
        client,
        call("r1", "0.25"),
        call("r2", "0.5", model="gpt-y", days_ago=2, status=CallStatus.FAILURE),
        call("r3", "1", key="b" * 64, team=None),
    )

    page = (await client.get("/ui/spend")).text

    assert f'value="{(TODAY - timedelta(days=29)).isoformat()}"' in page  # the last 30 days by default
    assert "<dd>$1.75</dd>" in page and "3 <span" in page and "2 succeeded, 1 failed" in page
    assert f"{TODAY.isoformat()}: $1.25, 2 requests" in page  # a bar of the day chart
    assert page.count('<th scope="row">') == 30 + 2 + 2 + 2  # days; models; teams; keys
    assert '<th scope="row">gpt-y</th>' in page and '<th scope="row">No team</th>' in page
    assert "key bbbbbbbbbbbb…" in page
    assert f"/ui/spend.csv?start_date={(TODAY - timedelta(days=29)).isoformat()}" in page


async def test_the_csv_holds_exactly_what_the_page_shows(client: Client) -> None:
    await sign_in(client)
    formula = await new_key(client, key_alias="=HYPERLINK(1)")
    await _spent(client, call("r1", "0.000000123"), call("r2", "2", key=hash_key(formula)))
    asked = {"start_date": TODAY.isoformat(), "end_date": TODAY.isoformat()}

    response = await client.get("/ui/spend.csv", params=asked)

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    name = f"switchyard-spend-{TODAY.isoformat()}-{TODAY.isoformat()}.csv"
    assert response.headers["content-disposition"] == f'attachment; filename="{name}"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows[0]["dimension"] == "total"
    assert rows[0]["spend_usd"] == "2.000000123" and rows[0]["total_tokens"] == "30"
    assert [(r["dimension"], r["name"]) for r in rows[1:]] == [
        ("day", TODAY.isoformat()),
        ("model", "gpt-x"),
        ("team", "red"),
        ("key", "'=HYPERLINK(1)"),  # never read as a formula
        ("key", "key aaaaaaaaaaaa…"),  # a key no longer stored, by its hash
    ]


async def test_a_virtual_key_sees_only_its_own_spend(client: Client) -> None:
    secret = await new_key(client, key_alias="mine")
    await sign_in(client, secret)
    await _spent(client, call("own", "0.5", key=hash_key(secret), alias="mine"), call("other", "7"))

    page = (await client.get("/ui/spend")).text

    assert "<dd>$0.5</dd>" in page and '<th scope="row">mine</th>' in page and "ci-key" not in page


async def test_a_team_filter_the_visitor_may_not_read_is_refused(client: Client) -> None:
    await sign_in(client, await new_key(client))

    response = await client.get("/ui/spend", params={"team_id": "red"})

    assert response.status_code == 403 and "team red" in response.text


@pytest.mark.parametrize(
    ("asked", "field", "says"),
    [
        ({"start_date": "yesterday"}, "start_date", "must be a date"),
        ({"start_date": "2026-02-02", "end_date": "2026-02-01"}, "end_date", "must not be before"),
        ({"start_date": "2020-01-01", "end_date": "2022-01-01"}, "start_date", "at most 366 days"),
    ],
)
async def test_a_bad_range_is_shown_next_to_its_field(
    client: Client, asked: dict, field: str, says: str
) -> None:
    await sign_in(client)

    response = await client.get("/ui/spend", params=asked)

    assert response.status_code == 400
    assert f'id="f-{field}-error">' in response.text and says in response.text
    assert "Spend by day" not in response.text

"""The console's Logs page through Litestar's test client: the ledger's records filtered and paged as
/spend/logs/v2 reads them, and one call in detail, its prompt and reply only where they were stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient

from adapters.http.ui.logs import PAGE_SIZE
from application.access import hash_key
from domain.completions import Usage
from domain.spend import Caller, CallStatus, SpendRecord
from tests.unit.ui_console import Client, console_app, new_key, sign_in, spend_ledger

AT = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with AsyncTestClient(console_app()) as test_client:
        yield test_client


def call(request_id: str, minutes: int = 0, **fields: object) -> SpendRecord:
    at = AT + timedelta(minutes=minutes)
    record = SpendRecord(
        request_id=request_id,
        call_type="chat",
        started_at=at,
        ended_at=at + timedelta(milliseconds=1500),
        model_group="gpt-x",
        caller=Caller(key_hash="a" * 64, key_alias="ci-key", team_id="red"),
        provider="openai",
        upstream_model="gpt-4o-mini",
        usage=Usage(12, 30, cached_tokens=4),
        cost=Decimal("0.0042"),
        input_cost=Decimal("0.0012"),
        output_cost=Decimal("0.003"),
        retries=1,
        fallbacks=1,
        time_to_first_token=0.25,
        upstream_seconds=1.2,
    )
    return replace(record, **fields)  # type: ignore[arg-type]


async def _logged(client: Client, *records: SpendRecord) -> None:
    await (await spend_ledger(client)).write(records)


async def test_an_admin_sees_every_call_newest_first(client: Client) -> None:
    await sign_in(client)
    await _logged(client, call("old"), call("new", 5, status=CallStatus.FAILURE, error_type="RateLimitError"))

    page = (await client.get("/ui/logs")).text

    assert page.index(">new</a>") < page.index(">old</a>")
    assert "2 found" in page and "RateLimitError" in page and "$0.0042" in page and "1,500 ms" in page


@pytest.mark.parametrize(
    ("asked", "shown"),
    [
        ({"model": "gpt-y"}, ["other-model"]),
        ({"status": "failure"}, ["failed"]),
        ({"team_id": "blue"}, ["other-team"]),
        ({"api_key": "b" * 64}, ["other-team"]),
        ({"start_date": "2026-03-04T12:03", "end_date": "2026-03-04T12:10"}, ["failed"]),
    ],
)
async def test_the_filters_narrow_the_calls(client: Client, asked: dict, shown: list[str]) -> None:
    await sign_in(client)
    await _logged(
        client,
        call("plain"),
        call("other-model", 1, model_group="gpt-y"),
        call("other-team", 2, caller=Caller(key_hash="b" * 64, team_id="blue")),
        call("failed", 5, status=CallStatus.FAILURE),
    )

    page = (await client.get("/ui/logs", params=asked)).text

    names = ("plain", "other-model", "other-team", "failed")
    assert [name for name in names if f">{name}</a>" in page] == shown
    assert all(f'value="{value}"' in page for value in asked.values() if len(value) > 7)


async def test_the_calls_are_paged_and_the_filters_kept_across_pages(client: Client) -> None:
    await sign_in(client)
    await _logged(client, *(call(f"c{n:03}", n) for n in range(PAGE_SIZE + 1)))

    first = (await client.get("/ui/logs", params={"model": "gpt-x"})).text
    second = (await client.get("/ui/logs", params={"model": "gpt-x", "page": "2"})).text

    assert "page 1 of 2" in first and 'href="/ui/logs?model=gpt-x&amp;page=2" rel="next"' in first
    assert ">c000</a>" in second and ">c001</a>" not in second and 'rel="prev"' in second


async def test_a_bad_filter_is_shown_next_to_its_field(client: Client) -> None:
    await sign_in(client)

    response = await client.get("/ui/logs", params={"status": "maybe"})

    assert response.status_code == 400 and 'id="f-status-error"' in response.text


async def test_a_call_in_detail_shows_timings_tokens_cost_and_error(client: Client) -> None:
    await sign_in(client)
    failed = call("c1", status=CallStatus.FAILURE, error_type="RateLimitError", status_code=429)
    await _logged(client, failed)

    page = (await client.get("/ui/logs/c1")).text

    for shown in ("1,500 ms", "1,200 ms", "300 ms", "250 ms", "RateLimitError (429)", "$0.0042", "ci-key"):
        assert shown in page, shown
    assert "<dt>Retries</dt><dd>1</dd>" in page and "<dt>Fallbacks</dt><dd>1</dd>" in page
    assert "store_prompts_in_spend_logs" in page  # no prompt stored


async def test_a_stored_prompt_and_reply_are_shown(client: Client) -> None:
    await sign_in(client)
    stored = call(
        "c1", messages=[{"role": "user", "content": "héllo <b>"}], response={"choices": [{"text": "hi"}]}
    )
    await _logged(client, stored)

    page = (await client.get("/ui/logs/c1")).text

    assert "héllo &lt;b&gt;" in page and "&#34;choices&#34;" in page
    assert "store_prompts_in_spend_logs" not in page


async def test_a_virtual_key_reads_its_own_calls_only(client: Client) -> None:
    secret = await new_key(client)
    await sign_in(client, secret)
    await _logged(client, call("mine", caller=Caller(key_hash=hash_key(secret))), call("theirs", 1))

    page = (await client.get("/ui/logs")).text
    theirs = await client.get("/ui/logs/theirs")

    assert ">mine</a>" in page and ">theirs</a>" not in page
    assert theirs.status_code == 404 and "No call with id" in theirs.text

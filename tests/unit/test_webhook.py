"""The webhook callback: call records POSTed as JSON batches beside the calls, kept and sent again while
the receiver is away, dropped (and counted) only past its capacity."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import orjson

from adapters.observability.webhook import WebhookCallback
from domain.spend import SpendRecord

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _record(request_id: str) -> SpendRecord:
    return SpendRecord(request_id=request_id, call_type="chat", started_at=NOW, ended_at=NOW, model_group="m")


class Receiver:
    """A webhook endpoint that answers `status` (or fails to connect while `down`)."""

    def __init__(self) -> None:
        self.batches: list[list[dict]] = []
        self.headers: list[httpx.Headers] = []
        self.down = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("refused", request=request)
        self.batches.append(orjson.loads(request.content))
        self.headers.append(request.headers)
        return httpx.Response(200)


class Waits:
    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)
        await asyncio.sleep(0)


async def _settle() -> None:
    for _ in range(30):
        await asyncio.sleep(0)


def _webhook(receiver: Receiver, waits: Waits, **options: object) -> WebhookCallback:
    client = httpx.AsyncClient(transport=httpx.MockTransport(receiver))
    return WebhookCallback(client, "http://hooks.test/calls", {"x-token": "t1"}, 2.0, sleep=waits, **options)


async def test_records_go_out_together_as_one_json_batch_with_the_configured_headers() -> None:
    receiver, waits = Receiver(), Waits()
    webhook = _webhook(receiver, waits)

    for n in range(3):
        webhook.call_ended(_record(f"c{n}"))
    await _settle()

    assert [[record["request_id"] for record in batch] for batch in receiver.batches] == [["c0", "c1", "c2"]]
    headers = receiver.headers[0]
    assert headers["x-token"] == "t1" and headers["content-type"] == "application/json"
    assert waits.seconds[0] == 2.0 and webhook.delivered == 3


async def test_while_the_receiver_is_away_records_are_kept_and_sent_again_with_backoff() -> None:
    receiver, waits = Receiver(), Waits()
    receiver.down = True
    webhook = _webhook(receiver, waits)

    webhook.call_ended(_record("c0"))
    await _settle()
    assert webhook.failed >= 2 and webhook.backlog == 1
    receiver.down = False
    await _settle()

    assert [record["request_id"] for batch in receiver.batches for record in batch] == ["c0"]
    backoffs = waits.seconds[1:]
    assert backoffs[:3] == [1.0, 2.0, 4.0]


async def test_past_its_capacity_new_records_are_dropped_and_counted() -> None:
    receiver, waits = Receiver(), Waits()
    receiver.down = True
    webhook = _webhook(receiver, waits, capacity=2)

    for n in range(5):
        webhook.call_ended(_record(f"c{n}"))

    assert webhook.dropped == 3 and webhook.backlog == 2
    await webhook.close(timeout=0.1)


async def test_closing_sends_what_is_waiting() -> None:
    receiver = Receiver()

    async def never(seconds: float) -> None:
        await asyncio.sleep(3600)

    client = httpx.AsyncClient(transport=httpx.MockTransport(receiver))
    webhook = WebhookCallback(client, "http://hooks.test/calls", flush_interval=60, sleep=never)
    webhook.call_ended(_record("late"))

    await webhook.close()

    assert [record["request_id"] for batch in receiver.batches for record in batch] == ["late"]

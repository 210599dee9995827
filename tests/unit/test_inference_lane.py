"""The inference lane's own parts: the request body it reads, the call ids it makes, and the coalesced writes
of the server."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from adapters.call_ids import new_call_id
from adapters.http.lane import LaneRequest
from adapters.http.server_protocol import CoalescingHttpToolsProtocol, CoalescingTransport
from domain.errors import ClientClosedRequestError, RequestTooLargeError


def _receiving(*messages: dict):
    queue = list(messages)

    async def receive() -> dict:
        return queue.pop(0)

    return receive


def _scope(*headers: tuple[bytes, bytes]) -> dict:
    return {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": list(headers)}


async def test_a_body_sent_in_pieces_is_read_whole_once() -> None:
    receive = _receiving(
        {"type": "http.request", "body": b'{"a":', "more_body": True},
        {"type": "http.request", "body": b"1}", "more_body": False},
    )
    request = LaneRequest(_scope(), receive, limit=100)

    assert await request.body() == b'{"a":1}'
    assert await request.body() == b'{"a":1}'  # kept: the receive queue is empty now


async def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    request = LaneRequest(_scope((b"content-length", b"101")), _receiving(), limit=100)

    with pytest.raises(RequestTooLargeError) as raised:
        await request.body()
    assert raised.value.status_code == 413


async def test_a_chunked_body_growing_over_the_limit_is_refused() -> None:
    receive = _receiving(
        {"type": "http.request", "body": b"x" * 60, "more_body": True},
        {"type": "http.request", "body": b"x" * 60, "more_body": True},
    )

    with pytest.raises(RequestTooLargeError):
        await LaneRequest(_scope(), receive, limit=100).body()


async def test_a_client_leaving_mid_body_is_a_closed_request() -> None:
    receive = _receiving(
        {"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}
    )

    with pytest.raises(ClientClosedRequestError):
        await LaneRequest(_scope(), receive, limit=100).body()


class _Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 4000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def test_writes_within_one_turn_of_the_loop_leave_as_one() -> None:
    transport = _Transport()
    coalescing = CoalescingTransport(transport, asyncio.get_running_loop())  # type: ignore[arg-type]

    coalescing.write(b"HTTP/1.1 200 OK\r\n\r\n")
    coalescing.write(b"{}")
    assert transport.writes == []
    await asyncio.sleep(0)
    coalescing.write(b"next")
    await asyncio.sleep(0)

    assert transport.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}", b"next"]


async def test_closing_writes_what_is_pending_first_and_nothing_after() -> None:
    transport = _Transport()
    coalescing = CoalescingTransport(transport, asyncio.get_running_loop())  # type: ignore[arg-type]

    coalescing.write(b"last words")
    coalescing.close()
    await asyncio.sleep(0)

    assert transport.writes == [b"last words"]
    assert transport.closed
    assert coalescing.get_write_buffer_size() == 0  # the rest is the wrapped transport's


async def test_a_reply_leaves_whole_as_it_ends_before_what_the_app_does_after_it() -> None:
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    transport = _Transport()
    seen_after_reply: list[list[bytes]] = []
    done = asyncio.Event()

    async def app(scope: dict, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"{}"})
        seen_after_reply.append(list(transport.writes))  # the access line, metrics... would run here
        done.set()

    config = Config(app, http=CoalescingHttpToolsProtocol, lifespan="off", access_log=False)
    config.load()
    protocol = CoalescingHttpToolsProtocol(config, ServerState(), {})
    protocol.connection_made(transport)  # type: ignore[arg-type]
    protocol.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.wait_for(done.wait(), 5)

    assert len(seen_after_reply[0]) == 1  # head and body in one write, already out
    assert seen_after_reply[0][0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert seen_after_reply[0][0].endswith(b"\r\n\r\n{}")
    protocol.connection_lost(None)


def test_call_ids_are_version_7_uuids_in_their_canonical_form_later_ones_sorting_later() -> None:
    before = time.time_ns() // 1_000_000
    made = [new_call_id() for _ in range(2000)]
    after = time.time_ns() // 1_000_000

    assert len(set(made)) == 2000
    for text in made:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (7, uuid.RFC_4122, text)
        assert before <= parsed.int >> 80 <= after  # its first 48 bits: the time it was made, in ms
    stamps = [uuid.UUID(text).int >> 80 for text in made]
    assert stamps == sorted(stamps)
    time.sleep(0.002)
    assert new_call_id() > max(made)  # as text too: the ledger's key sorts them so

"""One contract for the httpx transports the upstream clients may use, over real sockets."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from adapters.llm.aiohttp_transport import AiohttpTransport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
TIMEOUTS = {"connect": 2.0, "read": 2.0, "write": 2.0, "pool": 2.0}


@pytest.fixture(params=["httpx-default", "aiohttp"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.AsyncHTTPTransport() if request.param == "httpx-default" else AiohttpTransport()
    async with httpx.AsyncClient(transport=transport) as client:
        yield client


async def _serve(handler: Handler) -> tuple[asyncio.Server, str]:
    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/x"


def _post(client: httpx.AsyncClient, url: str, **timeouts: float) -> httpx.Request:
    return client.build_request("POST", url, content=b"{}", extensions={"timeout": TIMEOUTS | timeouts})


async def test_a_json_reply_arrives_whole_with_status_and_headers(client) -> None:
    async def reply(reader, writer) -> None:
        writer.write(b"HTTP/1.1 429 Too Many Requests\r\ncontent-length: 2\r\nretry-after: 3\r\n\r\n{}")
        await writer.drain()

    server, url = await _serve(reply)
    async with server:
        response = await client.send(_post(client, url))

    assert (response.status_code, response.content, response.headers["retry-after"]) == (429, b"{}", "3")


async def test_a_chunked_body_is_handed_over_piece_by_piece_as_it_arrives(client) -> None:
    second_sent = asyncio.Event()

    async def reply(reader, writer) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        await asyncio.sleep(0.2)
        second_sent.set()
        writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
        await writer.drain()

    server, url = await _serve(reply)
    async with server:
        response = await client.send(_post(client, url), stream=True)
        pieces = []
        async for piece in response.aiter_raw():
            pieces.append((piece, second_sent.is_set()))
        await response.aclose()

    assert pieces[0] == (b"first", False)
    assert b"".join(p for p, _ in pieces) == b"firstsecond"


async def test_a_refused_connection_is_a_connect_error(client) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(httpx.ConnectError):
        await client.send(_post(client, f"http://127.0.0.1:{port}/v1/x"))


async def test_a_peer_that_hangs_up_without_answering_is_a_protocol_error(client) -> None:
    async def hang_up(reader, writer) -> None:
        return None

    server, url = await _serve(hang_up)
    async with server:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.send(_post(client, url))


async def test_a_body_cut_short_is_a_protocol_error(client) -> None:
    async def cut(reader, writer) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()

    server, url = await _serve(cut)
    async with server:
        response = await client.send(_post(client, url), stream=True)
        with pytest.raises(httpx.RemoteProtocolError):
            _ = [piece async for piece in response.aiter_raw()]
        await response.aclose()


async def test_a_silent_peer_is_a_read_timeout(client) -> None:
    async def silent(reader, writer) -> None:
        await asyncio.sleep(2)

    server, url = await _serve(silent)
    async with server:
        with pytest.raises(httpx.ReadTimeout):
            await client.send(_post(client, url, read=0.2))

"""http_calls.post and open_stream, and the pass-through relay, over the upstream client, whichever
transport it has, over real sockets: the same bytes on the wire and the same reply, whether the request
goes out as an httpx.Request or (over the httptools transport) as bytes encoded once per deployment."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from adapters.llm import http_calls
from adapters.llm.aiohttp_transport import AiohttpTransport
from adapters.llm.httptools_transport import HttptoolsTransport
from adapters.llm.passthrough_relay import HttpxPassThrough
from adapters.llm.upstream_client import UpstreamClient
from domain.deployments import Limits
from domain.errors import (
    APIConnectionError,
    BadGatewayError,
    RateLimitError,
    SwitchyardError,
    TimeoutError,
)
from domain.passthrough import RelayRequest

TRANSPORTS: dict[str, Callable[[], httpx.AsyncBaseTransport]] = {
    "httpx-default": httpx.AsyncHTTPTransport,
    "aiohttp": AiohttpTransport,
    "httptools": HttptoolsTransport,
}
HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer sk-test"}
LIMITS = Limits(timeout=2.0, connect_timeout=2.0)


@pytest.fixture(params=list(TRANSPORTS))
async def client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    async with UpstreamClient(transport=TRANSPORTS[request.param]()) as client:
        yield client


class _Upstream:
    """Answers each request with the next of `replies` on keep-alive connections; keeps the heads it got
    and counts the connections."""

    def __init__(self, replies: list[bytes]) -> None:
        self.replies = replies
        self.heads: list[bytes] = []
        self.bodies: list[bytes] = []
        self.connections = 0

    async def start(self) -> tuple[asyncio.Server, httpx.URL]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return server, httpx.URL(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/chat/completions")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().partition(b"content-length: ")[2].partition(b"\r\n")[0] or 0)
                self.heads.append(head)
                self.bodies.append(await reader.readexactly(length))
                reply = self.replies[len(self.heads) - 1]
                if not reply:
                    await asyncio.sleep(5)
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()


def _reply(status: bytes, body: bytes, *headers: bytes) -> bytes:
    extra = b"".join(header + b"\r\n" for header in headers)
    return b"HTTP/1.1 %s\r\ncontent-length: %d\r\n%s\r\n%s" % (status, len(body), extra, body)


def _failed(status: int, content: bytes, headers: httpx.Headers) -> SwitchyardError:
    return RateLimitError(f"{status} {content.decode()} retry in {headers['retry-after']}")


async def _post(client: httpx.AsyncClient, url: httpx.URL, body: bytes = b'{"a":1}') -> httpx.Response:
    return await http_calls.post(client, url, body, dict(HEADERS), limits=LIMITS, failed=_failed)


async def test_a_reply_comes_back_whole_as_an_httpx_response(client) -> None:
    upstream = _Upstream([_reply(b"200 OK", b'{"ok":true}', b"Content-Type: application/json", b"x-id: 7")])
    server, url = await upstream.start()
    async with server:
        response = await _post(client, url)

    assert (response.status_code, response.is_success, response.content) == (200, True, b'{"ok":true}')
    assert (response.json(), response.text) == ({"ok": True}, '{"ok":true}')
    assert (response.headers["x-id"], response.headers.get("content-type")) == ("7", "application/json")
    sent = response.request
    assert (sent.method, sent.url, sent.content) == ("POST", url, b'{"a":1}')
    assert response.is_closed


async def test_the_reply_headers_read_as_sent_after_any_informational_replies(client) -> None:
    informational = (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n"
    )
    reply = _reply(b"201 Created", b"{}", b"X-Empty:", b"X-Spaced:  \tv w", b"x-dup: 1", b"X-Dup: 2")
    upstream = _Upstream([informational + reply])
    server, url = await upstream.start()
    async with server:
        response = await _post(client, url)

    assert (response.status_code, response.content) == (201, b"{}")
    assert response.headers.get("link") is None
    assert (response.headers["x-empty"], response.headers["x-spaced"], response.headers["x-dup"]) == (
        "",
        "v w",
        "1, 2",
    )


async def test_the_request_goes_out_as_httpx_frames_it(client) -> None:
    upstream = _Upstream([_reply(b"200 OK", b"{}")])
    server, url = await upstream.start()
    async with server:
        await _post(client, url, b'{"model":"m"}')
    expected = httpx.Request("POST", url, content=b'{"model":"m"}', headers=HEADERS)

    assert upstream.bodies == [b'{"model":"m"}']
    (head,) = upstream.heads
    sent = {line.partition(b":")[0].lower(): line.partition(b": ")[2] for line in head.split(b"\r\n")[1:-2]}
    for name, value in expected.headers.raw:
        assert sent[name.lower()] == value
    assert head.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")


async def test_the_httptools_transport_sends_the_very_bytes_httpx_would() -> None:
    upstream = _Upstream([_reply(b"200 OK", b"{}"), _reply(b"200 OK", b"{}")])
    server, url = await upstream.start()
    async with server, UpstreamClient(transport=HttptoolsTransport()) as client:
        await _post(client, url)
        await client.send(httpx.Request("POST", url, content=b'{"a":1}', headers=HEADERS))

    assert upstream.heads[0] == upstream.heads[1]
    assert upstream.connections == 1  # and the connection went back to the pool


async def test_a_failure_status_is_raised_as_the_adapters_error_with_body_and_headers(client) -> None:
    upstream = _Upstream([_reply(b"429 Too Many Requests", b"slow down", b"Retry-After: 3")])
    server, url = await upstream.start()
    async with server:
        with pytest.raises(RateLimitError, match="429 slow down retry in 3"):
            await _post(client, url)


async def test_a_compressed_reply_is_decoded(client) -> None:
    body = gzip.compress(b'{"ok":true}')
    upstream = _Upstream([_reply(b"200 OK", body, b"Content-Encoding: gzip")])
    server, url = await upstream.start()
    async with server:
        response = await _post(client, url)

    assert response.content == b'{"ok":true}'


async def test_headers_that_name_the_host_go_as_given() -> None:
    upstream = _Upstream([_reply(b"200 OK", b"{}")])
    server, url = await upstream.start()
    async with server, UpstreamClient(transport=HttptoolsTransport()) as client:
        await http_calls.post(client, url, b"{}", {"Host": "upstream.example"}, limits=LIMITS, failed=_failed)

    assert b"\r\nHost: upstream.example\r\n" in upstream.heads[0]


async def test_a_reply_later_than_the_whole_call_timeout_is_a_timeout(client) -> None:
    upstream = _Upstream([b""])
    server, url = await upstream.start()
    limits = Limits(timeout=0.3, connect_timeout=2.0)
    async with server:
        with pytest.raises(TimeoutError):
            await http_calls.post(client, url, b"{}", dict(HEADERS), limits=limits, failed=_failed)


async def test_a_reply_trickling_in_past_the_whole_call_timeout_is_a_timeout(client) -> None:
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for _ in range(20):  # each piece well within a read timeout, the whole beyond the call's
            writer.write(b"1\r\nx\r\n")
            await writer.drain()
            await asyncio.sleep(0.05)
        writer.close()

    server = await asyncio.start_server(trickle, "127.0.0.1", 0)
    url = httpx.URL(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/x")
    limits = Limits(timeout=0.4, connect_timeout=2.0)
    async with server:
        with pytest.raises(TimeoutError):
            await http_calls.post(client, url, b"{}", dict(HEADERS), limits=limits, failed=_failed)


async def test_a_connection_the_upstream_asked_to_close_is_not_used_again(client) -> None:
    closing = _reply(b"200 OK", b"one", b"Connection: close")
    upstream = _Upstream([closing, _reply(b"200 OK", b"two")])
    server, url = await upstream.start()
    async with server:
        first = await _post(client, url)
        second = await _post(client, url)

    assert (first.content, second.content, upstream.connections) == (b"one", b"two", 2)


async def test_a_refused_connection_or_a_peer_that_hangs_up_is_a_connection_error(client) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        refused = httpx.URL(f"http://127.0.0.1:{probe.getsockname()[1]}/v1/x")
    server = await asyncio.start_server(lambda reader, writer: writer.close(), "127.0.0.1", 0)
    hung_up = httpx.URL(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/x")

    async with server:
        for url in (refused, hung_up):
            with pytest.raises(APIConnectionError):
                await _post(client, url)


async def _open(client: httpx.AsyncClient, url: httpx.URL) -> httpx.Response:
    return await http_calls.open_stream(
        client, url, b'{"a":1}', dict(HEADERS), limits=LIMITS, failed=_failed, not_streamed=_not_streamed
    )


def _not_streamed(body: bytes) -> SwitchyardError:
    return BadGatewayError(f"not a stream: {body.decode()}")


async def test_a_stream_is_opened_and_read_as_it_comes(client) -> None:
    events = b"data: one\n\n", b"data: two\n\n"
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(event), event) for event in events) + b"0\r\n\r\n"
    reply = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    upstream = _Upstream([reply + chunked, _reply(b"200 OK", b"{}")])
    server, url = await upstream.start()
    async with server:
        response = await _open(client, url)
        body = b"".join([piece async for piece in response.aiter_bytes()])
        await response.aclose()
        await _post(client, url)

    assert (response.status_code, response.headers["content-type"], body) == (
        200,
        "text/event-stream",
        b"data: one\n\ndata: two\n\n",
    )
    assert (response.request.url, response.request.content) == (url, b'{"a":1}')
    assert upstream.connections == 1  # read to its end, the connection carried the next call


async def test_a_stream_answered_with_a_failure_or_one_json_object_is_raised_as_its_error(client) -> None:
    json_reply = _reply(b"200 OK", b'{"id":1}', b"Content-Type: application/json")
    upstream = _Upstream([_reply(b"429 Too Many Requests", b"slow down", b"Retry-After: 3"), json_reply])
    server, url = await upstream.start()
    async with server:
        with pytest.raises(RateLimitError, match="429 slow down retry in 3"):
            await _open(client, url)
        with pytest.raises(BadGatewayError, match=r'not a stream: \{"id":1\}'):
            await _open(client, url)


async def test_a_closed_client_refuses_to_post() -> None:
    client = UpstreamClient(transport=HttptoolsTransport())
    await client.aclose()

    with pytest.raises(RuntimeError):
        await _post(client, httpx.URL("http://127.0.0.1:9/v1/x"))


RELAYED_HEADERS = (
    ("anthropic-version", "2023-06-01"),
    ("x-api-key", "sk-up"),
    ("accept-encoding", "identity"),
)


async def _relayed(
    client: httpx.AsyncClient, url: httpx.URL
) -> tuple[int, tuple[tuple[str, str], ...], bytes]:
    reply = await HttpxPassThrough(client).open(
        RelayRequest("POST", str(url), RELAYED_HEADERS, b'{"model":"m"}', 5.0)
    )
    try:
        return reply.status, reply.headers, b"".join([piece async for piece in reply.body])
    finally:
        await reply.close()


async def test_a_relayed_call_goes_out_and_comes_back_as_httpx_relays_it(client) -> None:
    events = b"event: a\ndata: {}\n\n", b"event: b\ndata: {}\n\n"
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(event), event) for event in events) + b"0\r\n\r\n"
    reply = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nRequest-Id: r-1\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    upstream = _Upstream([reply + chunked, reply + chunked])
    server, url = await upstream.start()
    async with server:
        relayed = await _relayed(client, url)
        # As the relay sent every call before it built the request itself.
        timeout = httpx.Timeout(5.0, connect=5.0)
        built = client.build_request(
            "POST", str(url), headers=list(RELAYED_HEADERS), content=b'{"model":"m"}', timeout=timeout
        )
        response = await client.send(built, stream=True)
        expected = (
            response.status_code,
            tuple(response.headers.multi_items()),
            b"".join([piece async for piece in response.aiter_bytes()]),
        )
        await response.aclose()

    assert relayed == expected
    assert relayed[2] == b"".join(events)
    assert upstream.heads[0] == upstream.heads[1] and upstream.bodies == [b'{"model":"m"}'] * 2
    assert upstream.connections == 1  # read to its end, the connection carried the next call


async def test_a_compressed_relayed_reply_is_decoded(client) -> None:
    upstream = _Upstream([_reply(b"200 OK", gzip.compress(b'{"ok":true}'), b"Content-Encoding: gzip")])
    server, url = await upstream.start()
    async with server:
        status, headers, body = await _relayed(client, url)

    assert (status, body, dict(headers)["content-encoding"]) == (200, b'{"ok":true}', "gzip")

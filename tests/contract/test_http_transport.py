"""One contract for the httpx transports the upstream clients may use, over real sockets."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from adapters.llm.aiohttp_transport import AiohttpTransport
from adapters.llm.httptools_transport import HttptoolsTransport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
TIMEOUTS = {"connect": 2.0, "read": 2.0, "write": 2.0, "pool": 2.0}


TRANSPORTS: dict[str, Callable[[], httpx.AsyncBaseTransport]] = {
    "httpx-default": httpx.AsyncHTTPTransport,
    "aiohttp": AiohttpTransport,
    "httptools": HttptoolsTransport,
}


@pytest.fixture(params=list(TRANSPORTS))
async def client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=TRANSPORTS[request.param]()) as client:
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


async def _serve_keep_alive(replies: list[bytes | None]) -> tuple[asyncio.Server, str, list[int]]:
    """A server answering request i with replies[i] (None: hang up unanswered) on keep-alive connections;
    the list it returns counts the requests each connection carried."""
    per_connection: list[int] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        per_connection.append(0)
        mine = len(per_connection) - 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().partition(b"content-length: ")[2].partition(b"\r\n")[0] or 0)
                await reader.readexactly(length)
                reply = replies[sum(per_connection)]
                per_connection[mine] += 1
                if reply is None:
                    return
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/x", per_connection


def _ok(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)


async def test_a_body_without_a_length_ends_where_the_peer_closes(client) -> None:
    async def reply(reader, writer) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of it")
        await writer.drain()

    server, url = await _serve(reply)
    async with server:
        response = await client.send(_post(client, url))

    assert response.content == b"all of it"


async def test_a_connection_read_to_the_end_carries_the_next_request(client) -> None:
    server, url, per_connection = await _serve_keep_alive([_ok(b"one"), _ok(b"two"), _ok(b"three")])
    async with server:
        bodies = [(await client.send(_post(client, url))).content for _ in range(3)]

    assert (bodies, per_connection) == ([b"one", b"two", b"three"], [3])


async def test_a_reply_left_unread_does_not_leak_into_the_next_one(client) -> None:
    server, url, _ = await _serve_keep_alive([_ok(b"x" * 100_000), _ok(b"second")])
    async with server:
        first = await client.send(_post(client, url), stream=True)
        await first.aclose()
        second = await client.send(_post(client, url))

    assert second.content == b"second"


async def test_a_malformed_reply_is_a_protocol_error(client) -> None:
    async def garbage(reader, writer) -> None:
        writer.write(b"HTTP/1.1 abc not a status\r\n\r\n")
        await writer.drain()

    server, url = await _serve(garbage)
    async with server:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.send(_post(client, url))


async def test_a_consumer_that_lags_stops_the_socket_being_read_until_it_reads(client) -> None:
    size = 64 * 1024 * 1024  # beyond what loopback's socket buffers hold
    all_written = asyncio.Event()

    async def flood(reader, writer) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % size)
        for _ in range(size // 65536):
            writer.write(b"x" * 65536)
            await writer.drain()
        all_written.set()

    server, url = await _serve(flood)
    async with server:
        response = await client.send(_post(client, url), stream=True)
        await asyncio.sleep(0.3)
        held_back = not all_written.is_set()
        received = sum([len(piece) async for piece in response.aiter_raw()])
        await response.aclose()

    assert (held_back, received) == (True, size)


# What only the httptools transport promises.


@pytest.fixture
async def httptools_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=HttptoolsTransport()) as client:
        yield client


async def test_a_pooled_connection_the_server_dropped_unanswered_is_retried_once_on_a_fresh_one(
    httptools_client,
) -> None:
    client = httptools_client
    server, url, per_connection = await _serve_keep_alive([_ok(b"one"), None, _ok(b"two")])
    async with server:
        first = await client.send(_post(client, url))
        second = await client.send(_post(client, url))

    assert (first.content, second.content, per_connection) == (b"one", b"two", [2, 1])


async def test_a_fresh_connection_dropped_unanswered_is_not_retried(httptools_client) -> None:
    client = httptools_client
    server, url, per_connection = await _serve_keep_alive([None, _ok(b"never")])
    async with server:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.send(_post(client, url))

    assert per_connection == [1]


async def test_waiting_beyond_the_pool_timeout_for_a_connection_is_a_pool_timeout() -> None:
    transport = HttptoolsTransport(httpx.Limits(max_connections=1))
    server, url, _ = await _serve_keep_alive([_ok(b"held"), _ok(b"next")])
    async with server, httpx.AsyncClient(transport=transport) as client:
        held = await client.send(_post(client, url), stream=True)
        with pytest.raises(httpx.PoolTimeout):
            await client.send(_post(client, url, pool=0.1))
        await held.aread()
        after = await client.send(_post(client, url))

    assert after.content == b"next"


async def test_idle_connections_beyond_the_keep_alive_limit_are_closed() -> None:
    transport = HttptoolsTransport(httpx.Limits(max_keepalive_connections=1))
    server, url, per_connection = await _serve_keep_alive([_ok(b"%d" % i) for i in range(4)])
    async with server, httpx.AsyncClient(transport=transport) as client:
        both = [await client.send(_post(client, url), stream=True) for _ in range(2)]
        for response in both:
            await response.aread()
        await client.send(_post(client, url))
        await client.send(_post(client, url))
        await asyncio.sleep(0.05)

    assert sorted(per_connection) == [1, 3]


async def test_a_streamed_request_body_goes_out_chunked_and_whole(httptools_client) -> None:
    # (the aiohttp transport sends only bodies it was given whole)
    client = httptools_client
    received = bytearray()

    async def echo_chunked(reader, writer) -> None:
        while (size := int((await reader.readuntil(b"\r\n"))[:-2], 16)) > 0:
            received.extend((await reader.readexactly(size + 2))[:-2])
        await reader.readexactly(2)
        writer.write(_ok(b"done"))
        await writer.drain()

    async def parts() -> AsyncIterator[bytes]:
        for part in (b"{", b'"a": 1', b"}"):
            yield part

    server, url = await _serve(echo_chunked)
    async with server:
        request = client.build_request("POST", url, content=parts(), extensions={"timeout": TIMEOUTS})
        response = await client.send(request)

    assert (response.content, bytes(received)) == (b"done", b'{"a": 1}')


def _certificate_authority(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for 127.0.0.1 signed by a CA made here, and a client context
    that trusts only that CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)

    def made(subject: str, key, issuer: str, signer, *, ca: bool, san: bool):  # type: ignore[no-untyped-def]
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = made("test CA", ca_key, "test CA", ca_key, ca=True, san=False)
    leaf = made("127.0.0.1", leaf_key, "test CA", ca_key, ca=False, san=True)
    pem = serialization.Encoding.PEM
    (tmp / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp / "leaf.pem").write_bytes(leaf.public_bytes(pem))
    (tmp / "leaf.key").write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp / "leaf.pem", tmp / "leaf.key")
    return server, ssl.create_default_context(cafile=str(tmp / "ca.pem"))


async def test_an_https_upstream_is_reached_over_tls_verified_against_the_trusted_authorities(
    tmp_path: Path,
) -> None:
    server_tls, client_tls = _certificate_authority(tmp_path)

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(2)
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            writer.write(b'HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n{"ok":1}\n')
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=server_tls)
    url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/x"
    async with server:
        async with httpx.AsyncClient(transport=HttptoolsTransport(tls=client_tls)) as trusting:
            first = await trusting.send(_post(trusting, url))
            second = await trusting.send(_post(trusting, url))
        async with httpx.AsyncClient(transport=HttptoolsTransport()) as stranger:
            with pytest.raises(httpx.ConnectError):
                await stranger.send(_post(stranger, url))

    assert (first.status_code, first.content, second.content) == (200, b'{"ok":1}\n', b'{"ok":1}\n')

"""An httpx transport that speaks HTTP/1.1 itself: asyncio protocols, httptools' parser, a keep-alive pool."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
import time
from collections.abc import AsyncIterator

import httpx

from adapters.llm.httptools_connection import HttptoolsConnection

_DEFAULT_PORTS = {"http": 80, "https": 443}
_FRAMING = frozenset({"host", "content-length", "transfer-encoding"})


def _by(deadline: float | None) -> contextlib.AbstractAsyncContextManager[object]:
    """The bound of an exchange's rarer waits (a pool slot, a new connection) by its deadline."""
    return contextlib.nullcontext() if deadline is None else asyncio.timeout_at(deadline)


def pool_key(url: httpx.URL) -> tuple[str, str, int]:
    """The pool a request to `url` takes its connection from."""
    scheme = url.scheme
    if scheme not in _DEFAULT_PORTS:
        raise httpx.UnsupportedProtocol(f"Request URL has an unsupported protocol '{scheme}://'.")
    if not url.host:
        raise httpx.UnsupportedProtocol("Request URL is missing a host.")
    return (scheme, url.host, url.port or _DEFAULT_PORTS[scheme])


PostHead = tuple[tuple[str, str, int], bytes]
"""A POST's pool key, and its head up to the value of its Content-Length."""
Opened = tuple[int, list[tuple[bytes, bytes]], httpx.AsyncByteStream]
"""A reply whose head came: its status, raw headers and the stream of its body."""
Fetched = tuple[int, list[tuple[bytes, bytes]], bytes, bool]
"""A reply read whole: its status, raw headers, body (as sent: not decoded) and whether it names a
Content-Encoding."""


@functools.lru_cache(maxsize=1024)
def post_head(url: httpx.URL, headers: tuple[tuple[str, str], ...]) -> PostHead | None:
    """What HttptoolsTransport.fetch needs of a POST to `url` with `headers`, framed as httpx frames it
    (Host first, Content-Length last). Only the length changes from one call to a deployment to the
    next, so the rest is encoded once: httpx spends ~20 µs a call building a Request for the same
    bytes. None when the headers name the host or frame the body themselves: httpx's way handles them."""
    if any(name.lower() in _FRAMING for name, _ in headers):
        return None
    lines = [b"POST ", url.raw_path, b" HTTP/1.1\r\nHost: ", url.netloc, b"\r\n"]
    for name, value in headers:
        # httpx encodes header names and values as ASCII, refusing anything else.
        lines += [name.encode("ascii"), b": ", value.encode("ascii"), b"\r\n"]
    lines.append(b"Content-Length: ")
    return pool_key(url), b"".join(lines)


class ResponseStream(httpx.AsyncByteStream):
    """The body of a reply on one of the pool's connections, as it arrives."""

    def __init__(
        self, pool: HttptoolsTransport, connection: HttptoolsConnection, timeout: float | None
    ) -> None:
        self._pool, self._connection, self._timeout = pool, connection, timeout
        self.encoded = connection.encoded
        """Whether the reply names a Content-Encoding (its bytes are as sent, not decoded)."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if connection is None:
            return
        while data := await connection.read(self._timeout):
            yield data

    async def pieces(self, response: httpx.Response) -> AsyncIterator[bytes]:
        """The body's pieces as `response.aiter_raw()` yields them (the bytes as they arrive, the
        response closed once they end), without httpx's generators around them."""
        connection = self._connection
        if connection is not None:
            timeout = self._timeout
            while data := await connection.read(timeout):
                yield data
        await response.aclose()

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            # Read to its end (or all of it arrived): the socket is at a reply's boundary.
            self._pool._check_in(connection, reuse=connection.complete)


class HttptoolsTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio with httptools' parser, pooled per (scheme, host, port).

    Guarantees: a connection carries one request at a time; it goes back to the pool (at most
    `limits.max_keepalive_connections` idle ones, each for `keepalive_expiry` seconds) only when its reply
    was read to the end and the server keeps it alive, else it is closed. At most `limits.max_connections`
    are open at once (None = unbounded); waiting longer than the `pool` timeout for one is a PoolTimeout.
    Bodies are handed over as they arrive, never held for a fuller buffer, and reading stops while more
    than 256 KiB wait for the consumer. Errors are httpx's: ConnectError / ConnectTimeout opening a
    connection, WriteTimeout, ReadTimeout between two reads, RemoteProtocolError for a malformed reply or
    one cut short, ReadError for a reset. A reused connection the server had closed (the keep-alive race)
    is retried once on a fresh one when nothing of the reply had arrived and the body can be sent again.

    Beside httpx's interface, `fetch` sends a POST already encoded (see post_head) and returns its reply
    read whole, bounded as a whole call: what UpstreamClient.post_whole sends every non-streamed call by.
    """

    def __init__(self, limits: httpx.Limits | None = None, *, tls: ssl.SSLContext | None = None) -> None:
        """`tls`: the context https connections are verified with (by default the system's trust store,
        made on the first https connection)."""
        limits = limits or httpx.Limits(max_connections=None, keepalive_expiry=30.0)
        self._max_idle = limits.max_keepalive_connections
        self._expiry = limits.keepalive_expiry
        self._max_open = limits.max_connections
        self._slots = None if self._max_open is None else asyncio.Semaphore(self._max_open)
        self._idle: dict[tuple[str, str, int], list[HttptoolsConnection]] = {}
        self._idle_count = 0
        self._active = 0
        self._ssl: ssl.SSLContext | None = tls
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout") or {}
        head = self._head(request)
        try:
            body: bytes | httpx.AsyncByteStream = request.content
        except httpx.RequestNotRead:
            body = request.stream  # type: ignore[assignment]
        # httpx framed a streamed body: a Content-Length when it knew one, else chunked.
        chunked = not isinstance(body, bytes) and "chunked" in request.headers.get("transfer-encoding", "")
        connection = await self._open(pool_key(request.url), request.method, head, body, chunked, timeout)
        return httpx.Response(
            status_code=connection.status,
            headers=connection.headers,
            stream=ResponseStream(self, connection, timeout.get("read")),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def fetch(self, head: PostHead, body: bytes, timeout: dict, within: float | None = None) -> Fetched:
        """The reply to a POST of `body` (`head` from post_head), read to its end: what
        handle_async_request and reading its response do, without the httpx.Request and httpx.Response
        around them. `within`: seconds the whole fetch may take, else TimeoutError, as under
        `asyncio.timeout(within)`; each wait's own timer carries that bound instead (asyncio.timeout
        costs ~5 µs a call, a timer ~2)."""
        key, start = head
        deadline = None if within is None else asyncio.get_running_loop().time() + within
        head_bytes = b"%s%d\r\n\r\n" % (start, len(body))
        connection = await self._open(key, "POST", head_bytes, body, False, timeout, deadline)
        try:
            content = await connection.read_all(timeout.get("read"))
        except BaseException:
            self._check_in(connection, reuse=False)
            raise
        self._check_in(connection, reuse=True)
        return connection.status, connection.headers, content, connection.encoded

    async def open(self, head: PostHead, body: bytes, timeout: dict) -> Opened:
        """The reply to a POST of `body` (`head` from post_head) once its head came, its body left to
        stream: what handle_async_request answers, without the httpx.Request and httpx.Response."""
        key, start = head
        connection = await self._open(key, "POST", b"%s%d\r\n\r\n" % (start, len(body)), body, False, timeout)
        return connection.status, connection.headers, ResponseStream(self, connection, timeout.get("read"))

    async def _open(
        self,
        key: tuple[str, str, int],
        method: str,
        head: bytes,
        body: bytes | httpx.AsyncByteStream,
        chunked: bool,
        timeout: dict,
        deadline: float | None = None,
    ) -> HttptoolsConnection:
        """A connection (pooled or new) on which the request went out and the reply's head came, all by
        the loop time `deadline` if one is given; it holds a slot of the pool until checked in."""
        if self._slots is not None:
            async with _by(deadline):
                await self._take_slot(timeout.get("pool"))
        self._active += 1
        connection = None
        try:
            connection = self._idle_connection(key)
            while True:
                if connection is None:
                    async with _by(deadline):
                        connection = await self._connect(key, timeout.get("connect"))
                try:
                    connection.begin(head_only=method == "HEAD", deadline=deadline)
                    await connection.send(head, body, chunked, timeout.get("write"))
                    await connection.read_head(timeout.get("read"))
                    return connection
                except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
                    # The keep-alive race: the server closed a pooled connection as the request went
                    # out. Sent again once, on a new connection (which is not `reused`).
                    stale = connection.reused and connection.closed and not connection.answered
                    if not (stale and isinstance(body, bytes)):
                        raise
                    connection.close()
                    connection = None
        except BaseException:
            if connection is not None:
                connection.close()
            self._release_slot()
            raise

    @staticmethod
    def _head(request: httpx.Request) -> bytes:
        lines = [request.method.encode(), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
        if "host" not in request.headers:
            lines += [b"Host: ", request.url.netloc, b"\r\n"]
        for name, value in request.headers.raw:
            lines += [name, b": ", value, b"\r\n"]
        lines.append(b"\r\n")
        return b"".join(lines)

    async def _take_slot(self, timeout: float | None) -> None:
        assert self._slots is not None
        try:
            async with asyncio.timeout(timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("timed out waiting for a connection from the pool") from None

    def _idle_connection(self, key: tuple[str, str, int]) -> HttptoolsConnection | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            if connection.usable and (self._expiry is None or now - connection.idle_since < self._expiry):
                connection.reused = True
                return connection
            connection.close()
        return None

    async def _connect(self, key: tuple[str, str, int], timeout: float | None) -> HttptoolsConnection:
        scheme, host, port = key
        while (
            self._max_open is not None
            and self._idle_count
            and self._active + self._idle_count > self._max_open
        ):
            self._evict_one()  # an idle connection to another host gives its place to this one
        context = None
        if scheme == "https":
            context = self._ssl = self._ssl or ssl.create_default_context()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(
                    lambda: HttptoolsConnection(loop, key),
                    host,
                    port,
                    ssl=context,
                    server_hostname=host if context else None,
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"timed out connecting to {host}:{port}") from None
        except OSError as exc:  # refused, unreachable, DNS, TLS
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        return connection

    def _evict_one(self) -> None:
        for idle in self._idle.values():
            if idle:
                idle.pop(0).close()
                self._idle_count -= 1
                return

    def _check_in(self, connection: HttptoolsConnection, *, reuse: bool) -> None:
        self._release_slot()
        if not (reuse and connection.keep_alive and connection.usable and not self._closed):
            connection.close()
            return
        if self._max_idle is not None and self._idle_count >= self._max_idle:
            self._prune()
            if self._idle_count >= self._max_idle:
                connection.close()
                return
        connection.idle_since = time.monotonic()
        self._idle.setdefault(connection.key, []).append(connection)
        self._idle_count += 1

    def _prune(self) -> None:
        now = time.monotonic()
        for key, idle in self._idle.items():
            kept = [
                c for c in idle if c.usable and (self._expiry is None or now - c.idle_since < self._expiry)
            ]
            for connection in idle:
                if connection not in kept:
                    connection.close()
            self._idle[key] = kept
        self._idle_count = sum(len(idle) for idle in self._idle.values())

    def _release_slot(self) -> None:
        self._active -= 1
        if self._slots is not None:
            self._slots.release()

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
        self._idle_count = 0

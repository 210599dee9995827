"""An httpx transport that speaks HTTP/1.1 itself: asyncio protocols, httptools' parser, a keep-alive pool."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator

import httptools
import httpx

# The body buffered per response before the socket stops being read (a consumer that lags), and the level
# it must fall back to before reading resumes.
_HIGH_WATER = 256 * 1024
_LOW_WATER = 64 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _expire(waiter: asyncio.Future[None], error: type[httpx.TransportError]) -> None:
    if not waiter.done():
        waiter.set_exception(error(error.__name__))


class _Connection(asyncio.Protocol):
    """One socket, one request at a time; parses the reply as it arrives and buffers its body."""

    def __init__(self, loop: asyncio.AbstractEventLoop, key: tuple[str, str, int]) -> None:
        self._loop = loop
        self.key = key
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False
        self.idle_since = 0.0
        self._waiter: asyncio.Future[None] | None = None
        self._writable = True
        self._begin(head_only=False)

    def _begin(self, *, head_only: bool) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done = False
        self.complete = False
        self.answered = False  # whether any byte of a reply has arrived
        self.keep_alive = False
        self._head_only = head_only
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._error: tuple[type[httpx.TransportError], str] | None = None

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.answered = True
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self._fail(httpx.RemoteProtocolError, f"malformed reply: {exc}")
            self.close()

    def eof_received(self) -> None:
        return None  # the transport closes itself; connection_lost says what the end means

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        if self.complete or self._error is not None:
            pass
        elif self.head_done and exc is None and self._reads_until_close():
            self.complete = True
        elif exc is not None:
            self._fail(httpx.ReadError, str(exc) or type(exc).__name__)
        elif self.head_done:
            self._fail(
                httpx.RemoteProtocolError, "peer closed connection without sending complete message body"
            )
        else:
            self._fail(httpx.RemoteProtocolError, "Server disconnected without sending a response.")
        self._writable = True
        self._wake()

    def pause_writing(self) -> None:
        self._writable = False

    def resume_writing(self) -> None:
        self._writable = True
        self._wake()

    # -- httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self.headers = []  # an informational reply; the real one follows
            return
        self.status, self.head_done = status, True
        if self._head_only:  # the reply to HEAD announces a body it never sends: end here, do not reuse
            self.complete, self.keep_alive = True, False
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self._head_only:
            return
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.head_done and not self.complete:
            self.complete = True
            self.keep_alive = self._parser.should_keep_alive()
            self._wake()

    # -- used by the transport
    def _reads_until_close(self) -> bool:
        names = {name.lower() for name, _ in self.headers}
        return b"content-length" not in names and b"transfer-encoding" not in names

    def _fail(self, error: type[httpx.TransportError], message: str) -> None:
        if self._error is None:
            self._error = (error, message)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self, timeout: float | None, error: type[httpx.TransportError]) -> None:
        waiter = self._waiter = self._loop.create_future()
        timer = None if timeout is None else self._loop.call_later(timeout, _expire, waiter, error)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def _raise_error(self) -> None:
        if self._error is not None:
            error, message = self._error
            raise error(message)

    @property
    def usable(self) -> bool:
        return not self.closed and self.transport is not None and not self.transport.is_closing()

    async def send(
        self, head: bytes, body: bytes | httpx.AsyncByteStream, chunked: bool, timeout: float | None
    ) -> None:
        if self.transport is None:
            self._raise_error()
            raise httpx.WriteError("connection closed")
        if isinstance(body, bytes) and len(body) <= 65536:
            self.transport.write(head + body)  # one write, one syscall
        elif isinstance(body, bytes):
            self.transport.writelines([head, body])  # not copied behind the head
        else:
            self.transport.write(head)
            async for part in body:
                if self.transport is None:
                    break
                if part:
                    self.transport.writelines([b"%x\r\n" % len(part), part, b"\r\n"] if chunked else [part])
                await self._drain(timeout)
            if chunked and self.transport is not None:
                self.transport.write(b"0\r\n\r\n")
        await self._drain(timeout)

    async def _drain(self, timeout: float | None) -> None:
        while not self._writable and not self.closed and self._error is None:
            await self._wait(timeout, httpx.WriteTimeout)

    async def read_head(self, timeout: float | None) -> None:
        while not self.head_done:
            self._raise_error()
            await self._wait(timeout, httpx.ReadTimeout)

    async def read(self, timeout: float | None) -> bytes:
        """The body bytes buffered so far (waiting for some), b"" at its end."""
        while not self._chunks:
            if self.complete:
                return b""
            self._raise_error()
            await self._wait(timeout, httpx.ReadTimeout)
        chunks = self._chunks
        if len(chunks) == 1:
            data = chunks.popleft()
        else:  # what piled up while the consumer was busy goes as one piece
            data = b"".join(chunks)
            chunks.clear()
        self._buffered -= len(data)
        if self._paused and self._buffered < _LOW_WATER and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        self.closed = True


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, pool: HttptoolsTransport, connection: _Connection, timeout: float | None) -> None:
        self._pool, self._connection, self._timeout = pool, connection, timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if connection is None:
            return
        while data := await connection.read(self._timeout):
            yield data

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
    """

    def __init__(self, limits: httpx.Limits | None = None, *, tls: ssl.SSLContext | None = None) -> None:
        """`tls`: the context https connections are verified with (by default the system's trust store,
        made on the first https connection)."""
        limits = limits or httpx.Limits(max_connections=None, keepalive_expiry=30.0)
        self._max_idle = limits.max_keepalive_connections
        self._expiry = limits.keepalive_expiry
        self._max_open = limits.max_connections
        self._slots = None if self._max_open is None else asyncio.Semaphore(self._max_open)
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._idle_count = 0
        self._active = 0
        self._ssl: ssl.SSLContext | None = tls
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.scheme
        if scheme not in _DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"Request URL has an unsupported protocol '{scheme}://'.")
        if not url.host:
            raise httpx.UnsupportedProtocol("Request URL is missing a host.")
        key = (scheme, url.host, url.port or _DEFAULT_PORTS[scheme])
        timeout = request.extensions.get("timeout") or {}
        head = self._head(request)
        try:
            body: bytes | httpx.AsyncByteStream = request.content
        except httpx.RequestNotRead:
            body = request.stream  # type: ignore[assignment]
        # httpx framed a streamed body: a Content-Length when it knew one, else chunked.
        chunked = not isinstance(body, bytes) and "chunked" in request.headers.get("transfer-encoding", "")
        if self._slots is not None:
            try:
                async with asyncio.timeout(timeout.get("pool")):
                    await self._slots.acquire()
            except TimeoutError:
                raise httpx.PoolTimeout("timed out waiting for a connection from the pool") from None
        self._active += 1
        connection = None
        try:
            connection = self._idle_connection(key) or await self._connect(key, timeout.get("connect"))
            try:
                await self._exchange(connection, request.method, head, body, chunked, timeout)
            except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
                # The keep-alive race: the server closed a pooled connection as the request went out.
                stale = connection.reused and connection.closed and not connection.answered
                if not (stale and isinstance(body, bytes)):
                    raise
                connection.close()
                connection = await self._connect(key, timeout.get("connect"))
                await self._exchange(connection, request.method, head, body, chunked, timeout)
        except BaseException:
            if connection is not None:
                connection.close()
            self._release_slot()
            raise
        return httpx.Response(
            status_code=connection.status,
            headers=connection.headers,
            stream=_ResponseStream(self, connection, timeout.get("read")),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    @staticmethod
    def _head(request: httpx.Request) -> bytes:
        lines = [request.method.encode(), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
        if "host" not in request.headers:
            lines += [b"Host: ", request.url.netloc, b"\r\n"]
        for name, value in request.headers.raw:
            lines += [name, b": ", value, b"\r\n"]
        lines.append(b"\r\n")
        return b"".join(lines)

    @staticmethod
    async def _exchange(
        connection: _Connection,
        method: str,
        head: bytes,
        body: bytes | httpx.AsyncByteStream,
        chunked: bool,
        timeout: dict,
    ) -> None:
        connection._begin(head_only=method == "HEAD")
        await connection.send(head, body, chunked, timeout.get("write"))
        await connection.read_head(timeout.get("read"))

    def _idle_connection(self, key: tuple[str, str, int]) -> _Connection | None:
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

    async def _connect(self, key: tuple[str, str, int], timeout: float | None) -> _Connection:
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
                    lambda: _Connection(loop, key),
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

    def _check_in(self, connection: _Connection, *, reuse: bool) -> None:
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

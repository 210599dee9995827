"""One HTTP/1.1 connection of HttptoolsTransport's pool: an asyncio protocol that sends a request and
parses its reply with httptools as it arrives, buffering the body for its reader."""

from __future__ import annotations

import asyncio
from collections import deque

import httptools
import httpx

# The body buffered per response before the socket stops being read (a consumer that lags), and the level
# it must fall back to before reading resumes.
_HIGH_WATER = 256 * 1024
_LOW_WATER = 64 * 1024


def _expire(waiter: asyncio.Future[None], error: type[Exception]) -> None:
    if not waiter.done():
        waiter.set_exception(error(error.__name__))


class HttptoolsConnection(asyncio.Protocol):
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
        self.begin(head_only=False)

    def begin(self, *, head_only: bool, deadline: float | None = None) -> None:
        """Ready for the next exchange: its reply read as the answer to a HEAD or not, and every wait of
        it ending by the loop time `deadline` if one is given."""
        self.status = 0
        self._deadline = deadline  # the loop time by which the whole exchange must end
        self.headers: list[tuple[bytes, bytes]] = []
        self.encoded = False  # whether the reply names a Content-Encoding
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
        # The body's pieces of one read (a chunked reply has one per chunk) are handed on together.
        if self._chunks:
            if self._buffered > _HIGH_WATER and not self._paused and self.transport is not None:
                self._paused = True
                self.transport.pause_reading()
            self._wake()

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
        if len(name) == 16 and name.lower() == b"content-encoding":
            self.encoded = True

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self.headers, self.encoded = [], False  # an informational reply; the real one follows
            return
        self.status, self.head_done = status, True
        if self._head_only:  # the reply to HEAD announces a body it never sends: end here, do not reuse
            self.complete, self.keep_alive = True, False
        self._wake()

    def on_body(self, body: bytes) -> None:
        if not self._head_only:
            self._chunks.append(body)
            self._buffered += len(body)

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
        loop = self._loop
        waiter = self._waiter = loop.create_future()
        deadline = self._deadline
        if deadline is not None and (timeout is None or loop.time() + timeout >= deadline):
            # The whole exchange's bound comes first: its end is what asyncio.timeout would raise.
            timer: asyncio.TimerHandle | None = loop.call_at(deadline, _expire, waiter, TimeoutError)
        else:
            timer = None if timeout is None else loop.call_later(timeout, _expire, waiter, error)
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

    async def read_all(self, timeout: float | None) -> bytes:
        """The rest of the body, once it has all come."""
        data = await self.read(timeout)
        more = await self.read(timeout) if data else b""
        if not more:
            return data  # the usual reply: its body came in one piece
        pieces = [data, more]
        while more := await self.read(timeout):
            pieces.append(more)
        return b"".join(pieces)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        self.closed = True

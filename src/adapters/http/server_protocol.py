"""uvicorn's httptools protocol, with a response's writes coalesced into one socket write.

uvicorn writes a response's status line and headers, then its body, each with a write of its own: with
uvloop each is a `send` system call and, on the wire, a packet of its own for the client to read. What a
connection writes within one turn of the event loop goes out in one write here: a whole JSON answer, or
the events of a stream that arrived together. Nothing waits longer than the end of the loop's turn, and a
reply's last write goes out at once: what the app does after it (its access line, metrics, the span's end)
and the loop's next turn are not on the caller's wait.

It also tells a streamed reply that its client left as the connection is lost (`ClientWatch`, in the
scope as `CLIENT_WATCH`), where a reply would otherwise keep a task waiting on `receive()` for it."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from adapters.http.client_watch import CLIENT_WATCH, ClientWatch


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._client_watch = ClientWatch()
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[CLIENT_WATCH] = self._client_watch  # type: ignore[literal-required]

    def on_response_complete(self) -> None:
        self.transport.flush()  # type: ignore[attr-defined]
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            super().connection_lost(exc)
        finally:
            self._client_watch.connection_lost()


class CoalescingTransport:
    """A transport whose writes within one turn of the loop reach the socket as one. Closing it writes
    what is pending first; everything else is the wrapped transport's."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if self._pending is None:
            self._pending = [data]
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(data)

    def flush(self) -> None:
        """Writes what is pending now."""
        pending, self._pending = self._pending, None
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

"""The httpx client the provider adapters call upstreams with.

A plain `httpx.AsyncClient` whose `send` goes straight to the transport. What it skips is what an API
gateway must not do anyway: keep cookies from one tenant's call for the next, follow redirects, or run
an auth flow (credentials travel in each request's headers). What it skips also costs about a sixth of
the gateway's CPU per call (measured in bench/).

`post_whole` and `open_post`, the two calls http_calls makes, and `open_relayed`, the pass-through
relay's, go further over Switchyard's own transport: the request goes as bytes whose head is encoded
once per deployment (per URL and headers for a relay), and the response is built without an
httpx.Request, and without its headers parsed, until someone asks for them; a streamed body is read
straight from the connection. Over any other transport (aiohttp's, a proxy's) they are `send` as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx

from adapters.llm.httptools_transport import (
    HttptoolsTransport,
    PostHead,
    ResponseStream,
    pool_key,
    post_head,
)

_UNSEEN = object()


class UpstreamClient(httpx.AsyncClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._relay_heads: dict[
            tuple[str, tuple[tuple[str, str], ...]], tuple[HttptoolsTransport, PostHead, httpx.URL] | None
        ] = {}

    async def send(self, request: httpx.Request, *, stream: bool = False, **_: Any) -> httpx.Response:
        if self.is_closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        response = await self._transport_for_url(request.url).handle_async_request(request)
        response.request = request
        if not stream:
            try:
                await response.aread()
            except BaseException:
                await response.aclose()
                raise
        return response

    async def post_whole(
        self,
        url: httpx.URL,
        content: bytes,
        headers: Mapping[str, str],
        timeout: dict[str, float],
        *,
        within: float,
    ) -> httpx.Response:
        """The reply to a POST of `content`, read whole, as `send` would answer it under
        `asyncio.timeout(within)` (TimeoutError when the whole call takes longer). Over Switchyard's own
        transport the request goes out as bytes and comes back as a WholeResponse: building an
        httpx.Request and an httpx.Response (parsing every header of both) cost ~40 µs of a call's
        ~60 µs of Python in this client (measured in process against bench/mock_upstream.py)."""
        direct = self._direct(url, headers)
        if direct is not None:
            transport, head = direct
            status, raw_headers, body, encoded = await transport.fetch(head, content, timeout, within)
            sent = (url, content, headers, timeout)
            if not encoded:
                return WholeResponse(status, raw_headers, body, sent)
            # A compressed body: httpx's decoders read it as they would have.
            response = httpx.Response(
                status, headers=raw_headers, stream=httpx.ByteStream(body), request=_request(*sent)
            )
            await response.aread()
            return response
        async with asyncio.timeout(within):
            return await self.send(_request(url, content, headers, timeout))

    async def open_post(
        self, url: httpx.URL, content: bytes, headers: Mapping[str, str], timeout: dict[str, float]
    ) -> httpx.Response:
        """The reply to a POST of `content` once its head came, its body left to stream, as
        `send(..., stream=True)` would answer it; over Switchyard's own transport without building an
        httpx.Request (~20 µs), one made only if the response's `request` is asked for."""
        direct = self._direct(url, headers)
        if direct is not None:
            transport, head = direct
            status, raw_headers, stream = await transport.open(head, content, timeout)
            return StreamedResponse(status, raw_headers, stream, (url, content, headers, timeout))
        return await self.send(_request(url, content, headers, timeout), stream=True)

    async def open_relayed(
        self, url: str, headers: Sequence[tuple[str, str]], content: bytes, timeout: httpx.Timeout
    ) -> httpx.Response | None:
        """The reply to a relayed POST of `content` once its head came, its body left to stream, as
        `send(build_request("POST", url, headers=..., content=..., timeout=...), stream=True)` would
        answer it, the client's default headers merged in; None where that must be done instead (not
        Switchyard's own transport, an empty body). The head is httpx's own, built once per URL and
        headers: building the request cost a relayed call ~50 us."""
        if not content or self.is_closed:
            return None
        cache_key = (url, tuple(headers))
        relayed = self._relay_heads.get(cache_key, _UNSEEN)
        if relayed is _UNSEEN:
            if len(self._relay_heads) >= 1024:
                self._relay_heads.clear()
            relayed = self._relay_heads[cache_key] = self._relay_head(url, headers)
        if relayed is None:
            return None
        transport, head, target = relayed
        limits = timeout.as_dict()
        status, raw_headers, stream = await transport.open(head, content, limits)
        return StreamedResponse(status, raw_headers, stream, (target, content, dict(headers), limits))

    def _relay_head(
        self, url: str, headers: Sequence[tuple[str, str]]
    ) -> tuple[HttptoolsTransport, PostHead, httpx.URL] | None:
        # A one-byte stand-in body: httpx frames it with a Content-Length after every other header.
        request = self.build_request("POST", url, headers=list(headers), content=b"-")
        transport = self._transport_for_url(request.url)
        raw = request.headers.raw
        if not isinstance(transport, HttptoolsTransport) or not raw or raw[-1] != (b"Content-Length", b"1"):
            return None
        lines = [b"POST ", request.url.raw_path, b" HTTP/1.1\r\n"]
        if "host" not in request.headers:
            lines += [b"Host: ", request.url.netloc, b"\r\n"]
        for name, value in raw[:-1]:
            lines += [name, b": ", value, b"\r\n"]
        lines.append(b"Content-Length: ")
        return transport, (pool_key(request.url), b"".join(lines)), request.url

    def _direct(
        self, url: httpx.URL, headers: Mapping[str, str]
    ) -> tuple[HttptoolsTransport, PostHead] | None:
        """Switchyard's own transport and the head of a POST to `url` encoded for it, when the request
        can go that way (else it goes as an httpx.Request)."""
        transport = self._transport_for_url(url)
        if not isinstance(transport, HttptoolsTransport) or self.is_closed:
            return None
        head = post_head(url, tuple(headers.items()))
        return None if head is None else (transport, head)


_HTTP11 = {"http_version": b"HTTP/1.1"}


def _request(
    url: httpx.URL, content: bytes, headers: Mapping[str, str], timeout: dict[str, float]
) -> httpx.Request:
    return httpx.Request("POST", url, content=content, headers=headers, extensions={"timeout": timeout})


Sent = tuple[httpx.URL, bytes, Mapping[str, str], dict[str, float]]
"""What a request was made of: its URL, body, headers and timeouts."""


class _OnDemand(httpx.Response):
    """A response whose request is built from what was sent, and whose headers are parsed, only if
    someone asks for them: a call that succeeds never does. httpx.Response.__init__ is not called: a
    subclass sets the attributes it sets."""

    _sent: Sent
    _raw_headers: list[tuple[bytes, bytes]]
    _headers: httpx.Headers | None

    def _made(self, status_code: int, raw_headers: list[tuple[bytes, bytes]], sent: Sent) -> None:
        self.status_code = status_code
        self._raw_headers = raw_headers
        self._headers = None
        self._sent = sent
        self._request = None
        self.next_request = None
        self.extensions = dict(_HTTP11)
        self.history = []
        self.default_encoding = "utf-8"

    @property
    def request(self) -> httpx.Request:
        if self._request is None:
            self._request = _request(*self._sent)
        return self._request

    @request.setter
    def request(self, value: httpx.Request) -> None:
        self._request = value

    @property  # type: ignore[override]
    def headers(self) -> httpx.Headers:
        if self._headers is None:
            self._headers = httpx.Headers(self._raw_headers)
        return self._headers

    @headers.setter
    def headers(self, value: httpx.Headers) -> None:
        self._headers = value

    @property
    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """The headers as received: (name, value) pairs, names as sent."""
        return self._raw_headers

    def raw_header(self, name: bytes) -> bytes | None:
        """The value of header `name` (lower case) as received, several joined as httpx joins them;
        None when absent. Read without parsing every header."""
        size = len(name)
        values = [value for key, value in self._raw_headers if len(key) == size and key.lower() == name]
        if not values:
            return None
        return values[0] if len(values) == 1 else b", ".join(values)


class StreamedResponse(_OnDemand):
    """An httpx.Response whose body is left to stream. Over Switchyard's own transport an unencoded
    body is read straight from the connection: httpx's aiter_bytes puts two generators and a decoder
    between each read and its reader, and parses every header to choose that decoder."""

    def __init__(
        self,
        status_code: int,
        raw_headers: list[tuple[bytes, bytes]],
        stream: httpx.AsyncByteStream,
        sent: Sent,
    ) -> None:
        self._made(status_code, raw_headers, sent)
        self.stream = stream
        self.is_closed = False
        self.is_stream_consumed = False
        self._num_bytes_downloaded = 0

    def aiter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:  # type: ignore[override]
        stream = self.stream
        if (
            chunk_size is None
            and isinstance(stream, ResponseStream)
            and not stream.encoded
            and not self.is_stream_consumed
            and not self.is_closed
        ):
            self.is_stream_consumed = True
            return stream.pieces(self)
        return super().aiter_bytes(chunk_size)


class WholeResponse(_OnDemand):
    """A reply already read whole, as httpx.Response would hold it once read, made without parsing its
    headers until someone asks for them (an error's reading, a provider that wants a request id): a
    call that succeeds needs neither them nor its request."""

    def __init__(
        self, status_code: int, raw_headers: list[tuple[bytes, bytes]], content: bytes, sent: Sent
    ) -> None:
        self._made(status_code, raw_headers, sent)
        self.stream = httpx.ByteStream(content)
        self._content = content
        self._num_bytes_downloaded = len(content)
        self.is_closed = True
        self.is_stream_consumed = True

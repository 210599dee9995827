"""The httpx client the provider adapters call upstreams with.

A plain `httpx.AsyncClient` whose `send` goes straight to the transport. What it skips is what an API
gateway must not do anyway: keep cookies from one tenant's call for the next, follow redirects, or run
an auth flow (credentials travel in each request's headers). What it skips also costs about a sixth of
the gateway's CPU per call (measured in bench/).

`post_whole` and `open_post`, the two calls http_calls makes, go further over Switchyard's own transport:
the request goes as bytes whose head is encoded once per deployment, and the response is built without
an httpx.Request (nor, read whole, its headers parsed) until someone asks for them; over any other
transport (aiohttp's, a proxy's) they are `send` as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx

from adapters.llm.httptools_transport import HttptoolsTransport, PostHead, post_head


class UpstreamClient(httpx.AsyncClient):
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


class _RequestOnDemand(httpx.Response):
    """A response whose request is built from what was sent only if someone asks for it: a call that
    succeeds never does."""

    _sent: Sent

    @property
    def request(self) -> httpx.Request:
        if self._request is None:
            self._request = _request(*self._sent)
        return self._request

    @request.setter
    def request(self, value: httpx.Request) -> None:
        self._request = value


class StreamedResponse(_RequestOnDemand):
    """An httpx.Response whose body is left to stream."""

    def __init__(
        self,
        status_code: int,
        raw_headers: list[tuple[bytes, bytes]],
        stream: httpx.AsyncByteStream,
        sent: Sent,
    ) -> None:
        super().__init__(status_code, headers=raw_headers, stream=stream, extensions=_HTTP11)
        self._sent = sent


class WholeResponse(_RequestOnDemand):
    """A reply already read whole, as httpx.Response would hold it once read, made without parsing its
    headers until someone asks for them (an error's reading, a provider that wants a request id): a
    call that succeeds needs neither them nor its request."""

    def __init__(
        self, status_code: int, raw_headers: list[tuple[bytes, bytes]], content: bytes, sent: Sent
    ) -> None:
        # httpx.Response.__init__ is not called: these are the attributes it sets, in their read state.
        self.status_code = status_code
        self._raw_headers = raw_headers
        self._headers: httpx.Headers | None = None
        self._sent = sent
        self._request = None
        self.next_request = None
        self.extensions = dict(_HTTP11)
        self.history = []
        self.default_encoding = "utf-8"
        self.stream = httpx.ByteStream(content)
        self._content = content
        self._num_bytes_downloaded = len(content)
        self.is_closed = True
        self.is_stream_consumed = True

    @property  # type: ignore[override]
    def headers(self) -> httpx.Headers:
        if self._headers is None:
            self._headers = httpx.Headers(self._raw_headers)
        return self._headers

    @headers.setter
    def headers(self, value: httpx.Headers) -> None:
        self._headers = value

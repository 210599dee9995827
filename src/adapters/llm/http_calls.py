"""The HTTP calls every provider adapter makes: a POST sent whole or opened as a stream, with the
deployment's timeouts and the adapter's own reading of a failure status, and the chunk stream read from
an opened reply."""

from __future__ import annotations

import asyncio
import functools
from abc import abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from types import TracebackType

import httpx

from adapters.llm.json_io import close_quietly
from adapters.llm.sse import sse_event_batches
from adapters.llm.upstream_client import StreamedResponse, UpstreamClient
from adapters.llm.upstream_errors import TRANSPORT_FAILURES, transport_error, transport_errors
from domain.completions import CompletionChunk
from domain.deployments import Limits
from domain.errors import SwitchyardError
from ports.llm_provider import ChunkStream

StatusError = Callable[[int, bytes, httpx.Headers], SwitchyardError]
"""An adapter's error translation: the domain error for a failure status, its body and its headers."""
BodyError = Callable[[bytes], SwitchyardError]
"""An adapter's reading of one JSON object sent where a stream was asked for (an error, or a refusal)."""


async def post(
    client: httpx.AsyncClient,
    url: httpx.URL,
    content: bytes,
    headers: dict[str, str],
    *,
    limits: Limits,
    failed: StatusError,
) -> httpx.Response:
    """The whole answer to a POST of `content`; a failure status is raised as the error `failed` makes
    of it."""
    with transport_errors():
        # httpx times each read, not the whole call: `within` (or the outer timer) bounds the whole call.
        if isinstance(client, UpstreamClient):
            timeout = timeouts(limits.timeout, limits.connect_timeout, None)
            response = await client.post_whole(url, content, headers, timeout, within=limits.timeout)
        else:
            async with asyncio.timeout(limits.timeout):
                response = await client.send(_request(url, content, headers, limits, None))
    if not 200 <= response.status_code < 300:  # is_success, without parsing the reply's headers
        raise failed(response.status_code, response.content, response.headers)
    return response


async def open_stream(
    client: httpx.AsyncClient,
    url: httpx.URL,
    content: bytes,
    headers: dict[str, str],
    *,
    limits: Limits,
    failed: StatusError,
    not_streamed: BodyError | None = None,
    timed: bool = False,
) -> httpx.Response:
    """The answer to a POST of `content` once its status line and headers came, its body left to stream
    (each read bounded by the stream timeout). A failure status is raised as the error `failed` makes of
    it; with `not_streamed`, so is one JSON object answered instead of a stream. Whatever is raised, the
    response is closed first. `timed` bounds the opening by the whole-call timeout too."""
    with transport_errors():
        if timed:
            async with asyncio.timeout(limits.timeout):
                response = await _open(client, url, content, headers, limits)
        else:
            response = await _open(client, url, content, headers, limits)
    if not response.is_success:
        raise failed(response.status_code, await read_and_close(response), response.headers)
    if not_streamed is not None and is_json(response):
        raise not_streamed(await read_and_close(response))
    return response


def is_json(response: httpx.Response) -> bool:
    """Whether a stream request was answered with one JSON object instead of a stream."""
    if isinstance(response, StreamedResponse):  # read without parsing every header
        return (response.raw_header(b"content-type") or b"").startswith(b"application/json")
    return response.headers.get("content-type", "").startswith("application/json")


async def read_and_close(response: httpx.Response) -> bytes:
    """The rest of the body of a reply that will not be streamed; the reply is closed whatever happens."""
    try:
        with transport_errors():
            return await response.aread()
    finally:
        await close_quietly(response)


async def _open(
    client: httpx.AsyncClient, url: httpx.URL, content: bytes, headers: dict[str, str], limits: Limits
) -> httpx.Response:
    if isinstance(client, UpstreamClient):
        timeout = timeouts(limits.timeout, limits.connect_timeout, limits.stream_timeout)
        return await client.open_post(url, content, headers, timeout)
    return await client.send(_request(url, content, headers, limits, limits.stream_timeout), stream=True)


def _request(
    url: httpx.URL, content: bytes, headers: dict[str, str], limits: Limits, read: float | None
) -> httpx.Request:
    # A request built directly and sent skips httpx's per-call merging of client defaults.
    return httpx.Request(
        "POST",
        url,
        content=content,
        headers=headers,
        extensions={"timeout": timeouts(limits.timeout, limits.connect_timeout, read)},
    )


@functools.lru_cache(maxsize=1024)
def joined_url(api_base: str, path: str) -> httpx.URL:
    """`path` under `api_base`, whether or not the base ends with a slash."""
    # Parsing a URL costs httpx more than the rest of building a request: do it once per upstream.
    return httpx.URL(api_base.rstrip("/") + path)


@functools.lru_cache(maxsize=1024)
def timeouts(total: float, connect: float, read: float | None) -> dict[str, float]:
    """httpx's per-request timeout extension."""
    return {"connect": connect, "read": read or total, "write": total, "pool": total}


class ResponseChunkStream(ChunkStream):
    """Chunks read from an opened upstream reply as they arrive, a batch per network read; closing the
    stream closes the reply.

    A subclass writes `batches()`, turning the reply's bytes into batches, in this shape:

        async def batches(self):
            if self._closed:
                return
            async with self._reading():
                async for piece in self._response.aiter_bytes():
                    ...

    It is the subclass's own generator, not one this class wraps, because a wrapping generator would
    cost every chunk one more hop; `_reading()` costs once per stream."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[CompletionChunk]:
        async for batch in self.batches():
            for chunk in batch:
                yield chunk

    @abstractmethod
    def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        """The reply's chunks, a batch per network read; nothing once the stream is closed."""

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await close_quietly(self._response)

    def _reading(self) -> _Reading:
        """Around the reading of the reply: httpx's failures become domain errors, and the stream is
        closed when the reading ends, however it ends."""
        return _Reading(self)


class SseChunkStream(ResponseChunkStream):
    """Chunks read from a reply of SSE events, a batch per network read, for upstreams whose events each
    make at most a chunk: a subclass writes `_read_events()`, and `_last()` if a chunk comes once the
    events end. A domain error the events make is raised once the chunks before it are yielded."""

    async def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        if self._closed:
            return
        async with self._reading():
            async for events in sse_event_batches(self._body()):
                batch: list[CompletionChunk] = []
                failure: SwitchyardError | None = None
                try:
                    ended = self._read_events(events, batch)
                except SwitchyardError as exc:  # an error event, or a malformed one
                    ended, failure = True, exc
                if batch:
                    yield batch
                if failure is not None:
                    raise failure
                if ended or self._closed:
                    return
            if not self._closed and (last := self._last()) is not None:
                yield (last,)

    @abstractmethod
    def _read_events(self, events: Sequence[tuple[str, bytes]], batch: list[CompletionChunk]) -> bool:
        """Adds the chunks of one network read's `(event, data)` pairs to `batch`; whether the stream
        ended with them."""

    def _body(self) -> AsyncIterator[bytes]:
        """The reply's SSE bytes; a reply that wraps them in an envelope of its own overrides it."""
        return self._response.aiter_bytes()

    def _last(self) -> CompletionChunk | None:
        """A chunk to end a stream whose events ended without saying so; none by default."""
        return None


class _Reading:
    __slots__ = ("_stream",)

    def __init__(self, stream: ResponseChunkStream) -> None:
        self._stream = stream

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            if isinstance(exc, TRANSPORT_FAILURES):
                raise transport_error(exc) from exc
        finally:
            await self._stream.aclose()

"""The pass-through relay over one pooled httpx client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import httpx

from adapters.llm.upstream_client import StreamedResponse, UpstreamClient
from domain.errors import APIConnectionError, TimeoutError
from domain.passthrough import RelayReply, RelayRequest
from ports.passthrough import PassThrough


class HttpxPassThrough(PassThrough):
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def open(self, request: RelayRequest) -> RelayReply:
        client = self._client
        timeout = httpx.Timeout(request.timeout, connect=min(10.0, request.timeout))
        with _translated(request.url):
            response = None
            if isinstance(client, UpstreamClient) and request.method == "POST":
                response = await client.open_relayed(request.url, request.headers, request.body, timeout)
            if response is None:
                built = client.build_request(
                    request.method,
                    request.url,
                    headers=list(request.headers),
                    content=request.body or None,
                    timeout=timeout,
                )
                response = await client.send(built, stream=True)
        return RelayReply(
            response.status_code, _headers(response), _body(response, request.url), response.aclose
        )


def _headers(response: httpx.Response) -> tuple[tuple[str, str], ...]:
    """The reply's headers as httpx's multi_items gives them (names in lower case), decoded without
    parsing them all into httpx.Headers when they are ASCII, as they nearly always are."""
    if isinstance(response, StreamedResponse):
        with contextlib.suppress(UnicodeDecodeError):
            raw = response.raw_headers
            return tuple([(name.lower().decode("ascii"), value.decode("ascii")) for name, value in raw])
    return tuple(response.headers.multi_items())


async def _body(response: httpx.Response, url: str) -> AsyncIterator[bytes]:
    with _translated(url):
        async for chunk in response.aiter_bytes():
            yield chunk


@contextlib.contextmanager
def _translated(url: str | httpx.URL) -> Iterator[None]:
    # The host is read from the URL only when a failure names it: parsing a URL costs ~15 us, twice a call.
    try:
        yield
    except httpx.TimeoutException as exc:
        raise TimeoutError(f"The upstream {_host(url)} did not answer in time.") from exc
    except httpx.HTTPError as exc:
        raise APIConnectionError(f"The upstream {_host(url)} could not be reached: {exc}") from exc


def _host(url: str | httpx.URL) -> str:
    return (url if isinstance(url, httpx.URL) else httpx.URL(url)).host

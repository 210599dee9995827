"""The pass-through relay over one pooled httpx client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import httpx

from domain.errors import APIConnectionError, TimeoutError
from domain.passthrough import RelayReply, RelayRequest
from ports.passthrough import PassThrough


class HttpxPassThrough(PassThrough):
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def open(self, request: RelayRequest) -> RelayReply:
        built = self._client.build_request(
            request.method,
            request.url,
            headers=list(request.headers),
            content=request.body or None,
            timeout=httpx.Timeout(request.timeout, connect=min(10.0, request.timeout)),
        )
        with _translated(request.url):
            response = await self._client.send(built, stream=True)
        return RelayReply(
            response.status_code, tuple(response.headers.multi_items()), _body(response), response.aclose
        )


async def _body(response: httpx.Response) -> AsyncIterator[bytes]:
    with _translated(response.request.url):
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

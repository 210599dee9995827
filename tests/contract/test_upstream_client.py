"""The upstream client behaves as an httpx client for what the adapters use, and keeps no state."""

from __future__ import annotations

import httpx
import pytest

from adapters.llm.upstream_client import UpstreamClient


def _handler(seen: list[httpx.Request]):
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/redirect":
            return httpx.Response(302, headers={"location": "/elsewhere"})
        return httpx.Response(200, headers={"set-cookie": "session=tenant-a"}, json={"ok": True})

    return handle


@pytest.fixture(params=[httpx.AsyncClient, UpstreamClient])
async def client_and_requests(request: pytest.FixtureRequest):
    seen: list[httpx.Request] = []
    async with request.param(transport=httpx.MockTransport(_handler(seen))) as client:
        yield client, seen


async def test_a_request_is_sent_and_its_reply_read_whole(client_and_requests) -> None:
    client, seen = client_and_requests

    response = await client.send(httpx.Request("POST", "http://up/v1/x", content=b"{}"))

    assert response.json() == {"ok": True}
    assert seen[0].content == b"{}"


async def test_a_streamed_reply_is_read_piece_by_piece(client_and_requests) -> None:
    client, _ = client_and_requests

    response = await client.send(httpx.Request("GET", "http://up/v1/x"), stream=True)
    body = b"".join([piece async for piece in response.aiter_bytes()])
    await response.aclose()

    assert body == b'{"ok":true}'


async def test_the_upstream_client_keeps_no_cookies_and_follows_no_redirects() -> None:
    seen: list[httpx.Request] = []
    async with UpstreamClient(transport=httpx.MockTransport(_handler(seen))) as client:
        await client.send(httpx.Request("GET", "http://up/v1/x"))
        await client.send(httpx.Request("GET", "http://up/v1/x"))
        redirected = await client.send(httpx.Request("GET", "http://up/redirect"))

    assert "cookie" not in seen[1].headers
    assert redirected.status_code == 302
    assert len(seen) == 3


async def test_a_closed_client_refuses_to_send() -> None:
    client = UpstreamClient(transport=httpx.MockTransport(_handler([])))
    await client.aclose()

    with pytest.raises(RuntimeError):
        await client.send(httpx.Request("GET", "http://up/v1/x"))

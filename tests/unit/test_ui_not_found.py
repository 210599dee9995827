"""Unknown console addresses: a 404 page in the console's layout, not the API's JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from tests.unit.ui_console import Client, console_app, sign_in


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with AsyncTestClient(console_app()) as test_client:
        yield test_client


async def test_an_unknown_page_is_a_404_page_in_the_console_layout(client: Client) -> None:
    await sign_in(client)

    for path in ("/ui/nope", "/ui/nope/deeper", "/ui/static/../nope"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert "<h1>Page not found</h1>" in response.text and 'href="/ui/keys"' in response.text


async def test_an_unknown_page_sends_a_visitor_not_signed_in_to_the_login_page(client: Client) -> None:
    response = await client.get("/ui/nope", follow_redirects=False)

    assert response.status_code == 303 and response.headers["location"] == "/ui/login"


async def test_known_pages_and_assets_still_answer(client: Client) -> None:
    await sign_in(client)

    assert (await client.get("/ui/keys")).status_code == 200
    assert (await client.get("/ui/static/console.css")).status_code == 200
    assert (await client.get("/ui/static/nope.js")).status_code == 404


async def test_an_address_below_a_real_page_is_a_404_page_too(client: Client) -> None:
    await sign_in(client)

    response = await client.get("/ui/keys/x/y/z")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html") and "Back to the console" in response.text

"""What the Teams, Users, Organizations and Customers page tests share: the console signed in, records
made and read through the management API, and form posts."""

from __future__ import annotations

from typing import Any

from tests.unit.ui_console import MASTER, Client


async def api(client: Client, path: str, **body: object) -> Any:
    """A management API call made with the master key, which must succeed."""
    response = await client.post(path, json=body, headers=MASTER)
    assert response.status_code == 200, response.text
    return response.json()


async def read(client: Client, path: str) -> Any:
    """What a management API read answers the master key (None for a 404)."""
    response = await client.get(path, headers=MASTER)
    return None if response.status_code == 404 else response.json()


async def post(client: Client, path: str, token: str, **data: str) -> Any:
    """A console form post, with the session's CSRF token, not following the redirect."""
    return await client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)

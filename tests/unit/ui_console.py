"""Helpers for the admin console's handler tests: the app the composition root builds, signed in
through the login form as a real browser would be."""

from __future__ import annotations

import inspect
import re
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.config.loader import load_config
from bootstrap import build_container, create_http_app
from ports.spend_ledger import SpendLedger

MASTER_KEY = "sk-master-console"
MASTER = {"authorization": f"Bearer {MASTER_KEY}"}
Client = AsyncTestClient[Litestar]
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def console_app(**general: Any) -> Litestar:
    config = load_config(
        {
            "model_list": [
                {"model_name": "demo", "litellm_params": {"model": "mock/demo", "rpm": 60}},
            ],
            "general_settings": {"master_key": MASTER_KEY, **general},
        },
        {"DATABASE_URL": "memory://"},
    )
    return create_http_app(build_container(config))


async def login_form(client: Client) -> dict[str, str]:
    """The login form's hidden CSRF field, as a browser gets it (with its pre-session cookie)."""
    return {"csrf_token": csrf_token(await client.get("/ui/login"))}


async def sign_in(client: Client, key: str = MASTER_KEY) -> str:
    """Signs in with `key` and answers the session's CSRF token, read from a page's form."""
    response = await client.post(
        "/ui/login", data={"key": key, **await login_form(client)}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return csrf_token(await client.get("/ui/models"))


def csrf_token(page: Any) -> str:
    assert page.status_code == 200, page.text
    found = _CSRF.search(page.text)
    assert found is not None, "the page has no form carrying the CSRF token"
    return found.group(1)


async def new_key(client: Client, **fields: Any) -> str:
    """A virtual key made through the management API (the secret)."""
    response = await client.post("/key/generate", json=fields, headers=MASTER)
    assert response.status_code == 200, response.text
    return response.json()["key"]


async def spend_ledger(client: Client) -> SpendLedger:
    """The app's spend ledger, to write the records of calls straight into it."""
    found = client.app.dependencies["spend_ledger"].dependency()
    return await found if inspect.isawaitable(found) else found

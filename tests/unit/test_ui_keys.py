"""The console's Keys page through Litestar's test client: keys listed and filtered as /key/list lists
them, and made, changed, blocked, regenerated and deleted through the same use cases as /key/*, a new
secret shown once."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from adapters.http.ui.keys import KeyRow
from application.access import hash_key
from domain.budgets import BudgetTerms
from domain.identity import VirtualKey
from tests.unit.ui_console import MASTER, Client, console_app, new_key, sign_in

NEW_KEY = {
    "key_alias": "search-bot",
    "models": "demo, other",
    "max_budget": "10.5",
    "budget_duration": "30d",
    "rpm_limit": "60",
    "tpm_limit": "",
    "max_parallel_requests": "2",
    "duration": "7d",
    "metadata": '{"team": "search"}',
}
_SECRET = re.compile(r'id="new-secret" type="text" value="(sk-[^"]+)"')


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with AsyncTestClient(console_app()) as test_client:
        yield test_client


async def _create(client: Client, token: str, **changes: str) -> Any:
    return await client.post("/ui/keys", data={**NEW_KEY, **changes, "csrf_token": token})


async def _info(client: Client, ref: str) -> dict[str, Any]:
    response = await client.get("/key/info", params={"key": ref}, headers=MASTER)
    assert response.status_code == 200, response.text
    return response.json()["info"]


def _secret_of(page: str) -> str:
    found = _SECRET.search(page)
    assert found is not None, "the page shows no new secret"
    return found.group(1)


async def test_an_admin_creates_a_key_whose_secret_is_shown_once(client: Client) -> None:
    token = await sign_in(client)

    response = await _create(client, token)

    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    secret = _secret_of(response.text)
    info = await _info(client, secret)
    assert info["key_alias"] == "search-bot" and info["models"] == ["demo", "other"]
    assert info["max_budget"] == 10.5 and info["budget_duration"] == "30d"
    assert info["rpm_limit"] == 60 and info["tpm_limit"] is None and info["max_parallel_requests"] == 2
    assert info["metadata"] == {"team": "search"} and info["expires"] is not None
    listed = (await client.get("/ui/keys")).text
    assert "search-bot" in listed and "$0 of $10.5" in listed and secret not in listed
    edit = (await client.get(f"/ui/keys/{hash_key(secret)}/edit")).text
    assert 'value="search-bot"' in edit and secret not in edit


@pytest.mark.parametrize(
    ("field", "typed"),
    [
        ("rpm_limit", "lots"),
        ("max_budget", "ten"),
        ("budget_duration", "fortnightly"),
        ("duration", "soon"),
        ("metadata", "[1, 2]"),
        ("metadata", "{not json"),
    ],
)
async def test_a_refused_field_is_shown_next_to_it_and_nothing_is_made(
    client: Client, field: str, typed: str
) -> None:
    token = await sign_in(client)

    response = await _create(client, token, **{field: typed})

    assert response.status_code == 400
    assert f'id="f-{field}-error"' in response.text and 'value="search-bot"' in response.text
    assert "new-secret" not in response.text
    assert (await client.get("/key/list", headers=MASTER)).json()["total_count"] == 0


async def test_a_taken_alias_is_named(client: Client) -> None:
    token = await sign_in(client)
    await _create(client, token)

    response = await _create(client, token)

    assert response.status_code == 400 and 'id="f-key_alias-error"' in response.text
    assert "already exists" in response.text


async def test_the_list_filters_and_pages_as_key_list_does(client: Client) -> None:
    token = await sign_in(client)
    for n in range(11):
        await _create(client, token, key_alias=f"bulk-{n:02}", models="", metadata="", user_id="ann")
    await _create(client, token, key_alias="lone", user_id="bob")

    first = (await client.get("/ui/keys", params={"user_id": "ann"})).text
    second = (await client.get("/ui/keys", params={"user_id": "ann", "page": "2"})).text
    by_alias = (await client.get("/ui/keys", params={"key_alias": "lone"})).text

    assert "11 keys, page 1 of 2" in first and "lone" not in first
    assert 'href="/ui/keys?user_id=ann&amp;page=2"' in first
    assert "bulk-10" in second and 'rel="prev"' in second
    assert "1 key<" in by_alias and "lone" in by_alias and "bulk-00" not in by_alias


async def test_an_edit_sends_only_what_changed_and_an_emptied_field_clears_it(client: Client) -> None:
    token = await sign_in(client)
    secret = _secret_of((await _create(client, token)).text)
    form = {**NEW_KEY, "duration": "", "max_budget": "", "rpm_limit": "120", "csrf_token": token}

    response = await client.post(f"/ui/keys/{hash_key(secret)}", data=form, follow_redirects=False)

    assert response.status_code == 303 and response.headers["location"] == "/ui/keys"
    info = await _info(client, secret)
    assert info["max_budget"] is None and info["rpm_limit"] == 120
    assert info["models"] == ["demo", "other"] and info["expires"] is not None


async def test_an_edit_error_is_shown_on_the_edit_form(client: Client) -> None:
    token = await sign_in(client)
    secret = _secret_of((await _create(client, token)).text)

    response = await client.post(
        f"/ui/keys/{hash_key(secret)}", data={**NEW_KEY, "tpm_limit": "-1", "csrf_token": token}
    )

    assert response.status_code == 400 and 'id="f-tpm_limit-error"' in response.text
    assert (await _info(client, secret))["tpm_limit"] is None


async def test_a_blocked_key_is_refused_by_the_api_until_unblocked(client: Client) -> None:
    token = await sign_in(client)
    secret = await new_key(client, key_alias="blockme")
    ref = hash_key(secret)
    caller = {"authorization": f"Bearer {secret}"}

    await client.post(f"/ui/keys/{ref}/block", data={"csrf_token": token})
    blocked = await client.get("/v1/models", headers=caller)
    page = (await client.get("/ui/keys")).text
    await client.post(f"/ui/keys/{ref}/unblock", data={"csrf_token": token})

    assert blocked.status_code == 401 and "blocked" in page and "Unblock" in page
    assert (await client.get("/v1/models", headers=caller)).status_code == 200


async def test_regenerating_shows_a_new_secret_once_and_the_old_one_stops_working(client: Client) -> None:
    token = await sign_in(client)
    old = await new_key(client, key_alias="rolling")

    response = await client.post(f"/ui/keys/{hash_key(old)}/regenerate", data={"csrf_token": token})

    fresh = _secret_of(response.text)
    assert fresh != old and response.headers["cache-control"] == "no-store"
    assert (await client.get("/v1/models", headers={"authorization": f"Bearer {old}"})).status_code == 401
    assert (await client.get("/v1/models", headers={"authorization": f"Bearer {fresh}"})).status_code == 200


async def test_deleting_asks_first_on_a_page_of_its_own(client: Client) -> None:
    token = await sign_in(client)
    ref = hash_key(await new_key(client, key_alias="doomed"))

    confirm = await client.get(f"/ui/keys/{ref}/delete")
    response = await client.post(f"/ui/keys/{ref}/delete", data={"csrf_token": token}, follow_redirects=False)

    assert confirm.status_code == 200 and "Delete key doomed?" in confirm.text
    assert f'action="/ui/keys/{ref}/delete"' in confirm.text
    assert response.status_code == 303
    assert (await client.get("/key/info", params={"key": ref}, headers=MASTER)).status_code == 404


async def test_an_internal_user_sees_and_makes_only_their_own_keys(client: Client) -> None:
    await new_key(client, key_alias="someone-elses", user_id="bob")
    token = await sign_in(client, await new_key(client, key_alias="alice-login", user_id="alice"))

    page = (await client.get("/ui/keys")).text
    made = _secret_of((await _create(client, token, models="", max_budget="")).text)
    others = await client.get("/ui/keys", params={"user_id": "bob"})

    assert "alice-login" in page and "someone-elses" not in page
    assert (await _info(client, made))["user_id"] == "alice"
    assert others.status_code == 403


async def test_a_viewer_reads_the_list_and_is_refused_a_change(client: Client) -> None:
    created = await client.post(
        "/user/new", json={"user_id": "vic", "user_role": "internal_user_viewer"}, headers=MASTER
    )
    assert created.status_code == 200, created.text
    token = await sign_in(client, await new_key(client, key_alias="vic-login", user_id="vic"))

    page = (await client.get("/ui/keys")).text
    response = await _create(client, token)

    assert "vic-login" in page and "Create a key" not in page and "Actions" not in page
    assert response.status_code == 403


def test_a_row_shows_spend_against_its_budget() -> None:
    key = VirtualKey(token=hash_key("sk-row"), key_name="sk-...-row")
    spent = dataclasses.replace(key, budget=BudgetTerms(max_budget=Decimal(4), spend=Decimal("1.0000004")))
    over = dataclasses.replace(key, budget=BudgetTerms(max_budget=Decimal(2), spend=Decimal(3)))

    assert KeyRow(key).spend == "$0 (no budget)" and KeyRow(key).spent_share is None
    assert KeyRow(spent).spend == "$1 of $4" and KeyRow(spent).spent_share == pytest.approx(0.25)
    assert KeyRow(over).spent_share == 1.0

"""The console's Users and Customers pages through Litestar's test client: users listed a page at a
time with /user/list's filters, a user's teams, keys and budget, customers with their budgets, and
changes through the same use cases as /user/* and /customer/*."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from tests.unit.directory_console import api, post, read
from tests.unit.ui_console import Client, console_app, new_key, sign_in


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with AsyncTestClient(console_app()) as test_client:
        yield test_client


async def _user(client: Client, user_id: str) -> dict | None:
    found = await read(client, f"/user/info?user_id={user_id}")
    return found["user_info"] if found else None


async def test_an_admin_creates_a_user_without_a_key_and_lands_on_it(client: Client) -> None:
    token = await sign_in(client)

    response = await post(
        client,
        "/ui/users",
        token,
        user_id="ada",
        user_email="ada@example.com",
        user_role="internal_user_viewer",
        max_budget="5",
        budget_duration="1mo",
        max_parallel_requests="2",
    )

    assert response.status_code == 303 and response.headers["location"] == "/ui/users/ada"
    user = await _user(client, "ada")
    assert user["user_email"] == "ada@example.com" and user["user_role"] == "internal_user_viewer"
    assert user["max_budget"] == 5 and user["max_parallel_requests"] == 2
    assert (await read(client, "/user/info?user_id=ada"))["keys"] == []
    page = (await client.get("/ui/users/ada")).text
    assert "User ada@example.com" in page and "$0 of $5" in page and "1mo" in page


async def test_the_list_filters_by_role_and_pages(client: Client) -> None:
    for n in range(27):
        await api(client, "/user/new", user_id=f"u{n:02}", auto_create_key=False)
    await api(client, "/user/new", user_id="boss", user_role="proxy_admin", auto_create_key=False)
    await sign_in(client)

    first = (await client.get("/ui/users")).text
    second = (await client.get("/ui/users?page=2&role=internal_user")).text
    admins = (await client.get("/ui/users?role=proxy_admin")).text

    assert "of 28" in first and "Next page" in first and "Page 1 of 2" in first
    assert '<option value="internal_user" selected>' in first  # a new user's role unless chosen
    assert "Previous page" in second and "page=1&amp;role=internal_user" in second
    assert "boss" in admins and "u00" not in admins and 'value="proxy_admin" selected' in admins


async def test_a_bad_filter_is_refused_by_the_use_case(client: Client) -> None:
    await sign_in(client)

    response = await client.get("/ui/users?role=wizard")

    assert response.status_code == 400 and "role must be one of" in response.text


async def test_a_duplicate_email_is_named_next_to_its_field(client: Client) -> None:
    await api(client, "/user/new", user_email="ada@example.com", auto_create_key=False)
    token = await sign_in(client)

    response = await post(client, "/ui/users", token, user_email="ada@example.com", user_role="internal_user")

    assert response.status_code == 400
    assert re.search(r'id="f-user_email-error">[^<]*already exists', response.text)


async def test_the_detail_shows_teams_and_keys_and_an_edit_saves(client: Client) -> None:
    await api(client, "/user/new", user_id="ada", auto_create_key=False)
    await api(
        client, "/team/new", team_id="t-1", team_alias="research", members_with_roles=[{"user_id": "ada"}]
    )
    await api(client, "/key/generate", user_id="ada", key_alias="ada-laptop")
    token = await sign_in(client)

    page = (await client.get("/ui/users/ada")).text
    saved = await post(
        client, "/ui/users/ada", token, user_alias="Ada L.", user_role="org_admin", rpm_limit="9"
    )

    assert "research" in page and "ada-laptop" in page
    assert saved.status_code == 303
    user = await _user(client, "ada")
    assert user["user_alias"] == "Ada L." and user["user_role"] == "org_admin" and user["rpm_limit"] == 9


async def test_an_admin_deletes_a_user(client: Client) -> None:
    await api(client, "/user/new", user_id="ada", auto_create_key=False)
    token = await sign_in(client)

    response = await post(client, "/ui/users/ada/delete", token)

    assert response.headers["location"] == "/ui/users" and await _user(client, "ada") is None


async def test_an_internal_user_reads_only_itself(client: Client) -> None:
    await api(client, "/user/new", user_id="ada", auto_create_key=False)
    await api(client, "/user/new", user_id="bob", auto_create_key=False)
    token = await sign_in(client, await new_key(client, user_id="ada"))

    own = await client.get("/ui/users/ada")
    other = await client.get("/ui/users/bob")
    listing = await client.get("/ui/users")
    refused = await post(client, "/ui/users/ada", token, user_role="proxy_admin")

    assert own.status_code == 200 and "Edit user" not in own.text
    assert other.status_code == 403 and listing.status_code == 403
    assert refused.status_code == 403 and (await _user(client, "ada"))["user_role"] == "internal_user"


async def test_an_admin_adds_edits_blocks_and_deletes_a_customer(client: Client) -> None:
    token = await sign_in(client)

    added = await post(
        client,
        "/ui/customers",
        token,
        user_id="acme",
        alias="Acme",
        allowed_model_region="eu",
        max_budget="3",
    )
    assert added.headers["location"] == "/ui/customers/acme"
    listed = (await client.get("/ui/customers")).text
    edited = await post(
        client, "/ui/customers/acme", token, alias="Acme Co", allowed_model_region="", soft_budget="1"
    )
    await post(client, "/ui/customers/acme/block", token)

    assert "Acme" in listed and "$0 of $3" in listed
    assert edited.status_code == 303
    customer = await read(client, "/customer/info?end_user_id=acme")
    assert customer["alias"] == "Acme Co" and customer["allowed_model_region"] is None
    assert customer["soft_budget"] == 1 and customer["max_budget"] is None and customer["blocked"] is True
    await post(client, "/ui/customers/acme/unblock", token)
    assert (await read(client, "/customer/info?end_user_id=acme"))["blocked"] is False
    await post(client, "/ui/customers/acme/delete", token)
    assert await read(client, "/customer/info?end_user_id=acme") is None


async def test_a_customer_without_an_id_is_named(client: Client) -> None:
    token = await sign_in(client)

    response = await post(client, "/ui/customers", token, alias="nameless")

    assert response.status_code == 400 and 'id="f-user_id-error"' in response.text


async def test_customers_are_refused_to_a_key_holder(client: Client) -> None:
    await sign_in(client, await new_key(client))

    response = await client.get("/ui/customers")

    assert response.status_code == 403 and "proxy_admin" in response.text
    assert "Sign out" in response.text and 'href="/ui/keys"' in response.text  # its navigation stays


async def test_a_customer_id_as_an_application_sends_it_is_kept_whole_in_the_address(client: Client) -> None:
    token = await sign_in(client)

    added = await post(client, "/ui/customers", token, user_id="ada lovelace@app")
    page = await client.get(added.headers["location"])

    assert added.headers["location"] == "/ui/customers/ada%20lovelace%40app"
    assert page.status_code == 200 and "Customer ada lovelace@app" in page.text

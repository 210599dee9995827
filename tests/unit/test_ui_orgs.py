"""The console's Organizations page through Litestar's test client: organizations with their members,
teams and budgets, and changes through the same use cases as /organization/*."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from tests.unit.directory_console import api, post, read
from tests.unit.ui_console import Client, console_app, new_key, sign_in


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with AsyncTestClient(console_app()) as test_client:
        yield test_client


async def _org(client: Client, organization_id: str) -> dict | None:
    return await read(client, f"/organization/info?organization_id={organization_id}")


async def test_an_admin_creates_an_organization_with_a_budget(client: Client) -> None:
    token = await sign_in(client)

    response = await post(
        client, "/ui/organizations", token, organization_alias="Acme", models="demo", max_budget="100"
    )

    assert response.status_code == 303
    org_id = response.headers["location"].rsplit("/", 1)[1]
    org = await _org(client, org_id)
    assert org["organization_alias"] == "Acme" and org["models"] == ["demo"]
    assert org["litellm_budget_table"]["max_budget"] == 100
    assert "Acme" in (await client.get("/ui/organizations")).text


async def test_an_organization_needs_a_name(client: Client) -> None:
    token = await sign_in(client)

    response = await post(client, "/ui/organizations", token, models="demo")

    assert response.status_code == 400 and 'id="f-organization_alias-error"' in response.text


async def test_members_join_with_an_organization_role_and_teams_are_listed(client: Client) -> None:
    await api(client, "/organization/new", organization_id="o-1", organization_alias="Acme")
    await api(client, "/team/new", team_id="t-1", team_alias="research", organization_id="o-1")
    token = await sign_in(client)

    added = await post(
        client,
        "/ui/organizations/o-1/members",
        token,
        **{"member.user_email": "lead@example.com", "member.role": "org_admin"},
    )

    assert added.status_code == 303
    page = (await client.get("/ui/organizations/o-1")).text
    assert "lead@example.com" in page and "<td>admin</td>" in page and "research" in page


async def test_a_bad_member_role_is_named(client: Client) -> None:
    await api(client, "/organization/new", organization_id="o-1", organization_alias="Acme")
    token = await sign_in(client)

    response = await post(
        client,
        "/ui/organizations/o-1/members",
        token,
        **{"member.user_id": "x", "member.role": "proxy_admin"},
    )

    assert response.status_code == 400 and 'id="f-member-role-error"' in response.text
    assert 'value="Acme"' in response.text  # the edit form keeps the stored values


async def test_an_edit_saves_and_a_delete_of_an_organization_with_teams_is_explained(client: Client) -> None:
    await api(client, "/organization/new", organization_id="o-1", organization_alias="Acme")
    await api(client, "/team/new", team_id="t-1", organization_id="o-1")
    token = await sign_in(client)

    saved = await post(client, "/ui/organizations/o-1", token, organization_alias="Acme Inc", tpm_limit="500")
    refused = await post(client, "/ui/organizations/o-1/delete", token)

    assert saved.status_code == 303
    org = await _org(client, "o-1")
    assert org["organization_alias"] == "Acme Inc"
    assert refused.status_code == 400 and "still holds 1 team(s)" in refused.text
    await api(client, "/team/delete", team_ids=["t-1"])
    deleted = await post(client, "/ui/organizations/o-1/delete", token)
    assert deleted.headers["location"] == "/ui/organizations" and await _org(client, "o-1") is None


async def test_an_org_admin_sees_its_organization_and_may_not_create_one(client: Client) -> None:
    await api(client, "/organization/new", organization_id="o-1", organization_alias="Mine")
    await api(client, "/organization/new", organization_id="o-2", organization_alias="Theirs")
    await api(
        client,
        "/user/new",
        user_id="lead",
        user_role="org_admin",
        organization_id="o-1",
        auto_create_key=False,
    )
    token = await sign_in(client, await new_key(client, user_id="lead"))

    listed = (await client.get("/ui/organizations")).text
    other = await client.get("/ui/organizations/o-2")
    refused = await post(client, "/ui/organizations", token, organization_alias="Sneaky")

    assert "Mine" in listed and "Theirs" not in listed and "Create an organization" not in listed
    assert other.status_code == 403 and refused.status_code == 403

"""The console's Teams page through Litestar's test client: teams listed and filtered as /team/list
does, a team's members, budget and keys, and changes through the same use cases as /team/*."""

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


async def _team_info(client: Client, team_id: str) -> dict:
    return (await read(client, f"/team/info?team_id={team_id}"))["team_info"]


async def test_an_admin_creates_a_team_with_a_budget_and_limits_and_lands_on_it(client: Client) -> None:
    token = await sign_in(client)

    response = await post(
        client,
        "/ui/teams",
        token,
        team_alias="research",
        models="demo, other",
        max_budget="25.5",
        budget_duration="30d",
        soft_budget="",
        rpm_limit="60",
    )

    assert response.status_code == 303
    team_id = response.headers["location"].rsplit("/", 1)[1]
    team = await _team_info(client, team_id)
    assert team["team_alias"] == "research" and team["models"] == ["demo", "other"]
    assert team["max_budget"] == 25.5 and team["budget_duration"] == "30d" and team["rpm_limit"] == 60
    assert team["soft_budget"] is None
    page = (await client.get(response.headers["location"])).text
    assert "Team research" in page and "$25.5" in page and "30d" in page


async def test_the_list_shows_teams_and_takes_the_api_filters(client: Client) -> None:
    await api(client, "/organization/new", organization_id="org-1", organization_alias="One")
    await api(client, "/team/new", team_id="t-a", team_alias="alpha", organization_id="org-1")
    await api(client, "/team/new", team_id="t-b", team_alias="beta")
    await sign_in(client)

    everything = (await client.get("/ui/teams")).text
    filtered = (await client.get("/ui/teams?organization_id=org-1")).text

    assert "alpha" in everything and "beta" in everything and 'value="None"' not in everything
    assert "alpha" in filtered and "beta" not in filtered
    assert 'value="org-1"' in filtered  # the filter is kept in its field


async def test_a_use_case_refusal_is_shown_next_to_its_field(client: Client) -> None:
    token = await sign_in(client)

    response = await post(client, "/ui/teams", token, team_alias="x", budget_duration="fortnight")

    assert response.status_code == 400
    assert re.search(r'<p class="error" id="f-budget_duration-error">[^<]+</p>', response.text)
    assert 'value="x"' in response.text


async def test_a_limit_that_is_not_a_whole_number_is_named(client: Client) -> None:
    token = await sign_in(client)

    response = await post(client, "/ui/teams", token, team_alias="x", rpm_limit="1.5")

    assert response.status_code == 400 and 'id="f-rpm_limit-error"' in response.text


async def test_an_edit_changes_and_clears_fields(client: Client) -> None:
    await api(client, "/team/new", team_id="t-1", team_alias="one", max_budget=10, tpm_limit=1000)
    token = await sign_in(client)
    form = (await client.get("/ui/teams/t-1")).text
    assert 'value="10"' in form and 'value="1000"' in form

    response = await post(client, "/ui/teams/t-1", token, team_alias="uno", max_budget="20", tpm_limit="")

    assert response.status_code == 303 and response.headers["location"] == "/ui/teams/t-1"
    team = await _team_info(client, "t-1")
    assert team["team_alias"] == "uno" and team["max_budget"] == 20 and team["tpm_limit"] is None


async def test_members_are_added_by_email_with_a_role_and_removed(client: Client) -> None:
    await api(client, "/team/new", team_id="t-1")
    token = await sign_in(client)

    added = await post(
        client,
        "/ui/teams/t-1/members",
        token,
        **{"member.user_email": "ada@example.com", "member.role": "admin"},
    )

    assert added.status_code == 303
    (member,) = (await _team_info(client, "t-1"))["members_with_roles"]
    assert member["user_email"] == "ada@example.com" and member["role"] == "admin"
    page = (await client.get("/ui/teams/t-1")).text
    assert "ada@example.com" in page and "<td>admin</td>" in page

    removed = await post(client, "/ui/teams/t-1/members/delete", token, user_id=member["user_id"])

    assert removed.status_code == 303 and (await _team_info(client, "t-1"))["members_with_roles"] == []


async def test_a_member_form_error_keeps_the_edit_form_filled(client: Client) -> None:
    await api(client, "/team/new", team_id="t-1", team_alias="one")
    token = await sign_in(client)

    response = await post(client, "/ui/teams/t-1/members", token, **{"member.role": "user"})

    assert response.status_code == 400 and "needs a user_id or a user_email" in response.text
    assert 'value="one"' in response.text


async def test_an_admin_blocks_unblocks_and_deletes_a_team(client: Client) -> None:
    await api(client, "/team/new", team_id="t-1")
    token = await sign_in(client)

    await post(client, "/ui/teams/t-1/block", token)
    assert (await _team_info(client, "t-1"))["blocked"] is True
    await post(client, "/ui/teams/t-1/unblock", token)
    assert (await _team_info(client, "t-1"))["blocked"] is False
    deleted = await post(client, "/ui/teams/t-1/delete", token)

    assert deleted.headers["location"] == "/ui/teams"
    assert await read(client, "/team/info?team_id=t-1") is None


async def test_a_team_admin_manages_members_but_not_the_team(client: Client) -> None:
    await api(client, "/user/new", user_id="lead", auto_create_key=False)
    await api(client, "/team/new", team_id="t-1", members_with_roles=[{"user_id": "lead", "role": "admin"}])
    token = await sign_in(client, await new_key(client, user_id="lead", team_id="t-1"))

    page = (await client.get("/ui/teams/t-1")).text
    added = await post(
        client, "/ui/teams/t-1/members", token, **{"member.user_id": "bob", "member.role": "user"}
    )
    refused = await post(client, "/ui/teams/t-1/block", token)

    assert "Add a member" in page and "Edit team" not in page
    assert added.status_code == 303
    assert refused.status_code == 403 and "only a proxy_admin" in refused.text
    assert (await _team_info(client, "t-1"))["blocked"] is False


async def test_an_internal_user_sees_only_its_own_teams_and_is_refused_others(client: Client) -> None:
    await api(client, "/user/new", user_id="u1", auto_create_key=False)
    await api(client, "/team/new", team_id="mine", team_alias="mine", members_with_roles=[{"user_id": "u1"}])
    await api(client, "/team/new", team_id="theirs", team_alias="theirs")
    await sign_in(client, await new_key(client, user_id="u1"))

    listed = (await client.get("/ui/teams")).text
    own = (await client.get("/ui/teams/mine")).text
    other = await client.get("/ui/teams/theirs")

    assert "mine" in listed and "theirs" not in listed and "Create a team" not in listed
    assert "Members of mine" in own and "Add a member" not in own and "Edit team" not in own
    assert other.status_code == 403

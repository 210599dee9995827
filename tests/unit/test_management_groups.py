"""The management use cases for teams, organizations, customers and budgets, over the in-memory store."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from application.management import Management
from domain.access import MASTER
from domain.budgets import BudgetTerms
from domain.errors import BadRequestError, ConflictError, NotFoundError, PermissionDeniedError
from domain.identity import MemberRole, Role
from tests.unit.test_management import World


@pytest.fixture
def world() -> World:
    return World()


async def acme(world: World) -> None:
    await world.management.organizations.new(
        MASTER, {"organization_id": "acme", "organization_alias": "Acme", "models": ["gpt-x", "gpt-y"]}
    )


# Teams ---------------------------------------------------------------------------------------------


async def test_a_new_team_creates_the_members_it_names(world: World) -> None:
    team = await world.management.teams.new(
        MASTER,
        {
            "team_alias": "Red",
            "models": ["gpt-x"],
            "rpm_limit": 50,
            "members_with_roles": [{"role": "admin", "user_id": "tom"}, {"user_email": "ivan@x.test"}],
        },
    )
    assert team.team_id and team.limits.rpm_limit == 50
    assert [(m.role, m.user_email) for m in team.members] == [
        (MemberRole.ADMIN, None),
        (MemberRole.USER, "ivan@x.test"),
    ]
    assert await world.user("tom") is not None
    assert world.changes == [1]
    assert sorted((e.table, e.action) for e in world.audit()) == [
        ("team", "created"),
        ("user", "created"),
        ("user", "created"),
    ]


async def test_team_ids_and_aliases_are_unique(world: World) -> None:
    m = world.management
    await m.teams.new(MASTER, {"team_id": "red", "team_alias": "Red"})
    with pytest.raises(ConflictError) as same_id:
        await m.teams.new(MASTER, {"team_id": "red"})
    assert same_id.value.param == "team_id"
    with pytest.raises(ConflictError) as same_alias:
        await m.teams.new(MASTER, {"team_alias": "Red"})
    assert same_alias.value.param == "team_alias"


async def test_a_team_uses_only_models_its_organization_may(world: World) -> None:
    await acme(world)
    with pytest.raises(BadRequestError) as refused:
        await world.management.teams.new(MASTER, {"organization_id": "acme", "models": ["gpt-z"]})
    assert refused.value.param == "models"


async def test_an_org_admin_creates_teams_in_its_organization_and_leads_them(world: World) -> None:
    await acme(world)
    olga = await world.person("olga", "org_admin", organization_id="acme")
    team = await world.management.teams.new(olga, {"team_alias": "Red"})
    assert team.organization_id == "acme" and team.is_admin("olga")
    ivan = await world.person("ivan")
    with pytest.raises(PermissionDeniedError, match="create teams"):
        await world.management.teams.new(ivan, {"team_alias": "Mine"})


async def test_team_admins_manage_members_but_not_the_teams_settings(world: World) -> None:
    m = world.management
    await m.teams.new(MASTER, {"team_id": "red", "members_with_roles": [{"role": "admin", "user_id": "tom"}]})
    tom = await world.signed_in(await m.keys.generate(MASTER, {"user_id": "tom", "team_id": "red"}))
    joined = await m.teams.member_add(tom, "red", [{"user_id": "ivan"}])
    assert [u.user_id for u in joined.users] == ["ivan"] and joined.record.member("ivan") is not None
    with pytest.raises(ConflictError):
        await m.teams.member_add(tom, "red", [{"user_id": "ivan"}])
    with pytest.raises(PermissionDeniedError, match="may not update team red"):
        await m.teams.update(tom, "red", {"max_budget": 1000})
    ivan = await world.signed_in(await m.keys.generate(MASTER, {"user_id": "ivan", "team_id": "red"}))
    with pytest.raises(PermissionDeniedError, match="not an admin"):
        await m.teams.member_add(ivan, "red", [{"user_id": "eve"}])


async def test_removing_a_member_removes_its_keys_in_that_team(world: World) -> None:
    m = world.management
    await m.teams.new(MASTER, {"team_id": "red", "members_with_roles": [{"user_id": "ivan"}]})
    in_team = await m.keys.generate(MASTER, {"user_id": "ivan", "team_id": "red"})
    personal = await m.keys.generate(MASTER, {"user_id": "ivan"})
    team = await m.teams.member_delete(MASTER, "red", user_id="ivan")
    assert team.members == ()
    assert await world.key(in_team.key.token) is None and await world.key(personal.key.token) is not None
    with pytest.raises(NotFoundError) as missing:
        await m.teams.member_delete(MASTER, "red", user_email="nobody@x.test")
    assert missing.value.param == "user_email"


async def test_deleting_a_team_deletes_its_keys(world: World) -> None:
    m = world.management
    await m.teams.new(MASTER, {"team_id": "red"})
    issued = await m.keys.generate(MASTER, {"team_id": "red"})
    assert await m.teams.delete(MASTER, ["red"]) == ["red"]
    assert await world.team("red") is None and await world.key(issued.key.token) is None
    with pytest.raises(NotFoundError) as missing:
        await m.teams.delete(MASTER, ["red"])
    assert missing.value.param == "team_ids"


async def test_team_info_shows_admins_every_key_and_members_their_own(world: World) -> None:
    m = world.management
    await m.teams.new(
        MASTER,
        {"team_id": "red", "members_with_roles": [{"role": "admin", "user_id": "tom"}, {"user_id": "ivan"}]},
    )
    tom = await world.signed_in(await m.keys.generate(MASTER, {"user_id": "tom", "team_id": "red"}))
    ivan = await world.signed_in(await m.keys.generate(MASTER, {"user_id": "ivan", "team_id": "red"}))
    assert len((await m.teams.info(tom, "red")).keys) == 2
    assert [k.user_id for k in (await m.teams.info(ivan, "red")).keys] == ["ivan"]
    eve = await world.person("eve")
    with pytest.raises(PermissionDeniedError):
        await m.teams.info(eve, "red")
    with pytest.raises(NotFoundError):
        await m.teams.info(MASTER, "blue")


async def test_teams_are_listed_by_filter_for_admins_and_by_membership_for_others(world: World) -> None:
    m = world.management
    await acme(world)
    await m.teams.new(
        MASTER, {"team_id": "red", "organization_id": "acme", "members_with_roles": [{"user_id": "ivan"}]}
    )
    await m.teams.new(MASTER, {"team_id": "blue"})
    assert sorted(t.team_id for t in await m.teams.list(MASTER)) == ["blue", "red"]
    assert [t.team_id for t in await m.teams.list(MASTER, organization_id="acme")] == ["red"]
    assert [t.team_id for t in await m.teams.list(MASTER, user_id="ivan")] == ["red"]
    ivan = await world.signed_in(await m.keys.generate(MASTER, {"user_id": "ivan"}))
    assert [t.team_id for t in await m.teams.list(ivan)] == ["red"]
    with pytest.raises(PermissionDeniedError):
        await m.teams.list(ivan, organization_id="acme")


async def test_blocking_a_team_is_for_admins_of_its_organization(world: World) -> None:
    m = world.management
    await m.teams.new(MASTER, {"team_id": "red", "members_with_roles": [{"role": "admin", "user_id": "tom"}]})
    assert (await m.teams.block(MASTER, "red", True)).blocked
    tom = await world.signed_in(await m.keys.generate(MASTER, {"user_id": "tom", "team_id": "red"}))
    with pytest.raises(PermissionDeniedError, match="unblock"):
        await m.teams.block(tom, "red", False)
    assert [e.action for e in world.audit("team")][-1] == "blocked"


# Organizations -------------------------------------------------------------------------------------


async def test_only_the_admin_creates_organizations_which_need_an_alias(world: World) -> None:
    ivan = await world.person("ivan")
    with pytest.raises(PermissionDeniedError):
        await world.management.organizations.new(ivan, {"organization_alias": "Mine"})
    with pytest.raises(BadRequestError) as missing:
        await world.management.organizations.new(MASTER, {})
    assert missing.value.param == "organization_alias"


async def test_adding_an_org_admin_member_raises_that_users_role(world: World) -> None:
    await acme(world)
    joined = await world.management.organizations.member_add(
        MASTER, "acme", [{"role": "org_admin", "user_id": "olga"}, {"user_email": "ivan@acme.test"}]
    )
    olga, ivan = joined.users
    assert olga.user_role is Role.ORG_ADMIN and olga.organization_id == "acme"
    assert ivan.user_role is Role.INTERNAL_USER and ivan.user_email == "ivan@acme.test"
    assert [m.role for m in joined.record.members] == [MemberRole.ADMIN, MemberRole.USER]
    with pytest.raises(BadRequestError) as bad_role:
        await world.management.organizations.member_add(
            MASTER, "acme", [{"role": "proxy_admin", "user_id": "x"}]
        )
    assert bad_role.value.param == "member.role"


async def test_an_org_admin_adds_members_to_its_own_organization_only(world: World) -> None:
    await acme(world)
    await world.management.organizations.new(
        MASTER, {"organization_id": "beta", "organization_alias": "Beta"}
    )
    olga = await world.person("olga", "org_admin", organization_id="acme")
    await world.management.organizations.member_add(olga, "acme", [{"user_id": "ivan"}])
    with pytest.raises(PermissionDeniedError):
        await world.management.organizations.member_add(olga, "beta", [{"user_id": "ivan"}])


async def test_an_organization_holding_teams_is_not_deleted(world: World) -> None:
    m = world.management
    await acme(world)
    await m.teams.new(MASTER, {"team_id": "red", "organization_id": "acme"})
    with pytest.raises(BadRequestError, match="still holds 1 team"):
        await m.organizations.delete(MASTER, ["acme"])
    await m.teams.delete(MASTER, ["red"])
    await m.users.new(MASTER, {"user_id": "ivan", "organization_id": "acme", "auto_create_key": False})
    [deleted] = await m.organizations.delete(MASTER, ["acme"])
    assert deleted.organization_id == "acme" and (await world.user("ivan")).organization_id is None


async def test_organizations_are_read_by_their_members_with_their_teams(world: World) -> None:
    m = world.management
    await acme(world)
    await m.teams.new(MASTER, {"team_id": "red", "organization_id": "acme"})
    await m.organizations.member_add(MASTER, "acme", [{"user_id": "ivan"}])
    ivan = await world.signed_in(await m.keys.generate(MASTER, {"user_id": "ivan"}))
    view = await m.organizations.info(ivan, "acme")
    assert [t.team_id for t in view.teams] == ["red"]
    assert [v.organization.organization_id for v in await m.organizations.list(ivan)] == ["acme"]
    eve = await world.person("eve")
    assert await m.organizations.list(eve) == []
    with pytest.raises(PermissionDeniedError):
        await m.organizations.info(eve, "acme")


async def test_organization_updates_are_the_admins(world: World) -> None:
    await acme(world)
    updated = await world.management.organizations.update(MASTER, "acme", {"max_budget": 100, "tpm_limit": 9})
    assert updated.budget.max_budget == Decimal(100) and updated.limits.tpm_limit == 9
    olga = await world.person("olga", "org_admin", organization_id="acme")
    with pytest.raises(PermissionDeniedError):
        await world.management.organizations.update(olga, "acme", {"max_budget": 1000})


# Customers and budgets -----------------------------------------------------------------------------


async def test_customers_have_a_lifecycle_of_their_own(world: World) -> None:
    m = world.management
    made = await m.end_users.new(
        MASTER, {"user_id": "cust-1", "alias": "C", "max_budget": 2.5, "rpm_limit": 3}
    )
    assert (made.budget.max_budget, made.limits.rpm_limit) == (Decimal("2.5"), 3)
    with pytest.raises(ConflictError):
        await m.end_users.new(MASTER, {"user_id": "cust-1"})
    updated = await m.end_users.update(MASTER, "cust-1", {"allowed_model_region": "eu"})
    assert updated.allowed_model_region == "eu" and updated.alias == "C"
    assert [e.user_id for e in await m.end_users.list(MASTER)] == ["cust-1"]
    with pytest.raises(NotFoundError):
        await m.end_users.delete(MASTER, ["cust-1", "ghost"])
    assert await m.end_users.info(MASTER, "cust-1") == updated
    assert await m.end_users.delete(MASTER, ["cust-1"]) == ["cust-1"]
    with pytest.raises(NotFoundError) as missing:
        await m.end_users.info(MASTER, "cust-1")
    assert missing.value.param == "end_user_id"


async def test_a_customer_gets_a_budget_or_a_budget_id_not_both(world: World) -> None:
    with pytest.raises(BadRequestError) as refused:
        await world.management.end_users.new(MASTER, {"user_id": "c", "max_budget": 1, "budget_id": "b"})
    assert refused.value.param == "budget_id"
    with pytest.raises(BadRequestError, match="names no budget"):
        await world.management.end_users.new(MASTER, {"user_id": "c", "budget_id": "b"})


async def test_blocking_an_unknown_customer_creates_it_blocked(world: World) -> None:
    m = world.management
    [blocked] = await m.end_users.block(MASTER, ["cust-9"], True)
    assert blocked.blocked and (await m.end_users.info(MASTER, "cust-9")).blocked
    [unblocked] = await m.end_users.block(MASTER, ["cust-9"], False)
    assert not unblocked.blocked
    with pytest.raises(NotFoundError):
        await m.end_users.block(MASTER, ["ghost"], False)


async def test_customers_are_the_admins_to_change_and_the_viewers_to_read(world: World) -> None:
    await world.management.end_users.new(MASTER, {"user_id": "c"})
    viewer = await world.person("vic", "proxy_admin_viewer")
    assert [e.user_id for e in await world.management.end_users.list(viewer)] == ["c"]
    with pytest.raises(PermissionDeniedError):
        await world.management.end_users.block(viewer, ["c"], True)
    ivan = await world.person("ivan")
    with pytest.raises(PermissionDeniedError):
        await world.management.end_users.info(ivan, "c")


async def test_budgets_reset_after_their_duration_and_are_shared_by_id(world: World) -> None:
    m = world.management
    budget = await m.budgets.new(
        MASTER, {"budget_id": "tier-1", "max_budget": 10, "budget_duration": "30d", "rpm_limit": 4}
    )
    reset = budget.terms.budget_reset_at
    assert reset == m.budgets.now() + timedelta(days=30) and budget.limits.rpm_limit == 4
    issued = await m.keys.generate(MASTER, {"budget_id": "tier-1"})
    assert issued.key.budget.budget_id == "tier-1"
    updated = await m.budgets.update(MASTER, "tier-1", {"max_budget": 20})
    assert updated.terms.max_budget == Decimal(20) and updated.terms.budget_reset_at == reset
    assert [b.budget_id for b in await m.budgets.info(MASTER, ["tier-1"])] == ["tier-1"]
    with pytest.raises(NotFoundError):
        await m.budgets.info(MASTER, ["tier-1", "tier-2"])
    assert [b.budget_id for b in await m.budgets.list(MASTER)] == ["tier-1"]
    assert (await m.budgets.delete(MASTER, "tier-1")).budget_id == "tier-1"
    with pytest.raises(NotFoundError) as missing:
        await m.budgets.delete(MASTER, "tier-1")
    assert missing.value.param == "id"


async def test_budget_ids_are_unique_and_budgets_are_the_admins(world: World) -> None:
    await world.management.budgets.new(MASTER, {"budget_id": "b"})
    with pytest.raises(ConflictError):
        await world.management.budgets.new(MASTER, {"budget_id": "b"})
    ivan = await world.person("ivan")
    with pytest.raises(PermissionDeniedError):
        await world.management.budgets.new(ivan, {"max_budget": 1})
    with pytest.raises(PermissionDeniedError):
        await world.management.budgets.list(ivan)


# Budget terms on every kind of record --------------------------------------------------------------


async def _made(m: Management, kind: str, fields: dict[str, Any]) -> Any:
    if kind == "keys":
        return (await m.keys.generate(MASTER, fields)).key
    if kind == "teams":
        return await m.teams.new(MASTER, {"team_id": "r", **fields})
    if kind == "users":
        return (await m.users.new(MASTER, {"user_id": "r", "auto_create_key": False, **fields})).user
    if kind == "organizations":
        return await m.organizations.new(
            MASTER, {"organization_id": "r", "organization_alias": "R", **fields}
        )
    return await m.end_users.new(MASTER, {"user_id": "r", **fields})


async def _updated(m: Management, kind: str, record: Any, fields: dict[str, Any]) -> Any:
    if kind == "keys":
        return await m.keys.update(MASTER, record.token, fields)
    if kind == "users":
        return await m.users.update(MASTER, fields, user_id="r")
    return await getattr(m, kind).update(MASTER, "r", fields)


BUDGETED = ["keys", "teams", "users", "organizations", "end_users"]


@pytest.mark.parametrize("kind", BUDGETED)
async def test_every_budget_bearing_record_keeps_soft_and_per_model_budgets(world: World, kind: str) -> None:
    m = world.management
    made = await _made(m, kind, {"max_budget": 10, "soft_budget": 7.5, "model_max_budget": {"gpt-x": 2}})
    assert made.budget == BudgetTerms(
        max_budget=Decimal(10), soft_budget=Decimal("7.5"), model_max_budget={"gpt-x": Decimal(2)}
    )
    updated = await _updated(
        m, kind, made, {"soft_budget": 0, "model_max_budget": {"gpt-y": {"max_budget": 1}}}
    )
    assert (updated.budget.max_budget, updated.budget.soft_budget) == (Decimal(10), Decimal(0))
    assert updated.budget.model_max_budget == {"gpt-y": Decimal(1)}
    for field, value in (("soft_budget", -1), ("soft_budget", "lots"), ("model_max_budget", {"gpt-x": -1})):
        with pytest.raises(BadRequestError) as refused:
            await _updated(m, kind, made, {field: value})
        assert refused.value.param.startswith(field)


@pytest.mark.parametrize("kind", BUDGETED)
async def test_a_budget_duration_sets_the_reset_to_the_end_of_the_current_window(
    world: World, kind: str
) -> None:
    m = world.management
    made = await _made(m, kind, {"max_budget": 1, "budget_duration": "1d"})
    assert made.budget.budget_reset_at == made.created_at + timedelta(days=1)
    world.clock.advance(2.5 * 86400)
    # Windows count from creation: two and a half days in, the current one ends on the third day.
    updated = await _updated(m, kind, made, {"budget_duration": "1d"})
    assert updated.budget.budget_reset_at == made.created_at + timedelta(days=3)
    untouched = await _updated(m, kind, updated, {"max_budget": 2})
    assert untouched.budget.budget_reset_at == updated.budget.budget_reset_at
    hourly = await _updated(m, kind, updated, {"budget_duration": "1h"})
    assert hourly.budget.budget_reset_at == made.created_at + timedelta(hours=61)
    assert (await _updated(m, kind, made, {"budget_duration": None})).budget.budget_reset_at is None

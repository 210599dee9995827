"""The management API's rules of who may manage what, called directly."""

from __future__ import annotations

from decimal import Decimal

import pytest

from application.management.authority import (
    Reach,
    bound_grant,
    check_create_team,
    check_create_user,
    check_key_placement,
    check_manage_key,
    check_manage_members,
    check_manage_team,
    check_manage_user,
    may_read_key,
    may_read_organization,
    may_read_team,
    may_read_user,
    own_ceiling,
)
from domain.access import MASTER, Principal, Via
from domain.budgets import BudgetTerms
from domain.errors import BadRequestError, PermissionDeniedError
from domain.identity import Member, MemberRole, Organization, RateLimits, Role, Team, User, VirtualKey

TOKEN = "a" * 64
OTHER_TOKEN = "b" * 64

ACME = Organization("acme", members=(Member("olga", MemberRole.ADMIN), Member("ivan")))
RED = Team("red", organization_id="acme", members=(Member("tom", MemberRole.ADMIN), Member("ivan")))
BLUE = Team("blue", organization_id="other", members=(Member("ivan"),))


def caller(user_id: str | None, role: Role = Role.INTERNAL_USER, **records: object) -> Principal:
    return Principal(via=Via.VIRTUAL_KEY, role=role, user_id=user_id, **records)  # type: ignore[arg-type]


def reach(principal: Principal, teams: tuple[Team, ...] = (), orgs: tuple[Organization, ...] = ()) -> Reach:
    return Reach(principal, teams=teams, organizations=orgs)


def key(
    user_id: str | None = None, team_id: str | None = None, organization_id: str | None = None
) -> VirtualKey:
    return VirtualKey(TOKEN, "sk-...abcd", user_id=user_id, team_id=team_id, organization_id=organization_id)


OLGA = reach(caller("olga", Role.ORG_ADMIN), orgs=(ACME,))
TOM = reach(caller("tom"), teams=(RED,))
IVAN = reach(caller("ivan"), teams=(RED, BLUE), orgs=(ACME,))
VIEWER = reach(caller("vic", Role.PROXY_ADMIN_VIEWER))


def test_a_reach_knows_the_teams_and_organizations_its_caller_belongs_to_and_administers() -> None:
    assert IVAN.team_ids() == {"red", "blue"}
    assert IVAN.admin_team_ids() == frozenset()
    assert TOM.admin_team_ids() == {"red"}
    assert OLGA.admin_organization_ids() == {"acme"}
    assert IVAN.organization_ids() == {"acme"}
    assert IVAN.admin_organization_ids() == frozenset()


def test_an_org_admin_administers_its_own_organization_even_without_a_membership() -> None:
    jwt_admin = reach(caller("olga", Role.ORG_ADMIN, organization_id="beta"))
    assert jwt_admin.admin_organization_ids() == {"beta"}
    assert jwt_admin.administers_user(User("x", organization_id="beta"))


def test_users_read_their_own_keys_and_keys_of_what_they_administer() -> None:
    assert may_read_key(IVAN, key(user_id="ivan"), None, None)
    assert not may_read_key(IVAN, key(user_id="tom"), None, None)
    assert may_read_key(TOM, key(user_id="ivan", team_id="red"), RED, None)
    assert may_read_key(OLGA, key(user_id="x"), None, User("x", organization_id="acme"))
    assert may_read_key(VIEWER, key(user_id="anyone"), None, None)


def test_a_caller_may_always_read_the_key_it_presents() -> None:
    own = key()
    assert may_read_key(reach(caller(None, key=own)), own, None, None)


def test_viewers_may_not_change_any_key_not_even_their_own() -> None:
    viewer = reach(caller("vera", Role.INTERNAL_USER_VIEWER))
    with pytest.raises(PermissionDeniedError, match="internal_user_viewer role may read keys"):
        check_manage_key(viewer, key(user_id="vera"), None, None, "update")
    with pytest.raises(PermissionDeniedError, match="proxy_admin_viewer"):
        check_manage_key(VIEWER, key(user_id="x"), None, None, "delete")


def test_an_internal_user_manages_its_own_keys_only() -> None:
    check_manage_key(IVAN, key(user_id="ivan"), None, None, "delete")
    with pytest.raises(PermissionDeniedError, match="may not delete key"):
        check_manage_key(IVAN, key(user_id="tom", team_id="red"), RED, None, "delete")


def test_a_team_admin_manages_the_keys_of_its_team() -> None:
    check_manage_key(TOM, key(user_id="ivan", team_id="red"), RED, None, "update")


def test_an_internal_user_issues_keys_for_itself_in_its_own_teams() -> None:
    check_key_placement(IVAN, user_id="ivan", team=RED, owner=None, organization_id="acme")
    with pytest.raises(PermissionDeniedError, match="only for yourself, not for user tom") as refused:
        check_key_placement(IVAN, user_id="tom", team=None, owner=None, organization_id=None)
    assert refused.value.param == "user_id"
    outsider = Team("green", members=(Member("zed"),))
    with pytest.raises(PermissionDeniedError, match="not a member of it"):
        check_key_placement(IVAN, user_id="ivan", team=outsider, owner=None, organization_id=None)


def test_a_team_admin_issues_keys_to_members_of_its_team_only() -> None:
    check_key_placement(TOM, user_id="ivan", team=RED, owner=None, organization_id="acme")
    with pytest.raises(PermissionDeniedError, match="not for user zed"):
        check_key_placement(TOM, user_id="zed", team=RED, owner=None, organization_id="acme")


def test_an_org_admin_issues_keys_to_users_of_its_organization_only() -> None:
    check_key_placement(OLGA, user_id="ivan", team=None, owner=User("ivan"), organization_id="acme")
    with pytest.raises(PermissionDeniedError):
        check_key_placement(
            OLGA, user_id="zed", team=None, owner=User("zed", organization_id="other"), organization_id=None
        )
    with pytest.raises(PermissionDeniedError, match="organization beta"):
        check_key_placement(IVAN, user_id="ivan", team=None, owner=None, organization_id="beta")


def test_the_admin_places_keys_anywhere() -> None:
    check_key_placement(reach(MASTER), user_id="anyone", team=BLUE, owner=None, organization_id="elsewhere")


def test_teams_are_read_by_members_and_managed_by_admins_of_their_organization() -> None:
    assert may_read_team(IVAN, RED)
    assert not may_read_team(OLGA, BLUE)
    assert may_read_team(OLGA, RED)
    check_manage_team(OLGA, RED, "update")
    with pytest.raises(PermissionDeniedError, match="may not update team red"):
        check_manage_team(TOM, RED, "update")
    check_manage_members(TOM, RED)
    with pytest.raises(PermissionDeniedError, match="not an admin of it"):
        check_manage_members(IVAN, RED)


def test_teams_and_users_are_created_by_admins_and_by_org_admins_in_their_organization() -> None:
    check_create_team(OLGA, "acme")
    check_create_user(OLGA, "acme")
    with pytest.raises(PermissionDeniedError) as refused:
        check_create_team(OLGA, "other")
    assert refused.value.param == "organization_id"
    with pytest.raises(PermissionDeniedError):
        check_create_user(IVAN, "acme")


def test_users_are_read_by_themselves_their_team_admins_and_org_admins() -> None:
    ivan = User("ivan")
    assert may_read_user(IVAN, ivan)
    assert may_read_user(TOM, ivan)
    assert may_read_user(OLGA, ivan)
    assert not may_read_user(TOM, User("zed"))
    check_manage_user(OLGA, ivan, "update")
    with pytest.raises(PermissionDeniedError, match="may not update user ivan"):
        check_manage_user(IVAN, ivan, "update")


def test_organizations_are_read_by_their_members() -> None:
    assert may_read_organization(IVAN, ACME)
    assert not may_read_organization(TOM, ACME)
    assert may_read_organization(VIEWER, ACME)


LIMITED = caller(
    "ivan",
    key=VirtualKey(
        TOKEN,
        "sk-...abcd",
        models=("gpt-x", "openai/*"),
        limits=RateLimits(rpm_limit=10, model_rpm_limit={"gpt-x": 5}),
        budget=BudgetTerms(max_budget=Decimal("5")),
    ),
    user=User(
        "ivan", limits=RateLimits(rpm_limit=20, tpm_limit=1000), budget=BudgetTerms(max_budget=Decimal("8"))
    ),
)


def test_a_callers_ceiling_is_the_tightest_of_its_key_and_its_user() -> None:
    assert own_ceiling(LIMITED) == {
        "rpm_limit": 10,
        "tpm_limit": 1000,
        "max_budget": Decimal("5"),
        "model_rpm_limit": {"gpt-x": 5},
    }


def test_a_new_grant_inherits_the_callers_limits_and_models() -> None:
    bounded = bound_grant(LIMITED, {"key_alias": "k"}, inherit=True)
    assert bounded == {
        "key_alias": "k",
        "models": ["gpt-x", "openai/*"],
        "rpm_limit": 10,
        "tpm_limit": 1000,
        "max_budget": Decimal("5"),
        "model_rpm_limit": {"gpt-x": 5},
    }


def test_a_change_is_bounded_only_in_the_fields_it_sets() -> None:
    assert bound_grant(LIMITED, {"metadata": {"a": 1}}, inherit=False) == {"metadata": {"a": 1}}
    assert bound_grant(LIMITED, {"rpm_limit": 3}, inherit=False) == {"rpm_limit": 3}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"rpm_limit": 11}, "rpm_limit"),
        ({"tpm_limit": 5000}, "tpm_limit"),
        ({"max_budget": 5.01}, "max_budget"),
        ({"models": ["gpt-y"]}, "models"),
        ({"models": ["*"]}, "models"),
        ({"model_rpm_limit": {"gpt-x": 6}}, "model_rpm_limit"),
        ({"model_max_budget": {"gpt-x": 9}}, "model_max_budget"),
        ({"user_role": "org_admin"}, "user_role"),
    ],
)
def test_nobody_grants_more_than_it_holds(fields: dict[str, object], param: str) -> None:
    with pytest.raises(PermissionDeniedError, match="You cannot grant") as refused:
        bound_grant(LIMITED, fields, inherit=True)
    assert refused.value.param == param


def test_models_the_caller_may_use_through_a_pattern_may_be_granted() -> None:
    assert bound_grant(LIMITED, {"models": ["openai/gpt-4o"]}, inherit=False)["models"] == ["openai/gpt-4o"]


def test_a_grant_with_a_malformed_limit_is_a_bad_request_naming_it() -> None:
    with pytest.raises(BadRequestError) as refused:
        bound_grant(LIMITED, {"rpm_limit": "many"}, inherit=False)
    assert refused.value.param == "rpm_limit"


def test_the_admin_grants_anything() -> None:
    fields = {"models": ["*"], "rpm_limit": 10**6, "user_role": "proxy_admin"}
    assert bound_grant(MASTER, fields, inherit=True) == fields

"""The management use cases for keys and users, over the in-memory store: what they record, what they
audit, and what they refuse whom."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from adapters.persistence.memory import InMemoryStore
from application.management import Issued, Management
from domain.access import MASTER, Principal, Via
from domain.errors import BadRequestError, ConflictError, NotFoundError, PermissionDeniedError
from domain.identity import AuditEntry, Role, Team, User, VirtualKey
from tests.fakes import FakeClock


@dataclass
class World:
    store: InMemoryStore = field(default_factory=InMemoryStore)
    clock: FakeClock = field(default_factory=FakeClock)
    changes: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.management = Management.build(
            uow=self.store.unit_of_work, clock=self.clock, on_change=lambda: self.changes.append(1)
        )

    def audit(self, table: str | None = None) -> list[AuditEntry]:
        return [e for e in self.store.audit if table is None or e.table == table]

    async def key(self, token: str) -> VirtualKey | None:
        return await self.store.unit_of_work().keys.get(token)

    async def user(self, user_id: str) -> User | None:
        return await self.store.unit_of_work().users.get(user_id)

    async def team(self, team_id: str) -> Team | None:
        return await self.store.unit_of_work().teams.get(team_id)

    async def signed_in(self, issued: Issued) -> Principal:
        """The principal of a call made with this key, as the gateway's authentication builds it."""
        uow = self.store.unit_of_work()
        key = await uow.keys.get(issued.key.token)
        assert key is not None
        user = await uow.users.get(key.user_id) if key.user_id else None
        team = await uow.teams.get(key.team_id) if key.team_id else None
        org = await uow.organizations.get(key.organization_id) if key.organization_id else None
        return Principal(
            via=Via.VIRTUAL_KEY,
            role=user.user_role if user else Role.INTERNAL_USER,
            key=key,
            user=user,
            team=team,
            organization=org,
            user_id=key.user_id,
            team_id=key.team_id,
            organization_id=key.organization_id,
        )

    async def person(self, user_id: str, role: str = "internal_user", **fields: object) -> Principal:
        """A user made by the admin, signed in with the key made for it."""
        made = await self.management.users.new(MASTER, {"user_id": user_id, "user_role": role, **fields})
        assert made.issued is not None
        return await self.signed_in(made.issued)


@pytest.fixture
def world() -> World:
    return World()


async def test_a_generated_key_is_stored_as_the_hash_of_a_secret_shown_once(world: World) -> None:
    issued = await world.management.keys.generate(
        MASTER, {"key_alias": "ci", "duration": "1h", "models": ["gpt-x"]}
    )
    assert issued.secret.startswith("sk-") and len(issued.secret) > 40
    assert issued.key.token == hashlib.sha256(issued.secret.encode()).hexdigest()
    assert issued.key.key_name == f"sk-...{issued.secret[-4:]}"
    assert issued.key.expires == world.management.keys.now() + timedelta(hours=1)
    stored = await world.key(issued.key.token)
    assert stored == issued.key and stored.models == ("gpt-x",)


async def test_every_change_is_audited_without_the_secret_and_announced(world: World) -> None:
    issued = await world.management.keys.generate(MASTER, {"key_alias": "ci"})
    [entry] = world.audit("key")
    assert (entry.action, entry.actor, entry.object_id) == ("created", "master_key", issued.key.token)
    assert entry.before is None and entry.after["key_alias"] == "ci"
    assert issued.secret not in repr(world.store.audit)
    assert world.changes == [1]


async def test_a_refused_change_records_and_announces_nothing(world: World) -> None:
    with pytest.raises(BadRequestError):
        await world.management.keys.generate(MASTER, {"team_id": "ghost"})
    assert world.store.audit == [] and world.changes == []


async def test_an_admin_may_choose_a_keys_secret_which_must_look_like_one(world: World) -> None:
    issued = await world.management.keys.generate(MASTER, {"key": "sk-my-own-secret"})
    assert issued.secret == "sk-my-own-secret"
    with pytest.raises(BadRequestError) as refused:
        await world.management.keys.generate(MASTER, {"key": "my-own-secret"})
    assert refused.value.param == "key"
    with pytest.raises(ConflictError):
        await world.management.keys.generate(MASTER, {"key": "sk-my-own-secret"})


async def test_a_key_takes_its_organization_from_its_team_and_needs_what_it_names_to_exist(
    world: World,
) -> None:
    m = world.management
    await m.organizations.new(MASTER, {"organization_id": "acme", "organization_alias": "Acme"})
    await m.teams.new(MASTER, {"team_id": "red", "organization_id": "acme", "models": ["gpt-x"]})
    issued = await m.keys.generate(MASTER, {"team_id": "red"})
    assert issued.key.organization_id == "acme"
    for fields, param in [
        ({"team_id": "ghost"}, "team_id"),
        ({"budget_id": "ghost"}, "budget_id"),
        ({"organization_id": "ghost"}, "organization_id"),
        ({"team_id": "red", "organization_id": "other"}, "organization_id"),
        ({"team_id": "red", "models": ["gpt-y"]}, "models"),
        ({"duration": "soon"}, "duration"),
        ({"max_budget": -1}, "max_budget"),
        ({"colour": "red"}, "colour"),
    ]:
        with pytest.raises(BadRequestError) as refused:
            await m.keys.generate(MASTER, fields)
        assert refused.value.param == param, fields


async def test_a_key_for_an_unknown_user_creates_that_user(world: World) -> None:
    await world.management.keys.generate(MASTER, {"user_id": "newcomer"})
    assert (await world.user("newcomer")).user_role is Role.INTERNAL_USER
    assert [e.action for e in world.audit("user")] == ["created"]


async def test_key_aliases_are_unique(world: World) -> None:
    await world.management.keys.generate(MASTER, {"key_alias": "ci"})
    with pytest.raises(ConflictError) as refused:
        await world.management.keys.generate(MASTER, {"key_alias": "ci"})
    assert refused.value.param == "key_alias"


async def test_an_update_changes_the_named_fields_and_audits_before_and_after(world: World) -> None:
    m = world.management
    issued = await m.keys.generate(MASTER, {"key_alias": "ci", "rpm_limit": 5})
    world.clock.advance(60)
    updated = await m.keys.update(
        MASTER,
        issued.secret,
        {"tpm_limit": 100, "duration": "1d", "metadata": {"a": 1}, "allowed_cache_controls": ["ttl"]},
    )
    assert (updated.limits.rpm_limit, updated.limits.tpm_limit) == (5, 100)
    assert updated.expires == m.keys.now() + timedelta(days=1)
    assert updated.key_alias == "ci" and updated.metadata == {"a": 1}
    entry = world.audit("key")[-1]
    assert entry.action == "updated" and entry.before["limits"]["tpm_limit"] is None
    assert entry.after["limits"]["tpm_limit"] == 100
    assert (entry.before["allowed_cache_controls"], entry.after["allowed_cache_controls"]) == ([], ["ttl"])
    with pytest.raises(NotFoundError) as missing:
        await m.keys.update(MASTER, "sk-nothing-like-it", {})
    assert missing.value.param == "key" and "sk-...e-it" in missing.value.message


async def test_a_key_is_found_by_its_secret_or_its_hash_and_by_default_is_the_callers(world: World) -> None:
    ivan = await world.person("ivan")
    issued = await world.management.keys.generate(ivan, {})
    assert (await world.management.keys.info(ivan, issued.secret)).token == issued.key.token
    assert (await world.management.keys.info(ivan, issued.key.token)).token == issued.key.token
    assert (await world.management.keys.info(ivan, None)).token == ivan.key.token
    with pytest.raises(BadRequestError):
        await world.management.keys.info(MASTER, None)


async def test_nobody_reads_anothers_key(world: World) -> None:
    ivan, tom = await world.person("ivan"), await world.person("tom")
    with pytest.raises(PermissionDeniedError):
        await world.management.keys.info(tom, ivan.key.token)


async def test_an_internal_user_makes_keys_for_itself_with_no_more_than_it_holds(world: World) -> None:
    ivan = await world.person("ivan", models=["gpt-x"], rpm_limit=10)
    issued = await world.management.keys.generate(ivan, {"key_alias": "mine"})
    assert issued.key.user_id == "ivan" and issued.key.limits.rpm_limit == 10
    with pytest.raises(PermissionDeniedError, match="only for yourself"):
        await world.management.keys.generate(ivan, {"user_id": "tom"})
    with pytest.raises(PermissionDeniedError, match="gpt-y"):
        await world.management.keys.generate(ivan, {"models": ["gpt-y"]})
    with pytest.raises(PermissionDeniedError, match="rpm_limit"):
        await world.management.keys.generate(ivan, {"rpm_limit": 11})
    with pytest.raises(PermissionDeniedError, match="choose a key's secret"):
        await world.management.keys.generate(ivan, {"key": "sk-chosen-by-ivan"})


async def test_viewers_make_no_keys(world: World) -> None:
    vera = await world.person("vera", "internal_user_viewer")
    with pytest.raises(PermissionDeniedError, match="may read keys but not change them"):
        await world.management.keys.generate(vera, {})


async def test_listing_keys_pages_and_shows_a_user_only_its_own(world: World) -> None:
    m = world.management
    ivan = await world.person("ivan")
    for n in range(3):
        await m.keys.generate(ivan, {"key_alias": f"k{n}"})
    await m.keys.generate(MASTER, {"user_id": "tom"})
    everything = await m.keys.list(MASTER, size=2, page=2)
    assert (everything.total, everything.pages, len(everything.items)) == (5, 3, 2)
    own = await m.keys.list(ivan, size=10)
    assert own.total == 4 and {k.user_id for k in own.items} == {"ivan"}
    assert (await m.keys.list(MASTER, key_alias="k1")).items[0].key_alias == "k1"
    with pytest.raises(PermissionDeniedError, match="keys of user tom"):
        await m.keys.list(ivan, user_id="tom")
    with pytest.raises(BadRequestError) as bad:
        await m.keys.list(MASTER, size=1000)
    assert bad.value.param == "size"


async def test_deleting_keys_takes_all_named_or_none(world: World) -> None:
    m = world.management
    a = await m.keys.generate(MASTER, {"key_alias": "a"})
    await m.keys.generate(MASTER, {"key_alias": "b"})
    with pytest.raises(NotFoundError):
        await m.keys.delete(MASTER, [a.secret, "sk-missing"])
    assert await world.key(a.key.token) is not None
    assert await m.keys.delete(MASTER, [a.secret], ["b"]) == [a.secret, "b"]
    assert (await m.keys.list(MASTER)).total == 0
    assert [e.action for e in world.audit("key")][-2:] == ["deleted", "deleted"]


async def test_a_user_may_not_delete_anothers_key(world: World) -> None:
    ivan = await world.person("ivan")
    other = await world.management.keys.generate(MASTER, {"user_id": "tom"})
    with pytest.raises(PermissionDeniedError, match="may not delete key"):
        await world.management.keys.delete(ivan, [other.secret])


async def test_regenerating_a_key_keeps_its_settings_under_a_new_secret(world: World) -> None:
    m = world.management
    old = await m.keys.generate(MASTER, {"key_alias": "ci", "rpm_limit": 7, "user_id": "ivan"})
    new = await m.keys.regenerate(MASTER, old.secret, {"tpm_limit": 70})
    assert new.secret != old.secret and await world.key(old.key.token) is None
    stored = await world.key(new.key.token)
    assert (stored.key_alias, stored.limits.rpm_limit, stored.limits.tpm_limit, stored.user_id) == (
        "ci",
        7,
        70,
        "ivan",
    )
    assert world.audit("key")[-1].action == "regenerated"
    with pytest.raises(NotFoundError):
        await m.keys.regenerate(MASTER, old.secret, {})


async def test_a_holder_may_block_its_key_but_only_an_admin_unblocks_it(world: World) -> None:
    ivan = await world.person("ivan")
    blocked = await world.management.keys.block(ivan, ivan.key.token, True)
    assert blocked.blocked
    with pytest.raises(PermissionDeniedError, match="may not unblock"):
        await world.management.keys.block(ivan, ivan.key.token, False)
    with pytest.raises(PermissionDeniedError):
        await world.management.keys.update(ivan, ivan.key.token, {"blocked": False})
    assert not (await world.management.keys.block(MASTER, ivan.key.token, False)).blocked
    assert [e.action for e in world.audit("key")][-2:] == ["blocked", "unblocked"]


# Users ---------------------------------------------------------------------------------------------


async def test_a_new_user_joins_its_teams_and_gets_a_key_of_its_own(world: World) -> None:
    m = world.management
    await m.teams.new(MASTER, {"team_id": "red"})
    made = await m.users.new(
        MASTER,
        {
            "user_email": "a@example.com",
            "teams": ["red"],
            "models": ["gpt-x"],
            "duration": "7d",
            "key_alias": "alice-key",
        },
    )
    assert made.user.user_id and made.user.user_role is Role.INTERNAL_USER
    assert made.issued.key.user_id == made.user.user_id and made.issued.key.models == ("gpt-x",)
    assert made.issued.key.key_alias == "alice-key" and made.issued.key.expires is not None
    assert (await world.team("red")).member(made.user.user_id) is not None
    assert [t.team_id for t in made.teams] == ["red"]
    none = await m.users.new(MASTER, {"user_id": "bob", "auto_create_key": False})
    assert none.issued is None


async def test_user_ids_and_emails_are_unique(world: World) -> None:
    m = world.management
    await m.users.new(MASTER, {"user_id": "a", "user_email": "a@example.com"})
    with pytest.raises(ConflictError) as same_id:
        await m.users.new(MASTER, {"user_id": "a"})
    assert same_id.value.param == "user_id"
    with pytest.raises(ConflictError) as same_email:
        await m.users.new(MASTER, {"user_id": "b", "user_email": "a@example.com"})
    assert same_email.value.param == "user_email"


async def test_an_org_admin_creates_users_in_its_organization_with_no_more_than_it_holds(
    world: World,
) -> None:
    m = world.management
    await m.organizations.new(MASTER, {"organization_id": "acme", "organization_alias": "Acme"})
    olga = await world.person("olga", "org_admin", organization_id="acme", max_budget=10)
    made = await m.users.new(olga, {"user_id": "ivan"})
    assert made.user.organization_id == "acme" and made.user.budget.max_budget == 10
    with pytest.raises(PermissionDeniedError, match="role proxy_admin"):
        await m.users.new(olga, {"user_id": "eve", "user_role": "proxy_admin"})
    with pytest.raises(PermissionDeniedError, match="max_budget"):
        await m.users.new(olga, {"user_id": "eve", "max_budget": 11})
    await m.organizations.new(MASTER, {"organization_id": "other", "organization_alias": "Other"})
    with pytest.raises(PermissionDeniedError):
        await m.users.new(olga, {"user_id": "eve", "organization_id": "other"})
    ivan = await world.signed_in(made.issued)
    with pytest.raises(PermissionDeniedError, match="create users"):
        await m.users.new(ivan, {"user_id": "eve"})


async def test_users_are_updated_by_id_or_email_within_the_callers_rights(world: World) -> None:
    m = world.management
    await m.organizations.new(MASTER, {"organization_id": "acme", "organization_alias": "Acme"})
    olga = await world.person("olga", "org_admin", organization_id="acme")
    await m.users.new(olga, {"user_id": "ivan", "user_email": "ivan@acme.test"})
    updated = await m.users.update(olga, {"user_alias": "Ivan", "tpm_limit": 5}, user_email="ivan@acme.test")
    assert (updated.user_id, updated.user_alias, updated.limits.tpm_limit) == ("ivan", "Ivan", 5)
    with pytest.raises(PermissionDeniedError, match="role proxy_admin"):
        await m.users.update(olga, {"user_role": "proxy_admin"}, user_id="ivan")
    ivan = await world.signed_in(await m.keys.generate(MASTER, {"user_id": "ivan"}))
    with pytest.raises(PermissionDeniedError, match="may not update user ivan"):
        await m.users.update(ivan, {"max_budget": 1000}, user_id="ivan")
    with pytest.raises(NotFoundError):
        await m.users.update(MASTER, {}, user_id="ghost")


async def test_deleting_a_user_takes_its_keys_and_memberships(world: World) -> None:
    m = world.management
    await m.teams.new(MASTER, {"team_id": "red"})
    made = await m.users.new(MASTER, {"user_id": "ivan", "teams": ["red"]})
    assert await m.users.delete(MASTER, ["ivan"]) == ["ivan"]
    assert await world.user("ivan") is None and await world.key(made.issued.key.token) is None
    assert (await world.team("red")).members == ()
    assert {(e.table, e.action) for e in world.audit()} >= {
        ("user", "deleted"),
        ("key", "deleted"),
        ("team", "member_removed"),
    }
    with pytest.raises(NotFoundError):
        await m.users.delete(MASTER, ["ivan"])


async def test_a_user_reads_itself_with_its_teams_and_keys_but_not_others(world: World) -> None:
    m = world.management
    await m.teams.new(MASTER, {"team_id": "red"})
    ivan = await world.person("ivan", teams=["red"])
    view = await m.users.info(ivan, None)
    assert view.user_id == "ivan" and [t.team_id for t in view.teams] == ["red"] and len(view.keys) == 1
    await world.person("tom")
    with pytest.raises(PermissionDeniedError):
        await m.users.info(ivan, "tom")
    with pytest.raises(NotFoundError):
        await m.users.info(MASTER, "ghost")


async def test_users_are_listed_in_pages_by_admins_and_by_org_admins_for_their_organization(
    world: World,
) -> None:
    m = world.management
    await m.organizations.new(MASTER, {"organization_id": "acme", "organization_alias": "Acme"})
    olga = await world.person("olga", "org_admin", organization_id="acme")
    for name in ("a", "b", "c"):
        await m.users.new(MASTER, {"user_id": name, "auto_create_key": False})
    await m.users.new(olga, {"user_id": "ivan", "auto_create_key": False})
    page = await m.users.list(MASTER, page=1, size=2)
    assert (page.total, page.pages, len(page.items)) == (5, 3, 2)
    assert {v.user_id for v in (await m.users.list(olga)).items} == {"olga", "ivan"}
    assert [v.user_id for v in (await m.users.list(MASTER, user_ids=["c", "a"])).items] == ["c", "a"]
    ivan = await world.signed_in(await m.keys.generate(MASTER, {"user_id": "ivan"}))
    with pytest.raises(PermissionDeniedError, match="list users"):
        await m.users.list(ivan)


async def test_a_jwt_user_without_a_record_reads_itself(world: World) -> None:
    jwt = Principal(via=Via.JWT, role=Role.INTERNAL_USER, user_id="sub-1")
    view = await world.management.users.info(jwt, None)
    assert (view.user_id, view.user, view.keys) == ("sub-1", None, ())


async def test_keys_of_an_organization_are_managed_by_its_org_admin(world: World) -> None:
    m = world.management
    await m.organizations.new(MASTER, {"organization_id": "acme", "organization_alias": "Acme"})
    olga = await world.person("olga", "org_admin", organization_id="acme")
    await m.users.new(olga, {"user_id": "ivan", "auto_create_key": False})
    issued = await m.keys.generate(olga, {"user_id": "ivan", "organization_id": "acme"})
    assert (await m.keys.update(olga, issued.secret, {"key_alias": "ivans"})).key_alias == "ivans"
    assert [k.key_alias for k in (await m.keys.list(olga, user_id="ivan")).items] == ["ivans"]
    assert [k.key_alias for k in (await m.keys.list(olga, organization_id="acme")).items] == ["ivans"]
    stranger = await m.keys.generate(MASTER, {"user_id": "zed"})
    with pytest.raises(PermissionDeniedError):
        await m.keys.block(olga, stranger.secret, True)


async def test_only_an_admin_sets_a_teams_passthrough_routes_which_bound_every_key_in_it(
    world: World,
) -> None:
    m = world.management
    await m.teams.new(MASTER, {"team_id": "red", "allowed_passthrough_routes": ["/anthropic"]})
    await m.teams.update(MASTER, "red", {"team_alias": "Red"})
    assert (await world.team("red")).metadata == {"allowed_passthrough_routes": ["/anthropic"]}
    tia = await world.person("tia")
    await m.teams.new(
        MASTER, {"team_id": "blue", "members_with_roles": [{"user_id": "tia", "role": "admin"}]}
    )
    with pytest.raises(PermissionDeniedError, match="allowed_passthrough_routes"):
        await m.teams.update(tia, "blue", {"allowed_passthrough_routes": []})
    with pytest.raises(PermissionDeniedError, match="allowed_passthrough_routes"):
        await m.teams.new(tia, {"allowed_passthrough_routes": ["/openai"]})

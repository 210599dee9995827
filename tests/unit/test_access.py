"""Authentication and admission on the request path: keys, JWT claims, model lists, routes, rate limits,
and the in-process cache of identity records."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from adapters.cache.memory_rate_limiter import InMemoryRateLimiter
from adapters.persistence.memory import InMemoryStore
from application.access import Gatekeeper, JwtClaims, hash_key
from application.identity_cache import IdentityCache
from domain.access import MASTER, Principal, Via, may_use_model, require_model, route_in
from domain.budgets import BudgetTerms
from domain.completions import CompletionRequest
from domain.errors import (
    AuthenticationError,
    BadRequestError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
)
from domain.identity import (
    Budget,
    EndUser,
    Member,
    MemberRole,
    Organization,
    RateLimits,
    Role,
    Team,
    User,
    VirtualKey,
)
from domain.messages import Message
from domain.messages import Role as MessageRole
from ports.token_verifier import TokenVerifier
from ports.unit_of_work import StoreUnavailable, UnitOfWork
from tests.fakes import FakeClock

SECRET = "sk-test-secret-0001"


def _key(secret: str = SECRET, **fields: Any) -> VirtualKey:
    return VirtualKey(token=hash_key(secret), key_name=f"sk-...{secret[-4:]}", **fields)


async def _save(store: InMemoryStore, *records: object) -> None:
    async with store.unit_of_work() as uow:
        for record in records:
            repository = {
                VirtualKey: uow.keys,
                Team: uow.teams,
                User: uow.users,
                Organization: uow.organizations,
                EndUser: uow.end_users,
                Budget: uow.budgets,
            }[type(record)]
            await repository.add(record)
        await uow.commit()


class FakeVerifier(TokenVerifier):
    def __init__(self, claims: Mapping[str, Any]) -> None:
        self.claims = claims

    async def verify(self, token: str) -> Mapping[str, Any]:
        if token != "a.b.c":
            raise AuthenticationError("bad token")
        return self.claims


def _gatekeeper(
    store: InMemoryStore,
    clock: FakeClock,
    *,
    verifier: TokenVerifier | None = None,
    claims: JwtClaims | None = None,
    groups: Mapping[str, frozenset[str]] | None = None,
) -> Gatekeeper:
    return Gatekeeper(
        identities=IdentityCache(uow=store.unit_of_work, clock=clock, ttl=60),
        limiter=InMemoryRateLimiter(),
        clock=clock,
        master_key="sk-master",
        verifier=verifier,
        claims=claims,
        access_groups=lambda: groups or {},
    )


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1_800_000_000.0)


async def test_the_master_key_is_the_admin(store: InMemoryStore, clock: FakeClock) -> None:
    assert await _gatekeeper(store, clock).authenticate("sk-master", "/key/generate") is MASTER


async def test_a_virtual_key_authenticates_with_its_team_user_and_organization(
    store: InMemoryStore, clock: FakeClock
) -> None:
    await _save(
        store,
        Organization("org-1"),
        Team("team-1", organization_id="org-1", members=(Member("u-1", MemberRole.ADMIN),)),
        User("u-1", user_role=Role.INTERNAL_USER),
        _key(team_id="team-1", user_id="u-1"),
    )
    principal = await _gatekeeper(store, clock).authenticate(SECRET, "/v1/chat/completions")
    assert principal.via is Via.VIRTUAL_KEY
    assert principal.role is Role.INTERNAL_USER
    assert principal.team is not None and principal.team.team_id == "team-1"
    assert principal.organization is not None and principal.organization.organization_id == "org-1"
    assert principal.actor == "user:u-1"


@pytest.mark.parametrize(
    ("secret", "saved", "code"),
    [
        ("sk-unknown", _key(), "invalid_api_key"),
        (SECRET, _key(blocked=True), "key_blocked"),
        (SECRET, _key(expires=datetime(2020, 1, 1, tzinfo=UTC)), "key_expired"),
    ],
)
async def test_unknown_blocked_and_expired_keys_are_refused_with_401(
    store: InMemoryStore, clock: FakeClock, secret: str, saved: VirtualKey, code: str
) -> None:
    await _save(store, saved)
    with pytest.raises(AuthenticationError) as refused:
        await _gatekeeper(store, clock).authenticate(secret, "/v1/chat/completions")
    assert refused.value.code == code


async def test_a_key_presented_again_after_many_others_is_still_known_and_an_unknown_one_still_refused(
    store: InMemoryStore, clock: FakeClock
) -> None:
    await _save(store, _key())
    gatekeeper = _gatekeeper(store, clock)
    first = await gatekeeper.authenticate(SECRET, "/v1/chat/completions")
    for n in range(5_000):  # more made-up keys than the hashes remembered
        with pytest.raises(AuthenticationError):
            await gatekeeper.authenticate(f"sk-made-up-{n}", "/v1/chat/completions")
    again = await gatekeeper.authenticate(SECRET, "/v1/chat/completions")
    assert again.key == first.key and again.key is not None and again.key.token == hash_key(SECRET)
    with pytest.raises(AuthenticationError):
        await gatekeeper.authenticate(SECRET + "x", "/v1/chat/completions")


async def test_a_key_of_a_blocked_team_is_refused(store: InMemoryStore, clock: FakeClock) -> None:
    await _save(store, Team("t", blocked=True), _key(team_id="t"))
    with pytest.raises(AuthenticationError, match="Team t is blocked"):
        await _gatekeeper(store, clock).authenticate(SECRET, "/v1/chat/completions")


async def test_a_key_limited_to_some_routes_gets_403_elsewhere(
    store: InMemoryStore, clock: FakeClock
) -> None:
    await _save(store, _key(allowed_routes=("/v1/embeddings",)))
    gatekeeper = _gatekeeper(store, clock)
    assert (await gatekeeper.authenticate(SECRET, "/v1/embeddings")).key is not None
    with pytest.raises(PermissionDeniedError, match="/v1/chat/completions"):
        await gatekeeper.authenticate(SECRET, "/v1/chat/completions")


def _asking(cache: object = None, header: str | None = None) -> CompletionRequest:
    controls = {"cache": cache} if cache is not None else {}
    if header is not None:
        controls["cache_control_header"] = header
    return CompletionRequest("gpt-x", (Message(MessageRole.USER, "Hi"),), controls=controls)


def _guarded(*names: str, in_metadata: bool = False) -> CompletionRequest:
    where = (
        {"metadata": {"guardrails": list(names)}}
        if in_metadata
        else {"controls": {"guardrails": list(names)}}
    )
    return CompletionRequest("gpt-x", (Message(MessageRole.USER, "Hi"),), **where)  # type: ignore[arg-type]


async def test_a_keys_and_its_teams_guardrails_ride_on_each_call_and_bound_what_a_request_may_name(
    store: InMemoryStore, clock: FakeClock
) -> None:
    await _save(
        store,
        Team("t", metadata={"guardrails": ["pii"]}),
        _key(team_id="t", metadata={"guardrails": ["secrets", "pii"]}),
        _key("sk-test-secret-0002"),
    )
    gatekeeper = _gatekeeper(store, clock)
    limited = await gatekeeper.authenticate(SECRET, "/v1/chat/completions")
    free = await gatekeeper.authenticate("sk-test-secret-0002", "/v1/chat/completions")

    ticket = await gatekeeper.admit(limited, "gpt-x", request=_guarded("pii"))
    assert ticket.caller.guardrails == ("secrets", "pii")
    await gatekeeper.admit(limited, "gpt-x", request=_guarded("secrets", in_metadata=True))
    for asked in (_guarded("moderation"), _guarded("moderation", in_metadata=True)):
        with pytest.raises(PermissionDeniedError, match="'moderation'") as refused:
            await gatekeeper.admit(limited, "gpt-x", request=asked)
        assert (refused.value.code, refused.value.param) == ("guardrail_not_allowed", "guardrails")
    # A key that lists none may name any, and the master key may too.
    assert (await gatekeeper.admit(free, "gpt-x", request=_guarded("moderation"))).caller.guardrails == ()
    await gatekeeper.admit(MASTER, "gpt-x", request=_guarded("moderation"))


async def test_a_key_limited_to_some_cache_controls_gets_403_naming_another(
    store: InMemoryStore, clock: FakeClock
) -> None:
    await _save(store, _key(allowed_cache_controls=("no-cache", "ttl")))
    gatekeeper = _gatekeeper(store, clock)
    principal = await gatekeeper.authenticate(SECRET, "/v1/chat/completions")
    await gatekeeper.admit(principal, "gpt-x", request=_asking())
    await gatekeeper.admit(principal, "gpt-x", request=_asking({"no-cache": True, "ttl": 60}))
    await gatekeeper.admit(principal, "gpt-x", request=_asking(header="no-cache"))
    with pytest.raises(PermissionDeniedError, match="cache control 'no-store'") as refused:
        await gatekeeper.admit(principal, "gpt-x", request=_asking({"ttl": 5, "no-store": True}))
    assert refused.value.param == "cache"
    with pytest.raises(PermissionDeniedError, match="'s-maxage'"):
        await gatekeeper.admit(principal, "gpt-x", request=_asking(header="max-age=10"))
    with pytest.raises(BadRequestError) as malformed:
        await gatekeeper.admit(principal, "gpt-x", request=_asking({"ttl": "soon"}))
    assert malformed.value.param == "cache.ttl"


async def test_a_key_with_no_cache_control_list_may_use_every_control(
    store: InMemoryStore, clock: FakeClock
) -> None:
    await _save(store, _key())
    gatekeeper = _gatekeeper(store, clock)
    principal = await gatekeeper.authenticate(SECRET, "/v1/chat/completions")
    every = {"no-cache": True, "no-store": True, "ttl": 1, "s-maxage": 1, "namespace": "n", "use-cache": True}
    await gatekeeper.admit(principal, "gpt-x", request=_asking(every, header="no-store"))
    await gatekeeper.admit(principal, "gpt-x", request=_asking({"ttl": "soon"}))  # the cache's to refuse


def test_model_lists_of_key_team_and_organization_must_all_allow_the_model() -> None:
    key = _key(models=("gpt-x", "cheap-models"))
    team = Team("t", models=("gpt-x", "claude-*"))
    principal = Principal(Via.VIRTUAL_KEY, Role.INTERNAL_USER, key=key, team=team)
    groups = {"cheap-models": frozenset({"mini"})}
    assert may_use_model(principal, "gpt-x", groups)
    assert not may_use_model(principal, "mini", groups)  # the key's group allows it, the team's list not
    with pytest.raises(PermissionDeniedError, match="'mini'") as refused:
        require_model(principal, "mini", groups)
    assert refused.value.param == "model"
    everything = Principal(
        Via.VIRTUAL_KEY, Role.INTERNAL_USER, key=_key(models=("all-team-models",)), team=team
    )
    assert may_use_model(everything, "claude-3", {})
    assert not may_use_model(everything, "gpt-y", {})


async def test_admit_refuses_a_model_outside_the_keys_list(store: InMemoryStore, clock: FakeClock) -> None:
    await _save(store, _key(models=("gpt-x",)))
    gatekeeper = _gatekeeper(store, clock)
    principal = await gatekeeper.authenticate(SECRET, "/v1/chat/completions")
    with pytest.raises(PermissionDeniedError, match="gpt-y"):
        await gatekeeper.admit(principal, "gpt-y")
    ticket = await gatekeeper.admit(principal, "gpt-x")
    assert ticket.admission is None  # no limits: nothing counted
    assert ticket.caller.key_hash == principal.key.token  # but charged to the key in the ledger


async def test_rpm_limit_of_a_key_admits_exactly_the_limit_then_429_naming_it(
    store: InMemoryStore, clock: FakeClock
) -> None:
    await _save(store, _key(limits=RateLimits(rpm_limit=2)))
    gatekeeper = _gatekeeper(store, clock)
    principal = await gatekeeper.authenticate(SECRET, "/v1/chat/completions")
    first = await gatekeeper.admit(principal, "gpt-x")
    left = first.limits_left()
    assert left is not None and (left.limit_requests, left.remaining_requests) == (2, 1)
    await gatekeeper.admit(principal, "gpt-x")
    with pytest.raises(RateLimitError, match="key rpm") as refused:
        await gatekeeper.admit(principal, "gpt-x")
    assert refused.value.retry_after is not None and 0 < refused.value.retry_after <= 60
    clock.advance(60)
    await gatekeeper.admit(principal, "gpt-x")


async def test_tokens_released_count_against_the_tpm_limit(store: InMemoryStore, clock: FakeClock) -> None:
    await _save(store, _key(limits=RateLimits(tpm_limit=100)))
    gatekeeper = _gatekeeper(store, clock)
    principal = await gatekeeper.authenticate(SECRET, "/v1/chat/completions")
    ticket = await gatekeeper.admit(principal, "gpt-x")
    ticket.release(150)
    ticket.release(150)  # a second release counts nothing
    await gatekeeper.drain()
    with pytest.raises(RateLimitError, match="tokens per minute"):
        await gatekeeper.admit(principal, "gpt-x")


class _SharedLimiter(InMemoryRateLimiter):
    """In-process counters that say they are not: the gatekeeper releases them as it would Redis's."""

    @property
    def in_process(self) -> bool:
        return False


@pytest.mark.parametrize("limiter", [InMemoryRateLimiter, _SharedLimiter])
async def test_calls_released_together_each_free_their_slot(
    store: InMemoryStore, clock: FakeClock, limiter
) -> None:
    await _save(store, _key(limits=RateLimits(max_parallel_requests=8, tpm_limit=1000)))
    gatekeeper = Gatekeeper(
        identities=IdentityCache(uow=store.unit_of_work, clock=clock, ttl=60),
        limiter=limiter(),
        clock=clock,
        master_key="sk-master",
    )
    principal = await gatekeeper.authenticate(SECRET, "/v1/chat/completions")
    tickets = [await gatekeeper.admit(principal, "gpt-x") for _ in range(8)]
    for ticket in tickets:
        ticket.release(100)  # all owed at once: released as one batch
    await gatekeeper.drain()

    again = [await gatekeeper.admit(principal, "gpt-x") for _ in range(8)]
    left = again[-1].limits_left()
    assert left is not None and left.remaining_tokens == 1000 - 800


async def test_max_parallel_requests_frees_a_slot_on_release(store: InMemoryStore, clock: FakeClock) -> None:
    await _save(store, _key(limits=RateLimits(max_parallel_requests=1)))
    gatekeeper = _gatekeeper(store, clock)
    principal = await gatekeeper.authenticate(SECRET, "/v1/chat/completions")
    ticket = await gatekeeper.admit(principal, "gpt-x")
    with pytest.raises(RateLimitError, match="parallel"):
        await gatekeeper.admit(principal, "gpt-x")
    ticket.release()
    await gatekeeper.drain()
    await gatekeeper.admit(principal, "gpt-x")


async def test_team_limits_bind_every_key_of_the_team(store: InMemoryStore, clock: FakeClock) -> None:
    await _save(
        store,
        Team("t", limits=RateLimits(rpm_limit=1)),
        _key(team_id="t"),
        _key("sk-other-0002", team_id="t"),
    )
    gatekeeper = _gatekeeper(store, clock)
    await gatekeeper.admit(await gatekeeper.authenticate(SECRET, "/v1/chat/completions"), "m")
    other = await gatekeeper.authenticate("sk-other-0002", "/v1/chat/completions")
    with pytest.raises(RateLimitError, match="team"):
        await gatekeeper.admit(other, "m")


async def test_a_shared_budget_object_supplies_limits_a_record_does_not_set(
    store: InMemoryStore, clock: FakeClock
) -> None:
    await _save(
        store,
        Budget("b", BudgetTerms(max_budget=Decimal(5)), limits=RateLimits(rpm_limit=1)),
        _key(budget=BudgetTerms(budget_id="b")),
    )
    gatekeeper = _gatekeeper(store, clock)
    principal = await gatekeeper.authenticate(SECRET, "/v1/chat/completions")
    await gatekeeper.admit(principal, "m")
    with pytest.raises(RateLimitError):
        await gatekeeper.admit(principal, "m")


async def test_end_users_are_limited_and_blocked_by_the_user_field(
    store: InMemoryStore, clock: FakeClock
) -> None:
    await _save(store, EndUser("cust-1", limits=RateLimits(rpm_limit=1)), EndUser("cust-2", blocked=True))
    gatekeeper = _gatekeeper(store, clock)
    await gatekeeper.admit(MASTER, "m", "cust-1")
    with pytest.raises(RateLimitError, match="end user"):
        await gatekeeper.admit(MASTER, "m", "cust-1")
    with pytest.raises(PermissionDeniedError, match="cust-2"):
        await gatekeeper.admit(MASTER, "m", "cust-2")
    ticket = await gatekeeper.admit(MASTER, "m", "never-registered")
    assert ticket.admission is None and ticket.caller.end_user == "never-registered"


async def test_jwt_claims_name_the_user_team_and_role(store: InMemoryStore, clock: FakeClock) -> None:
    await _save(store, Team("team-a", models=("gpt-x",)), User("alice", user_role=Role.INTERNAL_USER))
    claims = {"sub": "alice", "groups": ["team-a"], "roles": ["platform-admin"], "customer": "c-9"}
    gatekeeper = _gatekeeper(
        store,
        clock,
        verifier=FakeVerifier(claims),
        claims=JwtClaims(
            team_id_field="groups",
            roles_field="roles",
            end_user_id_field="customer",
            role_mappings={"platform-admin": Role.ORG_ADMIN},
        ),
    )
    principal = await gatekeeper.authenticate("a.b.c", "/v1/chat/completions")
    assert (principal.via, principal.role, principal.user_id) == (Via.JWT, Role.ORG_ADMIN, "alice")
    assert principal.team is not None and principal.team.team_id == "team-a"
    assert principal.end_user is not None and principal.end_user.user_id == "c-9"
    with pytest.raises(PermissionDeniedError):
        await gatekeeper.admit(principal, "gpt-y")


def test_the_admin_scope_of_a_jwt_makes_a_proxy_admin() -> None:
    claims = JwtClaims()
    assert claims.role({"scope": "openid litellm_proxy_admin"}, Role.INTERNAL_USER) is Role.PROXY_ADMIN
    assert claims.role({"scope": "openid"}, Role.INTERNAL_USER_VIEWER) is Role.INTERNAL_USER_VIEWER


async def test_a_bad_jwt_is_refused(store: InMemoryStore, clock: FakeClock) -> None:
    gatekeeper = _gatekeeper(store, clock, verifier=FakeVerifier({"sub": "x"}))
    with pytest.raises(AuthenticationError):
        await gatekeeper.authenticate("x.y.z", "/v1/chat/completions")


async def test_cached_keys_see_a_change_once_invalidated(store: InMemoryStore, clock: FakeClock) -> None:
    await _save(store, _key())
    gatekeeper = _gatekeeper(store, clock)
    await gatekeeper.authenticate(SECRET, "/v1/chat/completions")
    async with store.unit_of_work() as uow:
        await uow.keys.update(_key(blocked=True))
        await uow.commit()
    await gatekeeper.authenticate(SECRET, "/v1/chat/completions")  # still cached
    gatekeeper.identities.invalidate()
    with pytest.raises(AuthenticationError, match="blocked"):
        await gatekeeper.authenticate(SECRET, "/v1/chat/completions")


async def test_poll_drops_the_cache_when_another_instance_changed_records(
    store: InMemoryStore, clock: FakeClock
) -> None:
    await _save(store, _key())
    cache = IdentityCache(uow=store.unit_of_work, clock=clock)
    assert await cache.poll() is False
    assert await cache.principal_for_key(hash_key(SECRET)) is not None
    async with store.unit_of_work() as uow:
        await uow.keys.delete(hash_key(SECRET))
        await uow.commit()
    assert await cache.poll() is True
    assert await cache.principal_for_key(hash_key(SECRET)) is None


async def test_entries_expire_after_the_ttl(store: InMemoryStore, clock: FakeClock) -> None:
    cache = IdentityCache(uow=store.unit_of_work, clock=clock, ttl=10)
    assert await cache.principal_for_key(hash_key(SECRET)) is None
    await _save(store, _key())
    assert await cache.principal_for_key(hash_key(SECRET)) is None
    clock.advance(11)
    assert await cache.principal_for_key(hash_key(SECRET)) is not None


class _Outage:
    """A unit-of-work factory whose database can be switched off."""

    def __init__(self, store: InMemoryStore) -> None:
        self.store = store
        self.down = False
        self.loads = 0

    def __call__(self) -> UnitOfWork:
        if self.down:
            raise StoreUnavailable("down")
        self.loads += 1
        return self.store.unit_of_work()


async def test_keys_seen_recently_keep_working_while_the_database_is_down(
    store: InMemoryStore, clock: FakeClock
) -> None:
    await _save(store, _key())
    factory = _Outage(store)
    cache = IdentityCache(uow=factory, clock=clock, ttl=10, stale_for=3600)
    assert await cache.principal_for_key(hash_key(SECRET)) is not None
    factory.down = True
    clock.advance(600)
    assert await cache.principal_for_key(hash_key(SECRET)) is not None
    with pytest.raises(ServiceUnavailableError):
        await cache.principal_for_key(hash_key("sk-never-seen"))
    clock.advance(3600)
    with pytest.raises(ServiceUnavailableError):
        await cache.principal_for_key(hash_key(SECRET))


async def test_concurrent_lookups_of_a_cold_key_load_it_once(store: InMemoryStore, clock: FakeClock) -> None:
    import asyncio

    await _save(store, _key(expires=datetime.fromtimestamp(clock.now(), UTC) + timedelta(days=1)))
    factory = _Outage(store)
    cache = IdentityCache(uow=factory, clock=clock)
    found = await asyncio.gather(*(cache.principal_for_key(hash_key(SECRET)) for _ in range(20)))
    assert all(p is not None for p in found)
    assert factory.loads == 1


@pytest.mark.parametrize(
    "path",
    [
        "/v1/chat/completions",
        "/completions",
        "/v1/responses",
        "/v1/responses/resp_1/input_items",
        "/v1/images/generations",
        "/v1/audio/speech",
        "/v2/rerank",
        "/v1/messages/count_tokens",
        "/anthropic/v1/messages",
        "/bedrock/model/amazon.nova-lite-v1:0/converse",
    ],
)
def test_llm_api_routes_cover_every_inference_and_passthrough_route(path: str) -> None:
    assert route_in(path, ["llm_api_routes"])


def test_route_groups_keep_to_their_family_and_management_routes_stay_out() -> None:
    assert not route_in("/key/generate", ["llm_api_routes"])
    assert not route_in("/spend/logs", ["llm_api_routes"])
    assert route_in("/v1/embeddings", ["openai_routes"]) and not route_in("/v1/messages", ["openai_routes"])
    assert route_in("/gemini/v1beta/models", ["mapped_pass_through_routes"])
    assert not route_in("/v1/chat/completions", ["mapped_pass_through_routes"])

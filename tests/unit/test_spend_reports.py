"""The spend reports, the reset and the calculator over the in-memory ledger and store, with hand-written
records: filters, paging, grouping, and who may read whose spend."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from adapters.cache.memory_budget_reservations import InMemoryBudgetReservations
from adapters.persistence.memory import InMemoryStore
from adapters.persistence.memory_spend_ledger import InMemorySpendLedger
from application.access import hash_key
from application.catalog import ModelCatalog
from application.management.authority import Reach
from application.pricing import Pricing
from application.spend_reports import SpendDesk
from application.spend_rollups import GroupBy
from application.spend_scope import SpendFilter, key_hash_of, log_window, scoped
from domain.access import MASTER, Principal, Via
from domain.budgets import BudgetLine
from domain.completions import CompletionRequest, Usage
from domain.deployments import Deployment
from domain.errors import BadRequestError, NotFoundError, PermissionDeniedError
from domain.identity import Member, MemberRole, Role, Team, VirtualKey
from domain.messages import Message
from domain.messages import Role as MessageRole
from domain.pricing import ModelPrices
from domain.router_policy import RouterPolicy
from domain.spend import Caller, CallStatus, SpendLogQuery, SpendRecord, subject
from tests.fakes import FakeClock, FakeTokenCounter

SECRET = "sk-alice-key"
ALICE_KEY = hash_key(SECRET)
BOB_KEY = "b" * 64
LONE_KEY = "c" * 64
DAY1 = datetime(2024, 5, 1, 10, tzinfo=UTC)
DAY2 = datetime(2024, 5, 2, 10, tzinfo=UTC)
DAY3 = datetime(2024, 5, 3, 10, tzinfo=UTC)

USAGE = Usage(10, 5)
RED = Team("red", team_alias="Red Team", members=(Member("alice", MemberRole.ADMIN), Member("bob")))
BLUE = Team("blue", members=(Member("bob", MemberRole.ADMIN),))


def record(
    request_id: str,
    at: datetime,
    cost: str,
    *,
    key: str | None = ALICE_KEY,
    user: str | None = "alice",
    team: str | None = "red",
    end_user: str | None = None,
    model: str = "gpt-x",
    provider: str = "openai",
    usage: Usage = USAGE,
    status: CallStatus = CallStatus.SUCCESS,
) -> SpendRecord:
    return SpendRecord(
        request_id=request_id,
        call_type="chat",
        started_at=at,
        ended_at=at + timedelta(seconds=1),
        model_group=model,
        caller=Caller(key_hash=key, key_alias=None, user_id=user, team_id=team, end_user=end_user),
        provider=provider,
        upstream_model="gpt-4o-mini",
        usage=usage,
        cost=Decimal(cost),
        status=status,
    )


RECORDS = [
    record("r1", DAY1, "0.1"),
    record("r2", DAY1 + timedelta(hours=1), "0.2", model="claude", provider="anthropic"),
    record("r3", DAY2, "0.3", key=BOB_KEY, user="bob", end_user="cust"),
    record(
        "r4",
        DAY2 + timedelta(hours=1),
        "0.000000000000000000000000000001",
        key=BOB_KEY,
        user="bob",
        team="blue",
    ),
    record("r5", DAY3, "0.5", key=LONE_KEY, user=None, team=None, status=CallStatus.FAILURE),
]


def principal(
    user_id: str | None, role: Role = Role.INTERNAL_USER, key: VirtualKey | None = None
) -> Principal:
    return Principal(via=Via.VIRTUAL_KEY, role=role, user_id=user_id, key=key)


ALICE = principal("alice")
BOB = principal("bob")
VIEWER = principal("vic", Role.PROXY_ADMIN_VIEWER)
LONE = principal(None, key=VirtualKey(LONE_KEY, "sk-...lone"))


class World:
    def __init__(self) -> None:
        self.ledger = InMemorySpendLedger()
        self.store = InMemoryStore()
        self.clock = FakeClock(DAY3.timestamp() + 3600)
        self.reservations = InMemoryBudgetReservations()
        prices = ModelPrices(input=Decimal("0.001"), output=Decimal("0.002"))
        deployments = [
            Deployment("d1", "gpt-x", "openai", "gpt-4o-mini", prices=prices),
            Deployment("d2", "gpt-x", "openai", "gpt-4o", prices=ModelPrices(input=Decimal(1))),
            Deployment("d3", "free", "openai", "free-model"),
        ]
        self.desk = SpendDesk.build(
            ledger=self.ledger,
            uow=self.store.unit_of_work,
            clock=self.clock,
            reservations=self.reservations,
            catalog=ModelCatalog(deployments=deployments),
            pricing=Pricing(catalog=None),
            counter=FakeTokenCounter(),
            policy=RouterPolicy(),
        )

    async def seed(self) -> World:
        await self.ledger.write(RECORDS)
        async with self.store.unit_of_work() as uow:
            await uow.teams.add(RED)
            await uow.teams.add(BLUE)
            await uow.keys.add(VirtualKey(ALICE_KEY, "sk-...-key", key_alias="alice-ci", user_id="alice"))
            await uow.commit()
        return self


@pytest.fixture
async def world() -> World:
    return await World().seed()


def ids(records: list[SpendRecord] | tuple[SpendRecord, ...]) -> list[str]:
    return [r.request_id for r in records]


# Logs ------------------------------------------------------------------------------------------------


async def test_an_admin_reads_the_whole_log_newest_first_filtered_as_asked(world: World) -> None:
    logs = world.desk.logs
    assert ids(await logs.recent(MASTER)) == ["r5", "r4", "r3", "r2", "r1"]
    assert ids(await logs.recent(MASTER, api_key=SECRET)) == ["r2", "r1"]
    assert ids(await logs.recent(MASTER, api_key=BOB_KEY.upper())) == ["r4", "r3"]
    assert ids(await logs.recent(VIEWER, user_id="bob", team_id="blue")) == ["r4"]
    assert ids(await logs.recent(MASTER, request_id="r3")) == ["r3"]
    assert ids(await logs.recent(MASTER, start=date(2024, 5, 2), end=date(2024, 5, 2))) == ["r4", "r3"]
    assert ids(await logs.recent(MASTER, start=DAY1 + timedelta(hours=1), end=DAY2)) == ["r3", "r2"]


async def test_the_log_is_paged_with_its_total(world: World) -> None:
    page = await world.desk.logs.page(MASTER, page=2, size=2)
    assert (ids(page.records), page.total, page.page, page.size, page.pages) == (["r3", "r2"], 5, 2, 2, 3)
    last = await world.desk.logs.page(MASTER, page=3, size=2)
    assert ids(last.records) == ["r1"]


@pytest.mark.parametrize(
    ("paging", "param"), [({"page": 0}, "page"), ({"size": 0}, "page_size"), ({"size": 101}, "page_size")]
)
async def test_a_bad_page_is_refused_naming_it(world: World, paging: dict[str, int], param: str) -> None:
    with pytest.raises(BadRequestError) as refused:
        await world.desk.logs.page(MASTER, **paging)
    assert refused.value.param == param


async def test_a_backwards_date_range_is_refused_naming_end_date(world: World) -> None:
    with pytest.raises(BadRequestError) as refused:
        await world.desk.logs.recent(MASTER, start=date(2024, 5, 2), end=date(2024, 5, 1))
    assert refused.value.param == "end_date"


async def test_a_user_reads_only_its_own_log(world: World) -> None:
    assert ids(await world.desk.logs.recent(ALICE)) == ["r2", "r1"]
    assert ids(await world.desk.logs.recent(ALICE, api_key=BOB_KEY)) == []
    with pytest.raises(PermissionDeniedError) as refused:
        await world.desk.logs.recent(ALICE, user_id="bob")
    assert refused.value.param == "user_id"


async def test_a_team_admin_reads_its_team_and_a_member_may_not(world: World) -> None:
    assert ids(await world.desk.logs.recent(ALICE, team_id="red")) == ["r3", "r2", "r1"]
    assert ids(await world.desk.logs.recent(BOB, team_id="blue")) == ["r4"]
    for team in ("red", "ghost"):
        with pytest.raises(PermissionDeniedError) as refused:
            await world.desk.logs.recent(BOB, team_id=team)
        assert refused.value.param == "team_id"


async def test_a_key_without_a_user_reads_its_own_key_only(world: World) -> None:
    assert ids(await world.desk.logs.recent(LONE)) == ["r5"]
    with pytest.raises(PermissionDeniedError) as refused:
        await world.desk.logs.recent(LONE, api_key=ALICE_KEY)
    assert refused.value.param == "api_key"
    with pytest.raises(PermissionDeniedError):
        await world.desk.logs.recent(LONE, user_id="alice")


def test_scope_rules_narrow_what_is_asked() -> None:
    asked = SpendFilter(key_hash=BOB_KEY)
    assert scoped(Reach(VIEWER), asked, None) == asked
    assert scoped(Reach(ALICE, teams=(RED,)), asked, None) == SpendFilter(key_hash=BOB_KEY, user_id="alice")
    team = SpendFilter(team_id="red")
    assert scoped(Reach(ALICE, teams=(RED,)), team, RED) == team
    assert (
        key_hash_of(SECRET) == ALICE_KEY and key_hash_of("A" * 64) == "a" * 64 and key_hash_of(None) is None
    )


def test_a_log_window_counts_an_end_day_whole_and_an_end_moment_inclusively() -> None:
    since, until = log_window(date(2024, 5, 1), date(2024, 5, 1))
    assert (since, until) == (datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC))
    _, until = log_window(None, datetime(2024, 5, 1, 10))
    assert until == datetime(2024, 5, 1, 10, 0, 0, 1, tzinfo=UTC)


# The global report -----------------------------------------------------------------------------------


async def report(world: World, group_by: GroupBy, who: Principal = MASTER, **filters: str):
    return await world.desk.report.report(
        who, group_by=group_by, start=date(2024, 5, 1), end=date(2024, 5, 3), **filters
    )


async def test_the_report_by_team_goes_day_by_day_with_team_aliases(world: World) -> None:
    found = await report(world, GroupBy.TEAM)
    assert [(g.day, g.name, g.totals.spend) for g in found.groups] == [
        (date(2024, 5, 1), "red", Decimal("0.3")),
        (date(2024, 5, 2), "red", Decimal("0.3")),
        (date(2024, 5, 2), "blue", Decimal("0.000000000000000000000000000001")),
        (date(2024, 5, 3), None, Decimal("0.5")),
    ]
    assert found.team_aliases == {"red": "Red Team"}
    first = found.groups[0]
    assert [(p.model, p.key_hash, p.totals.spend) for p in first.parts] == [
        ("claude", ALICE_KEY, Decimal("0.2")),
        ("gpt-x", ALICE_KEY, Decimal("0.1")),
    ]


async def test_the_report_by_key_model_provider_or_day_sums_exactly(world: World) -> None:
    by_key = await report(world, GroupBy.API_KEY)
    assert [(g.name, g.totals.spend, g.totals.requests) for g in by_key.groups] == [
        (LONE_KEY, Decimal("0.5"), 1),
        (BOB_KEY, Decimal("0.300000000000000000000000000001"), 2),
        (ALICE_KEY, Decimal("0.3"), 2),
    ]
    by_model = await report(world, GroupBy.MODEL)
    assert [(g.name, str(g.totals.spend)) for g in by_model.groups] == [
        ("gpt-x", "0.900000000000000000000000000001"),
        ("claude", "0.2"),
    ]
    by_provider = await report(world, GroupBy.PROVIDER)
    assert [g.name for g in by_provider.groups] == ["openai", "anthropic"]
    by_day = await report(world, GroupBy.DAY)
    assert [(g.day, g.totals.prompt_tokens, g.totals.failures) for g in by_day.groups] == [
        (date(2024, 5, 1), 20, 0),
        (date(2024, 5, 2), 20, 0),
        (date(2024, 5, 3), 10, 1),
    ]
    by_customer = await report(world, GroupBy.CUSTOMER, end_user="cust")
    assert [(g.name, g.totals.spend) for g in by_customer.groups] == [("cust", Decimal("0.3"))]


async def test_the_report_is_narrowed_to_the_callers_own_spend(world: World) -> None:
    mine = await report(world, GroupBy.API_KEY, ALICE)
    assert [g.name for g in mine.groups] == [ALICE_KEY]
    with pytest.raises(PermissionDeniedError):
        await report(world, GroupBy.TEAM, BOB, team_id="red")


async def test_the_report_needs_both_dates(world: World) -> None:
    with pytest.raises(BadRequestError) as refused:
        await world.desk.report.report(MASTER, group_by=GroupBy.TEAM, start=None, end=date(2024, 5, 1))
    assert refused.value.param == "start_date"


async def test_the_overview_sums_every_way_the_console_charts_it(world: World) -> None:
    found = await world.desk.report.overview(MASTER, start=date(2024, 5, 1), end=date(2024, 5, 3))

    assert found.totals.spend == Decimal("1.100000000000000000000000000001") and found.totals.requests == 5
    assert [(d, t.requests) for d, t in found.days.items()] == [
        (date(2024, 5, 1), 2),
        (date(2024, 5, 2), 2),
        (date(2024, 5, 3), 1),
    ]
    assert list(found.models) == ["gpt-x", "claude"]
    assert list(found.teams) == ["red", None, "blue"]  # highest spend first
    assert list(found.keys) == [LONE_KEY, BOB_KEY, ALICE_KEY]
    assert found.team_aliases == {"red": "Red Team"}
    assert found.key_infos[ALICE_KEY].key_alias == "alice-ci" and BOB_KEY not in found.key_infos


async def test_the_overview_is_narrowed_as_the_report_is(world: World) -> None:
    mine = await world.desk.report.overview(ALICE, start=date(2024, 5, 1), end=date(2024, 5, 3))
    team = await world.desk.report.overview(BOB, start=date(2024, 5, 1), end=date(2024, 5, 3), team_id="blue")

    assert list(mine.keys) == [ALICE_KEY] and list(team.teams) == ["blue"]
    with pytest.raises(PermissionDeniedError):
        await world.desk.report.overview(BOB, start=date(2024, 5, 1), end=date(2024, 5, 3), team_id="red")


async def test_the_log_is_filtered_by_model_and_status(world: World) -> None:
    claude = await world.desk.logs.page(MASTER, model="claude")
    failed = await world.desk.logs.page(MASTER, status=CallStatus.FAILURE)

    assert ids(claude.records) == ["r2"] and claude.total == 1
    assert ids(failed.records) == ["r5"]


# Daily activity --------------------------------------------------------------------------------------


async def test_user_activity_breaks_each_day_down_newest_first(world: World) -> None:
    found = await world.desk.activity.of_users(MASTER, start=date(2024, 5, 1), end=date(2024, 5, 3))
    assert [d.day for d in found.days] == [date(2024, 5, 3), date(2024, 5, 2), date(2024, 5, 1)]
    day1 = found.days[2]
    assert set(day1.models) == {"gpt-x", "claude"} and set(day1.providers) == {"openai", "anthropic"}
    assert day1.api_keys[ALICE_KEY].requests == 2 and day1.entities == {}
    assert found.totals.requests == 5 and found.totals.failures == 1
    assert found.keys[ALICE_KEY].key_alias == "alice-ci" and BOB_KEY not in found.keys
    assert (found.page, found.pages, found.has_more) == (1, 1, False)


async def test_user_activity_pages_by_day_and_keeps_totals_of_the_whole_range(world: World) -> None:
    found = await world.desk.activity.of_users(
        MASTER, start=date(2024, 5, 1), end=date(2024, 5, 3), page=1, size=2
    )
    assert [d.day for d in found.days] == [date(2024, 5, 3), date(2024, 5, 2)]
    assert (found.pages, found.has_more, found.totals.requests) == (2, True, 5)


async def test_a_user_sees_its_own_activity_and_may_not_ask_for_another(world: World) -> None:
    found = await world.desk.activity.of_users(ALICE, start=date(2024, 5, 1), end=date(2024, 5, 3))
    assert found.totals.spend == Decimal("0.3")
    with pytest.raises(PermissionDeniedError):
        await world.desk.activity.of_users(ALICE, start=date(2024, 5, 1), end=date(2024, 5, 3), user_id="bob")


async def test_team_activity_covers_the_teams_a_caller_administers(world: World) -> None:
    window = {"start": date(2024, 5, 1), "end": date(2024, 5, 3)}
    every = await world.desk.activity.of_teams(MASTER, **window)
    assert every.totals.requests == 4  # the call outside any team is no team's
    assert set(every.days[0].entities) == {"red", "blue"} and every.team_aliases == {"red": "Red Team"}
    alice = await world.desk.activity.of_teams(ALICE, **window)
    assert alice.totals.spend == Decimal("0.6")
    asked = await world.desk.activity.of_teams(MASTER, team_ids=["blue"], **window)
    assert asked.totals.requests == 1
    with pytest.raises(PermissionDeniedError) as refused:
        await world.desk.activity.of_teams(BOB, team_ids=["red"], **window)
    assert refused.value.param == "team_ids"
    with pytest.raises(PermissionDeniedError):
        await world.desk.activity.of_teams(principal("nobody"), **window)


# Reset ---------------------------------------------------------------------------------------------


async def test_an_admin_resets_every_total_and_the_budget_counters(world: World) -> None:
    line = BudgetLine(subject("team", "red"), "team red", Decimal(10))
    await world.reservations.seed(line, Decimal("0.6"), now=world.clock.now())
    for refused in (VIEWER, ALICE):
        with pytest.raises(PermissionDeniedError):
            await world.desk.reset.reset(refused)
    at = await world.desk.reset.reset(MASTER)
    assert at == datetime.fromtimestamp(world.clock.now(), UTC)
    assert await world.ledger.totals([subject("team", "red")]) == {}
    assert await world.reservations.standings([line], now=world.clock.now()) == [None]
    assert len(await world.ledger.logs(SpendLogQuery())) == 5


# The calculator ------------------------------------------------------------------------------------


def chat(model: str, text: str) -> CompletionRequest:
    return CompletionRequest(model=model, messages=(Message(MessageRole.USER, text),))


async def test_the_calculator_prices_usage_and_prompts_with_the_groups_first_deployment(world: World) -> None:
    calculator = world.desk.calculator
    assert await calculator.of_usage(MASTER, "gpt-x", Usage(100, 10)) == Decimal("0.120")
    # FakeTokenCounter: 2 words + 3 per message + 3 = 8 prompt tokens, no output.
    assert await calculator.of_request(MASTER, chat("gpt-x", "hello there")) == Decimal("0.008")
    assert await calculator.of_usage(MASTER, "free", Usage(100, 10)) == 0
    with pytest.raises(NotFoundError):
        await calculator.of_usage(MASTER, "ghost", Usage(1, 1))
    limited = principal(None, key=VirtualKey("d" * 64, "sk-...d", models=("free",)))
    with pytest.raises(PermissionDeniedError):
        await calculator.of_usage(limited, "gpt-x", Usage(1, 1))


async def test_prompt_tokens_are_counted_with_the_upstream_models_tokenizer(world: World) -> None:
    counted = world.desk.tokens.of_request(MASTER, chat("gpt-x", "hello there"))
    assert (counted.total_tokens, counted.request_model, counted.model_used) == (8, "gpt-x", "gpt-4o-mini")
    unknown = world.desk.tokens.of_text(MASTER, "somewhere/else", "one two three")
    assert (unknown.total_tokens, unknown.model_used) == (3, "somewhere/else")

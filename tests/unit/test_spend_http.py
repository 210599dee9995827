"""The spend routes through Litestar's test client: LiteLLM's paths and response shapes, 400s naming the
field, 403s for spend that is not the caller's, with the caller set as the auth middleware sets it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from litestar import Litestar
from litestar.di import Provide
from litestar.testing import AsyncTestClient
from litestar.types import ASGIApp, Receive, Scope, Send

from adapters.cache.memory_budget_reservations import InMemoryBudgetReservations
from adapters.http.controllers.spend import spend_controllers
from adapters.http.errors import EXCEPTION_HANDLERS
from adapters.http.principal import PRINCIPAL
from adapters.persistence.memory import InMemoryStore
from adapters.persistence.memory_spend_ledger import InMemorySpendLedger
from application.access import hash_key
from application.catalog import ModelCatalog
from application.pricing import Pricing
from application.spend_reports import SpendDesk
from domain.access import Principal, Via
from domain.completions import Usage
from domain.deployments import Deployment
from domain.identity import Member, MemberRole, Role, Team, VirtualKey
from domain.pricing import ModelPrices
from domain.router_policy import RouterPolicy
from domain.spend import Caller, SpendRecord
from tests.fakes import FakeClock, FakeTokenCounter

Client = AsyncTestClient[Litestar]
SECRET = "sk-alice-key"
ALICE_KEY = hash_key(SECRET)
BOB_KEY = "b" * 64
AT = datetime(2024, 5, 1, 10, tzinfo=UTC)
CALLERS = {
    "alice": Principal(via=Via.VIRTUAL_KEY, role=Role.INTERNAL_USER, user_id="alice"),
    "bob": Principal(via=Via.VIRTUAL_KEY, role=Role.INTERNAL_USER, user_id="bob"),
    "viewer": Principal(via=Via.VIRTUAL_KEY, role=Role.PROXY_ADMIN_VIEWER, user_id="vic"),
}
WINDOW = {"start_date": "2024-05-01", "end_date": "2024-05-02"}


def as_caller(app: ASGIApp) -> ASGIApp:
    """Stands in for the authentication middleware: `x-test-caller` names the principal; without it the
    caller is the admin (as with no master key)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        name = dict(scope.get("headers", [])).get(b"x-test-caller")
        if name:
            scope[PRINCIPAL] = CALLERS[name.decode()]  # type: ignore[literal-required]
        await app(scope, receive, send)

    return middleware


def record(
    request_id: str, at: datetime, cost: str, *, key: str, user: str, model: str = "gpt-x"
) -> SpendRecord:
    return SpendRecord(
        request_id=request_id,
        call_type="chat",
        started_at=at,
        ended_at=at + timedelta(seconds=2),
        model_group=model,
        caller=Caller(key_hash=key, key_alias="ci", user_id=user, team_id="red"),
        deployment_id="d1",
        provider="openai",
        upstream_model="gpt-4o-mini",
        usage=Usage(10, 5, cached_tokens=4),
        cost=Decimal(cost),
        input_cost=Decimal(cost),
        output_cost=Decimal(0),
        time_to_first_token=0.5,
    )


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    ledger, store = InMemorySpendLedger(), InMemoryStore()
    await ledger.write(
        [
            record("r1", AT, "0.1", key=ALICE_KEY, user="alice"),
            record("r2", AT + timedelta(hours=1), "0.2", key=ALICE_KEY, user="alice", model="claude"),
            record("r3", AT + timedelta(days=1), "0.3", key=BOB_KEY, user="bob"),
        ]
    )
    async with store.unit_of_work() as uow:
        await uow.teams.add(
            Team("red", team_alias="Red", members=(Member("alice", MemberRole.ADMIN), Member("bob")))
        )
        await uow.keys.add(
            VirtualKey(ALICE_KEY, "sk-...-key", key_alias="ci", user_id="alice", team_id="red")
        )
        await uow.commit()
    prices = ModelPrices(input=Decimal("0.001"), output=Decimal("0.002"))
    desk = SpendDesk.build(
        ledger=ledger,
        uow=store.unit_of_work,
        clock=FakeClock(),
        reservations=InMemoryBudgetReservations(),
        catalog=ModelCatalog(deployments=[Deployment("d1", "gpt-x", "openai", "gpt-4o-mini", prices=prices)]),
        pricing=Pricing(catalog=None),
        counter=FakeTokenCounter(),
        policy=RouterPolicy(),
    )
    app = Litestar(
        route_handlers=spend_controllers,
        dependencies={"spend": Provide(lambda: desk, use_cache=True, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        middleware=[as_caller],
        openapi_config=None,
        logging_config=None,
    )
    async with AsyncTestClient(app) as test_client:
        yield test_client


async def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def refusal(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()["error"]


def caller(name: str) -> dict[str, str]:
    return {"x-test-caller": name}


async def test_spend_logs_answer_litellms_rows_newest_first(client: Client) -> None:
    rows = await ok(await client.get("/spend/logs", params={"api_key": SECRET}))
    assert [r["request_id"] for r in rows] == ["r2", "r1"]
    row = rows[1]
    assert {
        k: row[k] for k in ("api_key", "spend", "total_tokens", "prompt_tokens", "completion_tokens")
    } == {
        "api_key": ALICE_KEY,
        "spend": 0.1,
        "total_tokens": 15,
        "prompt_tokens": 10,
        "completion_tokens": 5,
    }
    assert (row["startTime"], row["endTime"], row["completionStartTime"]) == (
        "2024-05-01T10:00:00+00:00",
        "2024-05-01T10:00:02+00:00",
        "2024-05-01T10:00:00.500000+00:00",
    )
    assert (row["model"], row["model_group"], row["model_id"], row["custom_llm_provider"]) == (
        "gpt-4o-mini",
        "gpt-x",
        "d1",
        "openai",
    )
    assert (row["user"], row["team_id"], row["status"], row["cache_hit"]) == (
        "alice",
        "red",
        "success",
        "False",
    )
    assert row["metadata"]["user_api_key_alias"] == "ci"
    assert row["metadata"]["usage_object"]["cache_read_input_tokens"] == 4


async def test_spend_logs_v2_pages_as_litellm_does(client: Client) -> None:
    page = await ok(await client.get("/spend/logs/v2", params={"page": 2, "page_size": 2}))
    assert [r["request_id"] for r in page["data"]] == ["r1"]
    assert {k: v for k, v in page.items() if k != "data"} == {
        "total": 3,
        "page": 2,
        "page_size": 2,
        "total_pages": 2,
    }
    by_time = await ok(
        await client.get(
            "/spend/logs/ui", params={"start_date": "2024-05-01 10:30:00", "end_date": "2024-05-02 10:00:00"}
        )
    )
    assert [r["request_id"] for r in by_time["data"]] == ["r3", "r2"]


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        ("/spend/logs/v2", {"page": "0"}, "page"),
        ("/spend/logs/v2", {"page_size": "lots"}, "page_size"),
        ("/spend/logs", {"start_date": "yesterday"}, "start_date"),
        ("/spend/logs", {"start_date": "2024-05-02", "end_date": "2024-05-01"}, "end_date"),
        ("/global/spend/report", {**WINDOW, "group_by": "planet"}, "group_by"),
        ("/global/spend/report", {"end_date": "2024-05-02"}, "start_date"),
        ("/global/spend/report", {"start_date": "2024-05-01", "end_date": "2024/05/02"}, "end_date"),
        ("/user/daily/activity", {"start_date": "2024-05-01"}, "end_date"),
        ("/user/daily/activity", {**WINDOW, "page_size": "5000"}, "page_size"),
    ],
)
async def test_a_bad_query_is_a_400_naming_the_field(
    client: Client, path: str, params: dict[str, str], param: str
) -> None:
    error = refusal(await client.get(path, params=params), 400)
    assert (error["type"], error["param"]) == ("invalid_request_error", param)


async def test_a_user_asking_for_anothers_spend_is_refused(client: Client) -> None:
    mine = await ok(await client.get("/spend/logs", headers=caller("bob")))
    assert [r["request_id"] for r in mine] == ["r3"]
    error = refusal(await client.get("/spend/logs", params={"user_id": "alice"}, headers=caller("bob")), 403)
    assert (error["type"], error["param"]) == ("permission_error", "user_id")
    refusal(
        await client.get("/team/daily/activity", params={**WINDOW, "team_ids": "red"}, headers=caller("bob")),
        403,
    )


async def test_the_global_report_by_team_is_litellms_per_day_shape(client: Client) -> None:
    days = await ok(await client.get("/global/spend/report", params=WINDOW))
    assert [d["group_by_day"] for d in days] == ["2024-05-01T00:00:00+00:00", "2024-05-02T00:00:00+00:00"]
    team = days[0]["teams"][0]
    assert (team["team_id"], team["team_name"], team["total_spend"]) == ("red", "Red", 0.3)
    assert team["metadata"] == [
        {"model": "claude", "api_key": ALICE_KEY, "spend": 0.2, "total_tokens": 15},
        {"model": "gpt-x", "api_key": ALICE_KEY, "spend": 0.1, "total_tokens": 15},
    ]


async def test_the_global_report_by_key_model_or_day(client: Client) -> None:
    by_key = await ok(await client.get("/global/spend/report", params={**WINDOW, "api_key": SECRET}))
    assert by_key == [
        {
            "api_key": ALICE_KEY,
            "total_cost": 0.3,
            "total_input_tokens": 20,
            "total_output_tokens": 10,
            "total_tokens": 30,
            "api_requests": 2,
            "model_details": [
                {
                    "model": "claude",
                    "api_key": ALICE_KEY,
                    "total_cost": 0.2,
                    "total_input_tokens": 10,
                    "total_output_tokens": 5,
                },
                {
                    "model": "gpt-x",
                    "api_key": ALICE_KEY,
                    "total_cost": 0.1,
                    "total_input_tokens": 10,
                    "total_output_tokens": 5,
                },
            ],
        }
    ]
    by_model = await ok(await client.get("/global/spend/report", params={**WINDOW, "group_by": "model"}))
    assert [(m["model"], m["total_cost"]) for m in by_model] == [("gpt-x", 0.4), ("claude", 0.2)]
    by_day = await ok(await client.get("/global/spend/report", params={**WINDOW, "group_by": "day"}))
    assert [(d["group_by_day"][:10], d["total_spend"], d["api_requests"]) for d in by_day] == [
        ("2024-05-01", 0.3, 2),
        ("2024-05-02", 0.3, 1),
    ]


async def test_daily_activity_is_the_admin_uis_paginated_shape(client: Client) -> None:
    found = await ok(await client.get("/user/daily/activity", params=WINDOW, headers=caller("alice")))
    assert [r["date"] for r in found["results"]] == ["2024-05-01"]
    day = found["results"][0]
    assert day["metrics"] == {
        "spend": 0.3,
        "prompt_tokens": 20,
        "completion_tokens": 10,
        "cache_read_input_tokens": 8,
        "cache_creation_input_tokens": 0,
        "total_tokens": 30,
        "successful_requests": 2,
        "failed_requests": 0,
        "api_requests": 2,
    }
    assert set(day["breakdown"]["models"]) == {"gpt-x", "claude"}
    assert day["breakdown"]["providers"]["openai"]["metrics"]["api_requests"] == 2
    assert day["breakdown"]["api_keys"][ALICE_KEY]["metadata"] == {
        "key_alias": "ci",
        "team_id": "red",
        "user_id": "alice",
        "key_exists": True,
    }
    meta = found["metadata"]
    assert (
        meta["total_spend"],
        meta["total_api_requests"],
        meta["page"],
        meta["total_pages"],
        meta["has_more"],
    ) == (
        0.3,
        2,
        1,
        1,
        False,
    )
    teams = await ok(await client.get("/team/daily/activity", params={**WINDOW, "team_ids": "red"}))
    assert teams["metadata"]["total_spend"] == 0.6
    assert teams["results"][0]["breakdown"]["entities"]["red"]["metadata"] == {"team_alias": "Red"}


async def test_only_a_proxy_admin_resets_spend(client: Client) -> None:
    refusal(await client.post("/global/spend/reset", headers=caller("viewer")), 403)
    assert await ok(await client.post("/global/spend/reset")) == {
        "message": "Spend for all API Keys and Teams reset successfully",
        "status": "success",
    }


async def test_spend_calculate_prices_a_prompt_or_a_reply(client: Client) -> None:
    asked = {"model": "gpt-x", "messages": [{"role": "user", "content": "hello there"}]}
    assert await ok(await client.post("/spend/calculate", json=asked)) == {"cost": 0.008}
    reply = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-x",
        "choices": [],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
    }
    assert await ok(await client.post("/spend/calculate", json={"completion_response": reply})) == {
        "cost": 0.12
    }


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "model"),
        ({"model": "gpt-x"}, "messages"),
        ({"model": "gpt-x", "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ({"completion_response": "nope"}, "completion_response"),
        ({"completion_response": {"model": "gpt-x"}}, "completion_response.usage"),
        (
            {"completion_response": {"model": "gpt-x", "usage": {"prompt_tokens": -1}}},
            "completion_response.usage.prompt_tokens",
        ),
    ],
)
async def test_a_bad_calculate_body_is_a_400_naming_the_field(
    client: Client, body: dict[str, Any], param: str
) -> None:
    error = refusal(await client.post("/spend/calculate", json=body), 400)
    assert error["param"] == param


async def test_an_unknown_model_cannot_be_priced(client: Client) -> None:
    error = refusal(
        await client.post(
            "/spend/calculate", json={"model": "ghost", "messages": [{"role": "user", "content": "x"}]}
        ),
        404,
    )
    assert error["code"] == "model_not_found"


async def test_token_counter_answers_litellms_shape(client: Client) -> None:
    counted = await ok(
        await client.post(
            "/utils/token_counter", json={"model": "gpt-x", "messages": [{"role": "user", "content": "a b"}]}
        )
    )
    assert counted == {
        "total_tokens": 8,
        "request_model": "gpt-x",
        "model_used": "gpt-4o-mini",
        "tokenizer_type": "openai_tokenizer",
    }
    by_prompt = await ok(
        await client.post("/utils/token_counter", json={"model": "gpt-x", "prompt": "one two three"})
    )
    assert by_prompt["total_tokens"] == 3
    assert refusal(await client.post("/utils/token_counter", json={"prompt": "x"}), 400)["param"] == "model"
    assert (
        refusal(await client.post("/utils/token_counter", json={"model": "gpt-x", "prompt": 5}), 400)["param"]
        == "prompt"
    )
    assert (
        refusal(await client.post("/utils/token_counter", json={"model": "gpt-x"}), 400)["param"]
        == "messages"
    )


def test_money_is_written_as_an_exact_json_number_however_long() -> None:
    import orjson

    from adapters.http.controllers import spend_render

    precise = record("r9", AT, "0.000000123456789012345678", key=ALICE_KEY, user="alice")

    written = orjson.dumps(spend_render.log(precise))

    assert b'"spend":0.000000123456789012345678' in written

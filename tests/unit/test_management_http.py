"""The management routes through Litestar's test client: LiteLLM's paths, bodies, response shapes and
status codes, with the caller set the way the authentication middleware sets it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.di import Provide
from litestar.testing import AsyncTestClient
from litestar.types import ASGIApp, Receive, Scope, Send

from adapters.http.controllers.management import management_controllers
from adapters.http.errors import EXCEPTION_HANDLERS
from adapters.http.principal import PRINCIPAL
from adapters.persistence.memory import InMemoryStore
from application.management import Management
from domain.access import Principal, Via
from domain.identity import Role
from tests.fakes import FakeClock

Client = AsyncTestClient[Litestar]
IVAN = Principal(via=Via.JWT, role=Role.INTERNAL_USER, user_id="ivan")
CALLERS = {"ivan": IVAN}


def as_caller(app: ASGIApp) -> ASGIApp:
    """Stands in for the authentication middleware: `x-test-caller` names the principal; without it the
    caller is the admin (as with no master key)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        name = dict(scope.get("headers", [])).get(b"x-test-caller")
        if name:
            scope[PRINCIPAL] = CALLERS[name.decode()]  # type: ignore[literal-required]
        await app(scope, receive, send)

    return middleware


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    management = Management.build(uow=InMemoryStore().unit_of_work, clock=FakeClock())
    app = Litestar(
        route_handlers=management_controllers,
        dependencies={"management": Provide(lambda: management, use_cache=True, sync_to_thread=False)},
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


async def test_a_key_goes_through_its_whole_lifecycle(client: Client) -> None:
    made = await ok(
        await client.post(
            "/key/generate",
            json={
                "models": ["gpt-x"],
                "max_budget": 1.5,
                "rpm_limit": 3,
                "duration": "1h",
                "key_alias": "ci",
                "metadata": {"team": "core"},
                "aliases": {},
                "config": {},
                "permissions": {},
            },
        )
    )
    secret, token = made["key"], made["token"]
    assert secret.startswith("sk-") and made["token_id"] == token and len(token) == 64
    assert made["key_name"] == f"sk-...{secret[-4:]}" and made["expires"] == "2023-11-14T23:13:20+00:00"
    assert (made["models"], made["max_budget"], made["rpm_limit"], made["spend"]) == (["gpt-x"], 1.5, 3, 0.0)
    info = await ok(await client.get("/key/info", params={"key": secret}))
    assert info["key"] == secret and "token" not in info["info"]
    assert (info["info"]["key_alias"], info["info"]["metadata"], info["info"]["blocked"]) == (
        "ci",
        {"team": "core"},
        False,
    )
    updated = await ok(
        await client.post("/key/update", json={"key": token, "tpm_limit": 9, "max_budget": None})
    )
    assert (updated["key"], updated["tpm_limit"], updated["max_budget"]) == (token, 9, 1.5)
    assert (await ok(await client.post("/key/block", json={"key": secret})))["blocked"] is True
    assert (await ok(await client.post("/key/unblock", json={"key": token})))["blocked"] is False
    listed = await ok(await client.get("/key/list"))
    assert listed == {"keys": [token], "total_count": 1, "current_page": 1, "total_pages": 1}
    full = await ok(await client.get("/key/list", params={"return_full_object": "true", "key_alias": "ci"}))
    assert full["keys"][0]["token"] == token
    again = await ok(await client.post("/key/regenerate", json={"key": secret}))
    refusal(await client.get("/key/info", params={"key": secret}), 404)
    third = await ok(await client.post(f"/key/{again['key']}/regenerate"))
    assert third["key_alias"] == "ci" and third["key"] != again["key"]
    assert await ok(await client.post("/key/delete", json={"keys": [third["key"]]})) == {
        "deleted_keys": [third["key"]]
    }
    error = refusal(await client.get("/key/info", params={"key": third["token"]}), 404)
    assert error == {
        "message": f"Key {third['token']} not found",
        "type": "invalid_request_error",
        "param": "key",
        "code": None,
    }


async def test_a_key_keeps_the_cache_controls_it_is_limited_to(client: Client) -> None:
    made = await ok(await client.post("/key/generate", json={"allowed_cache_controls": ["no-cache", "ttl"]}))
    secret, token = made["key"], made["token"]
    assert made["allowed_cache_controls"] == ["no-cache", "ttl"]
    info = await ok(await client.get("/key/info", params={"key": secret}))
    assert info["info"]["allowed_cache_controls"] == ["no-cache", "ttl"]
    updated = await ok(
        await client.post("/key/update", json={"key": token, "allowed_cache_controls": ["no_store"]})
    )
    assert updated["allowed_cache_controls"] == ["no-store"]  # underscores read as LiteLLM's dashes
    error = refusal(
        await client.post("/key/update", json={"key": token, "allowed_cache_controls": ["cache"]}), 400
    )
    assert error["param"] == "allowed_cache_controls" and "'cache'" in error["message"]
    again = await ok(await client.post("/key/regenerate", json={"key": secret}))
    assert again["allowed_cache_controls"] == ["no-store"]
    full = await ok(await client.get("/key/list", params={"return_full_object": "true"}))
    assert full["keys"][0]["allowed_cache_controls"] == ["no-store"]
    cleared = await ok(
        await client.post("/key/update", json={"key": again["token"], "allowed_cache_controls": []})
    )
    assert cleared["allowed_cache_controls"] == []


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/key/generate", {"rpm_limit": "lots"}, "rpm_limit"),
        ("/key/generate", {"models": "gpt-x"}, "models"),
        ("/key/generate", {"duration": "forever"}, "duration"),
        ("/key/generate", {"guardrails": "pii"}, "guardrails"),
        ("/key/generate", {"allowed_cache_controls": ["no-caching"]}, "allowed_cache_controls"),
        ("/key/generate", {"allowed_cache_controls": "ttl"}, "allowed_cache_controls"),
        ("/team/new", {"allowed_cache_controls": ["ttl"]}, "allowed_cache_controls"),
        ("/key/generate", {"key_type": "management"}, "key_type"),
        ("/key/generate", {"max_budget": -5}, "max_budget"),
        ("/key/generate", {"budget_id": "ghost"}, "budget_id"),
        ("/key/update", {"tpm_limit": 1}, "key"),
        ("/key/delete", {}, None),
        ("/key/block", {}, "key"),
        (
            "/team/new",
            {"members_with_roles": [{"role": "boss", "user_id": "a"}]},
            "members_with_roles.0.role",
        ),
        ("/team/member_add", {"team_id": "t", "member": {"role": "user"}}, "member"),
        (
            "/team/member_add",
            {"team_id": "t", "member": [{"user_id": "a", "role": "owner"}]},
            "member.0.role",
        ),
        ("/user/new", {"user_role": "emperor"}, "user_role"),
        ("/user/new", {"organizations": ["a", "b"]}, "organizations"),
        ("/user/update", {"max_budget": 3}, None),
        ("/organization/new", {"models": []}, "organization_alias"),
        ("/customer/new", {"user_id": "c", "allowed_model_region": "mars"}, "allowed_model_region"),
        ("/budget/new", {"tpm_limit": -1}, "tpm_limit"),
        ("/budget/info", {"budgets": "b"}, "budgets"),
    ],
)
async def test_a_malformed_body_is_a_400_naming_the_field(
    client: Client, path: str, body: dict[str, Any], param: str | None
) -> None:
    error = refusal(await client.post(path, json=body), 400)
    assert error["type"] == "invalid_request_error" and error["param"] == param, error


async def test_a_body_that_is_not_a_json_object_is_a_400(client: Client) -> None:
    assert refusal(await client.post("/key/generate", content=b"{nope"), 400)["code"] == "invalid_json"
    assert refusal(await client.post("/key/generate", json=[1]), 400)["code"] == "invalid_json"
    assert refusal(await client.post("/key/generate"), 400)["code"] == "invalid_json"


async def test_bad_query_parameters_are_400s_naming_them(client: Client) -> None:
    assert refusal(await client.get("/key/list", params={"page": "two"}), 400)["param"] == "page"
    assert refusal(await client.get("/key/list", params={"size": "0"}), 400)["param"] == "size"
    assert refusal(await client.get("/team/info"), 400)["param"] == "team_id"
    assert refusal(await client.get("/customer/info"), 400)["param"] == "end_user_id"


async def test_refusals_are_403s_naming_what_was_refused(client: Client) -> None:
    ivan = {"x-test-caller": "ivan"}
    error = refusal(await client.post("/key/generate", json={"user_id": "tom"}, headers=ivan), 403)
    assert error["type"] == "permission_error" and "not for user tom" in error["message"]
    assert (
        refusal(await client.post("/customer/new", json={"user_id": "c"}, headers=ivan), 403)["param"] is None
    )
    assert "list users" in refusal(await client.get("/user/list", headers=ivan), 403)["message"]
    mine = await ok(await client.post("/key/generate", json={}, headers=ivan))
    assert mine["user_id"] == "ivan"


async def test_teams_answer_in_litellms_shapes(client: Client) -> None:
    team = await ok(
        await client.post(
            "/team/new",
            json={
                "team_id": "red",
                "team_alias": "Red",
                "models": ["gpt-x"],
                "max_budget": 10,
                "members_with_roles": [{"role": "admin", "user_id": "tom"}],
            },
        )
    )
    assert team["members_with_roles"] == [{"user_id": "tom", "user_email": None, "role": "admin"}]
    assert (team["admins"], team["max_budget"], team["spend"], team["blocked"]) == (["tom"], 10.0, 0.0, False)
    updated = await ok(await client.post("/team/update", json={"team_id": "red", "tpm_limit": 100}))
    assert updated["team_id"] == "red" and updated["data"]["tpm_limit"] == 100
    added = await ok(
        await client.post(
            "/team/member_add", json={"team_id": "red", "member": {"role": "user", "user_id": "ivan"}}
        )
    )
    assert [u["user_id"] for u in added["updated_users"]] == ["ivan"] and added["members"] == ["tom", "ivan"]
    await ok(await client.post("/key/generate", json={"team_id": "red", "user_id": "ivan"}))
    info = await ok(await client.get("/team/info", params={"team_id": "red"}))
    assert info["team_id"] == "red" and info["team_info"]["team_alias"] == "Red" and len(info["keys"]) == 1
    removed = await ok(await client.post("/team/member_delete", json={"team_id": "red", "user_id": "ivan"}))
    assert removed["members"] == ["tom"]
    assert (await ok(await client.post("/team/block", json={"team_id": "red"})))["blocked"] is True
    assert (await ok(await client.post("/team/unblock", json={"team_id": "red"})))["blocked"] is False
    assert [t["team_id"] for t in await ok(await client.get("/team/list", params={"user_id": "tom"}))] == [
        "red"
    ]
    assert await ok(await client.post("/team/delete", json={"team_ids": ["red"]})) == {
        "deleted_teams": ["red"]
    }
    refusal(await client.get("/team/info", params={"team_id": "red"}), 404)


async def test_users_answer_in_litellms_shapes(client: Client) -> None:
    await ok(await client.post("/team/new", json={"team_id": "red"}))
    made = await ok(
        await client.post(
            "/user/new",
            json={
                "user_id": "ivan",
                "user_email": "ivan@x.test",
                "user_role": "internal_user",
                "teams": [{"team_id": "red", "user_role": "admin"}],
                "models": ["gpt-x"],
                "max_budget": 2,
                "duration": "1d",
            },
        )
    )
    assert made["key"].startswith("sk-") and made["user_id"] == "ivan" and made["teams"] == ["red"]
    assert (made["user_role"], made["max_budget"], made["models"]) == ("internal_user", 2.0, ["gpt-x"])
    info = await ok(await client.get("/user/info", params={"user_id": "ivan"}))
    assert info["user_id"] == "ivan" and info["user_info"]["user_email"] == "ivan@x.test"
    assert [k["token"] for k in info["keys"]] == [made["token"]] and info["teams"][0]["team_id"] == "red"
    updated = await ok(
        await client.post("/user/update", json={"user_email": "ivan@x.test", "user_alias": "Ivan"})
    )
    assert updated["user_id"] == "ivan" and updated["data"]["user_alias"] == "Ivan"
    listed = await ok(await client.get("/user/list", params={"page_size": "10"}))
    assert (listed["total"], listed["page"], listed["page_size"], listed["total_pages"]) == (1, 1, 10, 1)
    assert listed["users"][0]["teams"] == ["red"]
    no_key = await ok(await client.post("/user/new", json={"user_id": "bob", "auto_create_key": False}))
    assert no_key["key"] is None and no_key["user_id"] == "bob"
    assert await ok(await client.post("/user/delete", json={"user_ids": ["ivan", "bob"]})) == {
        "deleted_users": ["ivan", "bob"]
    }
    refusal(await client.get("/user/info", params={"user_id": "ivan"}), 404)


async def test_organizations_answer_on_every_method_litellm_uses(client: Client) -> None:
    made = await ok(
        await client.post(
            "/organization/new",
            json={"organization_id": "acme", "organization_alias": "Acme", "max_budget": 50},
        )
    )
    assert made["litellm_budget_table"]["max_budget"] == 50.0 and made["members"] == []
    patched = await ok(
        await client.patch("/organization/update", json={"organization_id": "acme", "models": ["gpt-x"]})
    )
    assert patched["models"] == ["gpt-x"]
    added = await ok(
        await client.post(
            "/organization/member_add",
            json={
                "organization_id": "acme",
                "member": [{"role": "org_admin", "user_id": "olga"}],
            },
        )
    )
    assert added["updated_users"][0]["user_role"] == "org_admin"
    assert added["updated_organization_memberships"][0]["user_role"] == "org_admin"
    got = await ok(await client.get("/organization/info", params={"organization_id": "acme"}))
    posted = await ok(await client.post("/organization/info", json={"organization_id": "acme"}))
    assert got == posted and got["members"][0]["user_id"] == "olga"
    assert [o["organization_id"] for o in await ok(await client.get("/organization/list"))] == ["acme"]
    deleted = await ok(
        await client.request("DELETE", "/organization/delete", json={"organization_ids": ["acme"]})
    )
    assert [o["organization_id"] for o in deleted] == ["acme"]
    refusal(await client.post("/organization/delete", json={"organization_ids": ["acme"]}), 404)


@pytest.mark.parametrize("prefix", ["/customer", "/end_user"])
async def test_customers_answer_under_both_names(client: Client, prefix: str) -> None:
    made = await ok(await client.post(f"{prefix}/new", json={"user_id": "c1", "alias": "C", "max_budget": 3}))
    assert (made["user_id"], made["blocked"], made["spend"]) == ("c1", False, 0.0)
    assert made["litellm_budget_table"]["max_budget"] == 3.0
    updated = await ok(
        await client.post(f"{prefix}/update", json={"user_id": "c1", "default_model": "gpt-x"})
    )
    assert updated["default_model"] == "gpt-x"
    assert (await ok(await client.get(f"{prefix}/info", params={"end_user_id": "c1"})))["alias"] == "C"
    blocked = await ok(await client.post(f"{prefix}/block", json={"user_ids": ["c1"]}))
    assert blocked["blocked_users"][0]["blocked"] is True
    unblocked = await ok(await client.post(f"{prefix}/unblock", json={"user_ids": ["c1"]}))
    assert unblocked["unblocked_users"][0]["blocked"] is False
    assert [c["user_id"] for c in await ok(await client.get(f"{prefix}/list"))] == ["c1"]
    deleted = await ok(await client.post(f"{prefix}/delete", json={"user_ids": ["c1"]}))
    assert deleted["deleted_customers"] == 1
    refusal(await client.get(f"{prefix}/info", params={"end_user_id": "c1"}), 404)


async def test_budgets_answer_in_litellms_shapes(client: Client) -> None:
    made = await ok(
        await client.post(
            "/budget/new",
            json={"budget_id": "tier", "max_budget": 5, "budget_duration": "1d", "rpm_limit": 7},
        )
    )
    assert (made["max_budget"], made["rpm_limit"], made["budget_reset_at"]) == (
        5.0,
        7,
        "2023-11-15T22:13:20+00:00",
    )
    assert (await ok(await client.post("/budget/update", json={"budget_id": "tier", "soft_budget": 4})))[
        "soft_budget"
    ] == 4.0
    assert [
        b["budget_id"] for b in await ok(await client.post("/budget/info", json={"budgets": ["tier"]}))
    ] == ["tier"]
    assert [b["budget_id"] for b in await ok(await client.get("/budget/list"))] == ["tier"]
    key = await ok(await client.post("/key/generate", json={"budget_id": "tier"}))
    assert key["budget_id"] == "tier"
    assert (await ok(await client.post("/budget/delete", json={"id": "tier"})))["budget_id"] == "tier"
    assert refusal(await client.post("/budget/delete", json={"id": "tier"}), 404)["param"] == "id"


async def test_duplicates_are_400s_naming_the_field(client: Client) -> None:
    await ok(await client.post("/key/generate", json={"key_alias": "ci"}))
    error = refusal(await client.post("/key/generate", json={"key_alias": "ci"}), 400)
    assert (error["param"], error["code"]) == ("key_alias", "already_exists")
    await ok(await client.post("/team/new", json={"team_id": "red"}))
    assert refusal(await client.post("/team/new", json={"team_id": "red"}), 400)["param"] == "team_id"


async def test_an_admin_may_choose_the_regenerated_secret_and_others_may_not(client: Client) -> None:
    made = await ok(await client.post("/key/generate", json={"key_type": "llm_api"}))
    assert made["allowed_routes"] == ["llm_api_routes"]
    chosen = await ok(
        await client.post("/key/regenerate", json={"key": made["key"], "new_key": "sk-chosen-one"})
    )
    assert chosen["key"] == "sk-chosen-one" and chosen["key_name"] == "sk-...-one"
    mine = await ok(await client.post("/key/generate", json={}, headers={"x-test-caller": "ivan"}))
    error = refusal(
        await client.post(
            f"/key/{mine['token']}/regenerate",
            json={"new_key": "sk-ivans-pick"},
            headers={"x-test-caller": "ivan"},
        ),
        403,
    )
    assert "choose a key's secret" in error["message"]


async def test_key_info_without_a_key_needs_a_virtual_key_caller(client: Client) -> None:
    error = refusal(await client.get("/key/info", headers={"x-test-caller": "ivan"}), 400)
    assert error["param"] == "key"


BUDGET_TERMS = {
    "max_budget": 10,
    "soft_budget": 7.5,
    "model_max_budget": {"gpt-x": 2},
    "budget_duration": "1d",
}
"""Every budget field a request sets; the fake clock stands at 2023-11-14T22:13:20Z."""

BUDGETED = [
    ("/key/generate", {}, "/key/info", "key", lambda made: made["key"], lambda found: found["info"]),
    ("/team/new", {"team_id": "r"}, "/team/info", "team_id", lambda _: "r", lambda found: found["team_info"]),
    ("/user/new", {"user_id": "r"}, "/user/info", "user_id", lambda _: "r", lambda found: found["user_info"]),
    (
        "/organization/new",
        {"organization_id": "r", "organization_alias": "R"},
        "/organization/info",
        "organization_id",
        lambda _: "r",
        lambda found: found,
    ),
    ("/customer/new", {"user_id": "r"}, "/customer/info", "end_user_id", lambda _: "r", lambda found: found),
]


@pytest.mark.parametrize(("new", "ids", "info", "ref", "ref_of", "record_of"), BUDGETED)
async def test_every_budget_bearing_record_takes_and_shows_its_budget_terms_flat(
    client: Client, new: str, ids: dict[str, Any], info: str, ref: str, ref_of: Any, record_of: Any
) -> None:
    made = await ok(await client.post(new, json={**ids, **BUDGET_TERMS}))
    found = record_of(await ok(await client.get(info, params={ref: ref_of(made)})))
    shown = {name: found[name] for name in (*BUDGET_TERMS, "budget_reset_at", "budget_id", "spend")}
    assert shown == {
        **BUDGET_TERMS,
        "max_budget": 10.0,
        "model_max_budget": {"gpt-x": 2.0},
        "budget_reset_at": "2023-11-15T22:13:20+00:00",
        "budget_id": None,
        "spend": 0.0,
    }
    if new in ("/organization/new", "/customer/new"):
        # LiteLLM keeps these records' budgets in a budget table of their own.
        table = found["litellm_budget_table"]
        assert (table["soft_budget"], table["model_max_budget"], table["budget_reset_at"]) == (
            7.5,
            {"gpt-x": 2.0},
            "2023-11-15T22:13:20+00:00",
        )


@pytest.mark.parametrize("path", ["/team/new", "/user/new", "/organization/new", "/customer/new"])
@pytest.mark.parametrize(
    ("field", "value", "param"),
    [
        ("soft_budget", -1, "soft_budget"),
        ("soft_budget", "lots", "soft_budget"),
        ("model_max_budget", {"gpt-x": -1}, "model_max_budget.gpt-x"),
        ("model_max_budget", ["gpt-x"], "model_max_budget"),
    ],
)
async def test_a_bad_soft_or_per_model_budget_is_a_400_naming_it(
    client: Client, path: str, field: str, value: Any, param: str
) -> None:
    body = {"user_id": "r", "organization_alias": "R", field: value}
    if path == "/team/new":
        body = {field: value}
    error = refusal(await client.post(path, json=body), 400)
    assert error["param"] == param, error

"""The routes the gateway registers after its start (management, spend reports, model admin, the console):
served on the very first request that needs them, and never registered by a gateway that only serves calls."""

from __future__ import annotations

import asyncio
import re

import pytest
from litestar.testing import AsyncTestClient

from adapters.http import app as http_app
from tests.unit.ui_console import MASTER as ADMIN
from tests.unit.ui_console import console_app as _app


def _paths(app) -> set[str]:
    return {route.path for route in app.routes}


async def _registered(app, *paths: str) -> bool:
    for _ in range(500):
        if set(paths) <= _paths(app):
            return True
        await asyncio.sleep(0.002)
    return False


def test_the_app_as_built_serves_inference_and_probes_and_leaves_management_for_later() -> None:
    app = _app()

    assert {"/v1/chat/completions", "/v1/models", "/health/liveliness", "/openapi.json"} <= _paths(app)
    assert not {"/key/generate", "/spend/logs", "/model/new"} & _paths(app)


async def test_a_management_call_is_served_on_the_very_first_request() -> None:
    async with AsyncTestClient(_app()) as client:
        created = await client.post("/key/generate", json={"key_alias": "first"}, headers=ADMIN)
        listed = await client.get("/key/list", headers=ADMIN)

    assert created.status_code == 200, created.text
    assert created.json()["key"].startswith("sk-")
    assert listed.status_code == 200


async def test_first_requests_arriving_together_wait_for_one_registration_and_are_all_served() -> None:
    async with AsyncTestClient(_app()) as client:
        answers = await asyncio.gather(
            client.get("/key/list", headers=ADMIN),
            client.get("/spend/logs", headers=ADMIN),
            client.get("/team/list", headers=ADMIN),
            client.get("/v1/models", headers=ADMIN),
        )
        paths = [route.path for route in client.app.routes]

    assert [answer.status_code for answer in answers] == [200, 200, 200, 200]
    assert len(paths) == len(set(paths))  # each registered once


async def test_a_spend_report_is_served_on_the_very_first_request() -> None:
    async with AsyncTestClient(_app()) as client:
        logs = await client.get("/spend/logs", headers=ADMIN)

    assert logs.status_code == 200, logs.text
    assert logs.json() == []


async def test_the_first_request_still_needs_a_key_and_an_unknown_route_is_still_a_404() -> None:
    async with AsyncTestClient(_app()) as client:
        refused = await client.post("/key/generate", json={})
        unknown = await client.get("/no/such/route", headers=ADMIN)

    assert refused.status_code == 401
    assert unknown.status_code == 404 and unknown.json()["error"]["type"]


async def test_another_method_on_a_path_served_already_is_routed_as_before() -> None:
    async with AsyncTestClient(_app()) as client:
        wrong = await client.delete("/v1/models", headers=ADMIN)

    assert wrong.status_code == 405


async def test_a_gateway_asked_only_for_calls_and_probes_never_registers_the_rest(monkeypatch) -> None:
    monkeypatch.setattr(http_app, "LATER_AFTER", 0.01)
    async with AsyncTestClient(_app()) as client:
        assert (await client.get("/health/liveliness")).status_code == 200
        assert (await client.get("/v1/models", headers=ADMIN)).status_code == 200

        assert not await _registered(client.app, "/key/generate")
        assert not {"/key/generate", "/spend/logs", "/model/new", "/ui"} & _paths(client.app)


def _concrete(path: str) -> str:
    """A request path for a route's path: each parameter given a value of its type."""
    values = {"int": "7", "path": "a/b", "uuid": "0190c5d2-0000-7000-8000-000000000000"}
    return re.sub(r"\{[^}:]+:(\w+)\}", lambda found: values.get(found.group(1), "abc"), path)


def test_no_route_registered_later_answers_what_a_route_registered_first_answers() -> None:
    first = _app()
    complete = _app()
    complete.complete()
    registered_first = {(route.path, method) for route in first.routes for method in route.methods}

    for route in complete.routes:
        for method in route.methods:
            if (route.path, method) not in registered_first:
                scope = {"type": "http", "path": _concrete(route.path), "method": method, "root_path": ""}
                assert not first._routes(scope), (route.path, method)


def test_complete_registers_every_route_once() -> None:
    app = _app()
    app.complete()
    paths = [route.path for route in app.routes]
    app.complete()

    assert {"/key/generate", "/spend/logs", "/model/new", "/ui"} <= set(paths)
    assert paths == [route.path for route in app.routes] and len(paths) == len(set(paths))


@pytest.mark.parametrize("path", ["/ui", "/ui/login"])
async def test_the_console_answers_its_first_request(path: str) -> None:
    async with AsyncTestClient(_app()) as client:
        page = await client.get(path, follow_redirects=False)

    assert page.status_code in (200, 302, 303, 307), page.text

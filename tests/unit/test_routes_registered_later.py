"""The routes the gateway registers after its start (management, spend reports, model admin, the console):
served on the very first request that needs them, and registered by themselves soon after the start."""

from __future__ import annotations

import asyncio

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


async def test_after_the_first_answer_the_rest_registers_by_itself() -> None:
    async with AsyncTestClient(_app()) as client:
        assert (await client.get("/health/liveliness")).status_code == 200

        assert await _registered(client.app, "/key/generate", "/spend/logs", "/model/new", "/team/new", "/ui")


async def test_with_no_request_the_rest_registers_soon_after_the_start(monkeypatch) -> None:
    monkeypatch.setattr(http_app, "LATER_AFTER", 0.01)
    async with AsyncTestClient(_app()) as client:
        assert await _registered(client.app, "/key/generate", "/spend/logs", "/ui")


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

"""The console's Models page through Litestar's test client: the deployments with their live state,
and stored models added, changed and deleted through the same use case as /model/new."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from litestar.testing import AsyncTestClient

from domain.deployments import Limits
from domain.errors import TimeoutError
from domain.router_state import CallOutcome, CooldownReason
from tests.unit.ui_console import MASTER, Client, console_app, new_key, sign_in

NEW_MODEL = {
    "model_name": "fresh",
    "litellm_params.model": "openai/gpt-4o-mini",
    "litellm_params.api_base": "http://upstream.test/v1",
    "litellm_params.api_key": "sk-upstream-secret",
    "litellm_params.rpm": "30",
    "model_info.input_cost_per_token": "0.000001",
}


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with AsyncTestClient(console_app()) as test_client:
        yield test_client


async def _stored_model_info(client: Client) -> list[dict]:
    response = await client.get("/model/info", headers=MASTER)
    return [m for m in response.json()["data"] if m["model_name"] == "fresh"]


async def _add(client: Client, token: str, **changes: str) -> object:
    return await client.post(
        "/ui/models", data={**NEW_MODEL, **changes, "csrf_token": token}, follow_redirects=False
    )


async def test_the_page_lists_every_deployment_with_its_state_limits_and_prices(client: Client) -> None:
    await sign_in(client)

    page = (await client.get("/ui/models")).text

    assert '<th scope="row">demo</th>' in page and "<td>mock</td>" in page
    assert "healthy" in page and "0 of 60" in page
    assert "config file" in page  # a config deployment is not editable here


async def test_a_cooling_deployment_shows_until_when_and_why_but_no_upstream_message(client: Client) -> None:
    await sign_in(client)
    demo = (await client.get("/model/info", headers=MASTER)).json()["data"][0]["model_info"]["id"]
    state = client.app.dependencies["router_state"].dependency()
    now = time.time()
    for _ in range(3):
        await state.try_begin(demo, Limits(), now)
        await state.finish(demo, CallOutcome(failed=True), now)
    until = now + 600
    await state.cool_down(demo, until, now, CooldownReason.of(TimeoutError("slow, key sk-leaked")))

    page = (await client.get("/ui/models")).text

    ends = datetime.fromtimestamp(until, UTC)
    shown = f'<time datetime="{ends.isoformat()}">{ends:%H:%M:%S} UTC</time>'
    assert f"cooling down</span> until {shown} — timed out (HTTP 408), 3 failed calls this minute" in page
    assert "sk-leaked" not in page


async def test_an_admin_adds_a_model_whose_credential_is_never_shown_again(client: Client) -> None:
    token = await sign_in(client)

    response = await _add(client, token)

    assert response.status_code == 303 and response.headers["location"] == "/ui/models"
    (stored,) = await _stored_model_info(client)
    assert stored["litellm_params"]["model"] == "openai/gpt-4o-mini"
    assert stored["model_info"]["input_cost_per_token"] == 0.000001
    page = (await client.get("/ui/models")).text
    assert "fresh" in page and "$1 / —" in page and "sk-upstream-secret" not in page
    model_id = stored["model_info"]["id"]
    edit = (await client.get(f"/ui/models/{model_id}/edit")).text
    assert "http://upstream.test/v1" in edit and "sk-upstream-secret" not in edit


async def test_a_use_case_refusal_is_shown_next_to_the_field_it_names(client: Client) -> None:
    token = await sign_in(client)

    response = await _add(client, token, **{"litellm_params.model": "antropic/claude"})

    assert response.status_code == 400
    error = re.search(r'<p class="error" id="f-litellm_params-model-error">([^<]+)</p>', response.text)
    assert error is not None and "provider" in error.group(1)
    assert 'value="fresh"' in response.text  # what was typed is kept
    assert "sk-upstream-secret" not in response.text
    assert await _stored_model_info(client) == []


async def test_a_number_field_that_is_not_a_number_is_named(client: Client) -> None:
    token = await sign_in(client)

    response = await _add(client, token, **{"litellm_params.rpm": "lots"})

    assert response.status_code == 400 and 'id="f-litellm_params-rpm-error"' in response.text


async def test_an_edit_with_an_empty_credential_keeps_the_stored_one(client: Client) -> None:
    token = await sign_in(client)
    await _add(client, token)
    (stored,) = await _stored_model_info(client)
    model_id = stored["model_info"]["id"]

    response = await client.post(
        f"/ui/models/{model_id}",
        data={"model_name": "renamed", "litellm_params.api_key": "", "csrf_token": token},
        follow_redirects=False,
    )

    assert response.status_code == 303
    models = (await client.get("/model/info", headers=MASTER)).json()["data"]
    (renamed,) = [m for m in models if m["model_info"]["id"] == model_id]
    assert renamed["model_name"] == "renamed"
    registry = client.app.dependencies["models"].dependency()
    assert registry.record(model_id).litellm_params["api_key"] == "sk-upstream-secret"


async def test_an_admin_deletes_a_stored_model(client: Client) -> None:
    token = await sign_in(client)
    await _add(client, token)
    (stored,) = await _stored_model_info(client)

    response = await client.post(
        f"/ui/models/{stored['model_info']['id']}/delete", data={"csrf_token": token}, follow_redirects=False
    )

    assert response.status_code == 303 and await _stored_model_info(client) == []


async def test_a_config_model_cannot_be_deleted_here(client: Client) -> None:
    token = await sign_in(client)
    demo = (await client.get("/model/info", headers=MASTER)).json()["data"][0]["model_info"]["id"]

    response = await client.post(f"/ui/models/{demo}/delete", data={"csrf_token": token})

    assert response.status_code == 400 and "config file" in response.text


async def test_a_non_admin_sees_the_list_read_only_and_is_refused_a_change(client: Client) -> None:
    token = await sign_in(client, await new_key(client))
    page = (await client.get("/ui/models")).text

    response = await _add(client, token)

    assert "demo" in page and "Add a model" not in page and "Actions" not in page
    assert response.status_code == 403 and "Only a proxy admin" in response.text
    assert await _stored_model_info(client) == []


async def test_editing_an_unknown_model_is_a_not_found_page(client: Client) -> None:
    await sign_in(client)

    response = await client.get("/ui/models/nope/edit")

    assert response.status_code == 404 and "No stored model with id &#39;nope&#39;" in response.text

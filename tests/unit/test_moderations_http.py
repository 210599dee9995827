"""POST /v1/moderations through the app: OpenAI's shape, routed only to deployments that moderate, logged."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from adapters.llm.mock import MockProvider
from domain.deployments import Capabilities, Deployment
from domain.moderation import CATEGORIES
from tests.fakes import FakeTokenCounter
from tests.unit import test_http_api
from tests.unit.test_text_completions_http import _Journals, _records

MODERATOR = Capabilities(chat=False, moderation=True, mode="moderation")


@pytest.fixture
async def client(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AsyncTestClient]:
    _Journals.opened = []
    monkeypatch.setattr(test_http_api, "InMemorySpendJournal", _Journals)
    more = (
        Deployment(id="dep-m1", model_name="guard", provider="anthropic", upstream_model="claude"),
        Deployment(
            id="dep-m2", model_name="guard", provider="mock", upstream_model="m", capabilities=MODERATOR
        ),
    )
    provider = MockProvider(FakeTokenCounter())
    async with AsyncTestClient(test_http_api._app(provider, more=more)) as test_client:  # type: ignore[arg-type]
        yield test_client


async def test_a_moderation_answers_in_openai_shape_from_a_deployment_that_moderates(client) -> None:
    for _ in range(4):  # whichever the router would pick, only the moderating deployment serves it
        response = await client.post(
            "/v1/moderations", json={"model": "guard", "input": ["fine", "mock-flagged"]}
        )

        assert response.status_code == 200, response.text
        assert response.headers["x-switchyard-model-id"] == "dep-m2"
    body = response.json()
    assert body["id"].startswith("modr-") and body["model"] == "m"
    fine, flagged = body["results"]
    assert fine["flagged"] is False and set(fine["categories"]) == set(CATEGORIES)
    assert not any(fine["categories"].values())
    assert flagged["flagged"] is True and flagged["category_scores"]["violence"] == 1.0
    records = await _records()
    assert records and {record.call_type for record in records} == {"moderation"}


async def test_the_unversioned_path_serves_it_too(client) -> None:
    response = await client.post("/moderations", json={"model": "guard", "input": "hello"})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


async def test_a_model_that_cannot_moderate_refuses_naming_the_model(client) -> None:
    response = await client.post("/v1/moderations", json={"model": "embedder", "input": "hello"})

    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "model"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "hi"}, "model"),
        ({"model": "guard"}, "input"),
        ({"model": "guard", "input": 3}, "input"),
        ({"model": "guard", "input": []}, "input"),
        ({"model": "guard", "input": ["ok", 4]}, "input[1]"),
    ],
)
async def test_a_bad_field_is_a_400_naming_it(client, body, param) -> None:
    response = await client.post("/v1/moderations", json=body)

    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


async def test_model_info_shows_the_configured_mode(client) -> None:
    response = await client.get("/v1/model/info")

    modes = {row["model_info"]["id"]: row["model_info"]["mode"] for row in response.json()["data"]}
    assert modes["dep-m2"] == "moderation"
    assert modes["dep-1"] == "chat"

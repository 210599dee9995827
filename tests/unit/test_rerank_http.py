"""POST /v1/rerank through the app: Cohere's shape, routed only to deployments that rerank, priced per
search unit, logged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient

from adapters.llm.mock import MockProvider
from domain.deployments import Capabilities, Deployment
from domain.pricing import ModelPrices
from tests.fakes import FakeTokenCounter
from tests.unit import test_http_api
from tests.unit.test_text_completions_http import _Journals, _records

RERANKER = Capabilities(chat=False, rerank=True, mode="rerank")
DOCUMENTS = ["The capital of France is Paris.", "Cats sleep a lot.", {"text": "Paris is in France."}]


@pytest.fixture
async def client(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AsyncTestClient]:
    _Journals.opened = []
    monkeypatch.setattr(test_http_api, "InMemorySpendJournal", _Journals)
    more = (
        Deployment(id="dep-r1", model_name="ranker", provider="anthropic", upstream_model="claude"),
        Deployment(
            id="dep-r2",
            model_name="ranker",
            provider="mock",
            upstream_model="rerank-mock",
            capabilities=RERANKER,
            prices=ModelPrices(per_query=Decimal("0.002")),
        ),
    )
    provider = MockProvider(FakeTokenCounter())
    async with AsyncTestClient(test_http_api._app(provider, more=more)) as test_client:  # type: ignore[arg-type]
        yield test_client


async def test_a_rerank_answers_in_cohere_shape_priced_per_search_unit(client) -> None:
    for _ in range(4):  # whichever the router would pick, only the reranking deployment serves it
        response = await client.post(
            "/v1/rerank",
            json={"model": "ranker", "query": "capital of France", "documents": DOCUMENTS, "top_n": 2},
        )

        assert response.status_code == 200, response.text
        assert response.headers["x-switchyard-model-id"] == "dep-r2"
    body = response.json()
    assert body["id"].startswith("rerank-")
    assert [result["index"] for result in body["results"]] == [0, 2]
    assert body["results"][0]["relevance_score"] == 1.0
    assert "document" not in body["results"][0]
    assert body["meta"] == {"billed_units": {"search_units": 1}}
    assert response.headers["x-switchyard-response-cost"] == "0.002"
    records = await _records()
    assert records and {record.call_type for record in records} == {"rerank"}
    assert records[-1].cost == Decimal("0.002")


@pytest.mark.parametrize("path", ["/rerank", "/v2/rerank"])
async def test_the_other_paths_serve_it_with_documents_when_asked(client, path) -> None:
    body = {"model": "ranker", "query": "cats", "documents": DOCUMENTS, "return_documents": True}

    response = await client.post(path, json=body)

    assert response.status_code == 200, response.text
    first = response.json()["results"][0]
    assert first == {"index": 1, "relevance_score": 1.0, "document": {"text": "Cats sleep a lot."}}
    assert len(response.json()["results"]) == 3


async def test_a_model_that_cannot_rerank_refuses_naming_the_model(client) -> None:
    response = await client.post("/v1/rerank", json={"model": "gpt-x", "query": "q", "documents": ["d"]})

    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "model"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"query": "q", "documents": ["d"]}, "model"),
        ({"model": "ranker", "documents": ["d"]}, "query"),
        ({"model": "ranker", "query": "q"}, "documents"),
        ({"model": "ranker", "query": "q", "documents": "d"}, "documents"),
        ({"model": "ranker", "query": "q", "documents": []}, "documents"),
        ({"model": "ranker", "query": "q", "documents": ["d", 3]}, "documents[1]"),
        ({"model": "ranker", "query": "q", "documents": ["d"], "top_n": 0}, "top_n"),
        (
            {"model": "ranker", "query": "q", "documents": ["d"], "return_documents": "yes"},
            "return_documents",
        ),
    ],
)
async def test_a_bad_field_is_a_400_naming_it(client, body, param) -> None:
    response = await client.post("/v1/rerank", json=body)

    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


async def test_model_info_shows_the_rerank_mode_and_its_query_price(client) -> None:
    rows = (await client.get("/v1/model/info")).json()["data"]

    info = next(row["model_info"] for row in rows if row["model_info"]["id"] == "dep-r2")
    assert info["mode"] == "rerank"
    assert info["input_cost_per_query"] == 0.002

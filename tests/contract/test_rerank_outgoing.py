"""What the rerank adapters put on the wire and read back: Cohere's v2 rerank (POST /v2/rerank,
`{model, query, documents, top_n, max_tokens_per_doc}`; reply `{id, results: [{index, relevance_score}],
meta: {billed_units: {search_units}}}`), and an OpenAI-compatible host's `/rerank` (vLLM's and TEI's
Jina-style endpoint: `{model, query, documents, top_n}`; reply `{id, model, usage, results: [{index,
relevance_score, document}]}`)."""

from __future__ import annotations

import httpx
import pytest

from adapters.openai_format.rerank import parse_rerank_request
from domain.errors import BadGatewayError
from tests.contract.harnesses.cohere import CohereHarness
from tests.contract.harnesses.openai import OpenAIHarness
from tests.contract.outgoing import harness_fixture, sent_json

cohere = harness_fixture(CohereHarness, "cohere")
host = harness_fixture(OpenAIHarness, "host")

REQUEST = {
    "model": "ranker",
    "query": "What is the capital of the United States?",
    "documents": ["Carson City is the capital city of Nevada.", {"text": "Washington, D.C. is the capital."}],
    "top_n": 2,
    "return_documents": True,
    "max_tokens_per_doc": 512,
    "num_retries": 2,
}
COHERE_REPLY = {
    "id": "07734bd2-2473-4f07-94e1-0d9f0e6843cf",
    "results": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "relevance_score": 0.3}],
    "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
}


def _answer(harness, body: object) -> None:
    harness.upstream.answer = lambda _: httpx.Response(200, json=body)


async def test_cohere_rerank_posts_v2_rerank_and_attaches_the_documents_itself(cohere) -> None:
    _answer(cohere, COHERE_REPLY)

    reply = await cohere.provider.rerank(parse_rerank_request(REQUEST), cohere.deployment)

    (sent,) = cohere.upstream.sent
    assert str(sent.url) == "https://api.cohere.example/v2/rerank"
    assert sent.headers["authorization"] == "Bearer co-test-123"
    assert sent_json(sent) == {
        "model": cohere.deployment.upstream_model,
        "query": "What is the capital of the United States?",
        "documents": ["Carson City is the capital city of Nevada.", "Washington, D.C. is the capital."],
        "top_n": 2,
        "max_tokens_per_doc": 512,
    }
    assert [(r.index, r.relevance_score, r.document) for r in reply.results] == [
        (1, 0.9, "Washington, D.C. is the capital."),
        (0, 0.3, "Carson City is the capital city of Nevada."),
    ]
    assert reply.usage.queries == 1 and reply.id == COHERE_REPLY["id"]


async def test_a_rerank_naming_a_document_never_sent_is_a_bad_gateway(cohere) -> None:
    _answer(cohere, {**COHERE_REPLY, "results": [{"index": 7, "relevance_score": 0.5}]})

    with pytest.raises(BadGatewayError):
        await cohere.provider.rerank(parse_rerank_request(REQUEST), cohere.deployment)


async def test_a_hosts_rerank_posts_its_rerank_endpoint(host) -> None:
    _answer(
        host,
        {
            "id": "rerank-1",
            "model": "BAAI/bge-reranker-base",
            "usage": {"total_tokens": 33},
            "results": [
                {"index": 0, "document": {"text": "Carson"}, "relevance_score": 0.1},
                {"index": 1, "document": {"text": "Washington"}, "relevance_score": 0.8},
            ],
        },
    )
    request = parse_rerank_request({**REQUEST, "return_documents": False})

    reply = await host.provider.rerank(request, host.deployment)

    (sent,) = host.upstream.sent
    assert str(sent.url) == "https://api.openai.example/v1/rerank"
    assert sent.headers["authorization"] == "Bearer sk-test-123"
    assert sent_json(sent) == {
        "model": "gpt-4o-mini",
        "query": "What is the capital of the United States?",
        "documents": ["Carson City is the capital city of Nevada.", "Washington, D.C. is the capital."],
        "top_n": 2,
    }
    assert [(r.index, r.document) for r in reply.results] == [(1, None), (0, None)]
    assert (reply.usage.prompt_tokens, reply.usage.queries) == (33, 1)

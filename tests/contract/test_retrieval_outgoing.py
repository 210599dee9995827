"""What the Voyage AI and Jina AI adapters put on the wire: URL, key and body, exactly; and what they
read back that the contract suites do not check (token usage, refusals)."""

from __future__ import annotations

import pytest

from domain.embeddings import EmbeddingRequest
from domain.errors import UnsupportedParameterError
from domain.rerank import RerankRequest
from tests.contract.harnesses.base import TEXTS, chat_request
from tests.contract.harnesses.retrieval import JinaHarness, RetrievalHarness, VoyageHarness
from tests.contract.outgoing import sent_json
from tests.contract.surfaces import wire_upstream

RERANK = RerankRequest("ranker", "capital of france", ("Paris is the capital.", "Bananas."), top_n=1)


@pytest.mark.parametrize(
    ("harness_class", "wire", "url", "asked"),
    [
        (
            VoyageHarness,
            "base64",
            "https://api.voyageai.com/v1/embeddings",
            {"encoding_format": "base64", "output_dimension": 256, "input_type": "query"},
        ),
        (
            JinaHarness,
            "float",
            "https://api.jina.ai/v1/embeddings",
            {"dimensions": 256, "task": "retrieval.query"},
        ),
    ],
)
async def test_embeddings_ask_for_the_dimension_in_the_providers_words_and_pass_its_own_fields(
    harness_class: type[RetrievalHarness], wire: str, url: str, asked: dict[str, object]
) -> None:
    harness = harness_class()
    harness.embeddings(wire=wire)
    own = {key: value for key, value in asked.items() if key in ("input_type", "task")}
    request = EmbeddingRequest("e", TEXTS, dimensions=256, extra_body=own)

    reply = await harness.provider.embed(request, harness.deployment)
    await harness.close()

    (sent,) = harness.upstream.sent
    assert str(sent.url) == url
    assert sent.headers["authorization"] == f"Bearer {harness.provider_name}-key-123"
    assert sent_json(sent) == {"model": harness.upstream_model, "input": list(TEXTS), **asked}
    assert reply.usage.prompt_tokens == 12  # Voyage counts only total_tokens


@pytest.mark.parametrize(
    ("harness_class", "url", "asked", "tokens"),
    [
        (VoyageHarness, "https://api.voyageai.com/v1/rerank", {"top_k": 1}, 26),
        (JinaHarness, "https://api.jina.ai/v1/rerank", {"top_n": 1, "return_documents": False}, 21),
    ],
)
async def test_rerank_cuts_in_the_providers_words_and_bills_its_tokens(
    harness_class: type[RetrievalHarness], url: str, asked: dict[str, object], tokens: int
) -> None:
    harness = harness_class()
    harness.upstream.answer = wire_upstream

    reply = await harness.provider.rerank(RERANK, harness.deployment)
    await harness.close()

    (sent,) = harness.upstream.sent
    assert str(sent.url) == url
    assert sent_json(sent) == {
        "model": harness.upstream_model,
        "query": "capital of france",
        "documents": list(RERANK.documents),
        **asked,
    }
    assert [result.index for result in reply.results] == [0]
    assert (reply.usage.prompt_tokens, reply.usage.queries) == (tokens, 1)
    assert reply.model == harness.upstream_model


async def test_a_configured_base_replaces_the_public_one() -> None:
    harness = VoyageHarness(api_base="https://voyage.internal.example/v1")
    harness.embeddings(wire="base64")

    await harness.provider.embed(EmbeddingRequest("e", TEXTS), harness.deployment)
    await harness.close()

    assert str(harness.upstream.sent[0].url) == "https://voyage.internal.example/v1/embeddings"


@pytest.mark.parametrize("harness_class", [VoyageHarness, JinaHarness])
async def test_token_arrays_and_chat_are_refused_before_anything_is_sent(
    harness_class: type[RetrievalHarness],
) -> None:
    harness = harness_class()

    with pytest.raises(UnsupportedParameterError) as tokens:
        await harness.provider.embed(EmbeddingRequest("e", ((1, 2),)), harness.deployment)
    with pytest.raises(UnsupportedParameterError) as chat:
        await harness.provider.complete(chat_request(), harness.deployment)
    await harness.close()

    assert (tokens.value.param, chat.value.param) == ("input", "model")
    assert harness.upstream.sent == []
    assert not harness.provider.capabilities().chat

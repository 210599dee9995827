"""The rerank contract (LLMProvider.rerank): every adapter that serves it, the mock and each real one
behind a fake upstream in its wire format (Cohere's /v2/rerank, a compatible host's /rerank), ranks the
documents the most relevant first, cut to `top_n`, each result naming a document sent and carrying its
text when asked, a search unit billed; the real ones raise each upstream failure as its domain error."""

from __future__ import annotations

import pytest

from domain import errors
from domain.rerank import RerankRequest
from tests.contract.harnesses.base import ProviderHarness
from tests.contract.surfaces import FAILURES, backend_fixture, fail_with

backend = backend_fixture("rerank")
upstream_backend = backend_fixture("rerank", real_only=True)

QUERY = "capital of the united states"
DOCUMENTS = (
    "Carson City is the capital city of Nevada.",
    "Bananas are rich in potassium.",
    "Washington is the capital of the united states",
    "The united states has fifty states.",
)
BEST = 2


def _request(**changes: object) -> RerankRequest:
    fields: dict[str, object] = {"model": "ranker", "query": QUERY, "documents": DOCUMENTS} | changes
    return RerankRequest(**fields)  # type: ignore[arg-type]


async def test_every_document_is_ranked_the_most_relevant_first(backend: ProviderHarness) -> None:
    reply = await backend.provider.rerank(_request(), backend.deployment)

    scores = [result.relevance_score for result in reply.results]
    assert scores == sorted(scores, reverse=True)
    assert sorted(result.index for result in reply.results) == list(range(len(DOCUMENTS)))
    assert reply.results[0].index == BEST
    assert reply.id


@pytest.mark.parametrize("top_n", [1, 2, len(DOCUMENTS), 10])
async def test_top_n_cuts_the_ranking(backend: ProviderHarness, top_n: int) -> None:
    whole = await backend.provider.rerank(_request(), backend.deployment)

    reply = await backend.provider.rerank(_request(top_n=top_n), backend.deployment)

    assert len(reply.results) == min(top_n, len(DOCUMENTS))
    assert [r.index for r in reply.results] == [r.index for r in whole.results][:top_n]


async def test_each_result_names_a_document_sent_once(backend: ProviderHarness) -> None:
    reply = await backend.provider.rerank(_request(top_n=3), backend.deployment)

    indexes = [result.index for result in reply.results]
    assert len(set(indexes)) == len(indexes)
    assert all(0 <= index < len(DOCUMENTS) for index in indexes)


@pytest.mark.parametrize("top_n", [None, 2])
async def test_return_documents_carries_each_results_own_text(
    backend: ProviderHarness, top_n: int | None
) -> None:
    reply = await backend.provider.rerank(_request(return_documents=True, top_n=top_n), backend.deployment)

    assert reply.results
    assert all(result.document == DOCUMENTS[result.index] for result in reply.results)


async def test_without_return_documents_no_text_comes_back(backend: ProviderHarness) -> None:
    reply = await backend.provider.rerank(_request(return_documents=False), backend.deployment)

    assert all(result.document is None for result in reply.results)


async def test_the_search_units_billed_are_in_the_usage(backend: ProviderHarness) -> None:
    reply = await backend.provider.rerank(_request(), backend.deployment)

    assert reply.usage.queries >= 1
    assert reply.usage.completion_tokens == 0


@pytest.mark.parametrize("kind", sorted(FAILURES))
async def test_each_upstream_failure_is_raised_as_its_domain_error(
    upstream_backend: ProviderHarness, kind: str
) -> None:
    fail_with(upstream_backend, kind)

    with pytest.raises(errors.SwitchyardError) as raised:
        await upstream_backend.provider.rerank(_request(), upstream_backend.deployment)

    assert type(raised.value) is FAILURES[kind]
    assert raised.value.message

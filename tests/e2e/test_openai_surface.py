"""More of the OpenAI surface through the real server, driven by the official `openai` client against
mock deployments: legacy text completions (whole and streamed) and moderations; rerank (no `openai`
client method) over plain HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.e2e.conftest import gateway_serving

pytestmark = pytest.mark.e2e

MODELS = [
    {"model_name": "demo", "litellm_params": {"model": "mock/demo"}},
    {
        "model_name": "guard",
        "litellm_params": {"model": "mock/guard"},
        "model_info": {"mode": "moderation"},
    },
    {
        "model_name": "ranker",
        "litellm_params": {"model": "mock/ranker"},
        "model_info": {"mode": "rerank", "input_cost_per_query": 0.002},
    },
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    directory: Path = tmp_path_factory.mktemp("surface")
    with gateway_serving(MODELS, directory) as gateway:
        yield gateway


def test_a_text_completion_comes_back_as_one(client) -> None:
    reply = client.completions.create(model="demo", prompt="Say hi", max_tokens=20)

    assert reply.object == "text_completion"
    assert reply.choices[0].text == 'Hi there! You said: "Say hi". (Switchyard demo model, offline.)'
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.total_tokens > 0


def test_a_streamed_text_completion_arrives_chunk_by_chunk(client) -> None:
    stream = client.completions.create(
        model="demo", prompt="Say hi", stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)

    text = "".join(chunk.choices[0].text for chunk in chunks if chunk.choices)
    assert text.startswith("Hi there!")
    assert {chunk.object for chunk in chunks} == {"text_completion"}
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_what_only_a_completions_endpoint_serves_is_refused_by_a_chat_model(client) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.completions.create(model="demo", prompt="Say hi", suffix="bye")

    assert "suffix" in str(refused.value)


def test_a_moderation_flags_only_the_marked_input(client) -> None:
    reply = client.moderations.create(model="guard", input=["a kind word", "this is mock-flagged"])

    fine, flagged = reply.results
    assert fine.flagged is False and fine.categories.violence is False
    assert flagged.flagged is True and flagged.category_scores.harassment == 1.0


def test_model_info_shows_each_deployments_mode(client) -> None:
    info = client.get("/model/info", cast_to=object)

    modes = {row["model_name"]: row["model_info"]["mode"] for row in info["data"]}  # type: ignore[index]
    assert modes == {"demo": "chat", "guard": "moderation", "ranker": "rerank"}


def test_a_rerank_answers_in_cohere_shape_priced_per_search_unit(client) -> None:
    response = httpx.post(
        f"{client.base_url}rerank",
        json={
            "model": "ranker",
            "query": "red apples",
            "documents": ["green pears", "red apples"],
            "top_n": 1,
        },
        headers={"authorization": f"Bearer {client.api_key}"},
    )

    assert response.status_code == 200, response.text
    assert response.json()["results"] == [{"index": 1, "relevance_score": 1.0}]
    assert response.json()["meta"] == {"billed_units": {"search_units": 1}}
    assert response.headers["x-switchyard-response-cost"] == "0.002"

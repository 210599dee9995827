"""What the OpenAI adapter sends for a legacy text completion and a moderation: the client's body at the
upstream's `/completions` (OpenAI's API reference, "Completions": `prompt`, `suffix`, `echo`, `logprobs`,
...; the reply a `text_completion` object, streamed as `text_completion` chunks ending with `[DONE]`), and
`{model, input}` at `/moderations` (the reply `{id, model, results: [{flagged, categories,
category_scores, category_applied_input_types}]}`)."""

from __future__ import annotations

import httpx
import orjson

from adapters.openai_format.moderations import parse_moderation_request
from adapters.openai_format.text_completions import parse_text_completion_request
from domain.completions import FinishReason
from tests.contract.harnesses.openai import OpenAIHarness
from tests.contract.outgoing import harness_fixture, sent_json

harness = harness_fixture(OpenAIHarness)

REPLY = {
    "id": "cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7",
    "object": "text_completion",
    "created": 1589478378,
    "model": "gpt-3.5-turbo-instruct",
    "system_fingerprint": "fp_44709d6fcb",
    "choices": [
        {
            "text": "\n\nThis is indeed a test",
            "index": 0,
            "logprobs": {
                "tokens": ["\n\n"],
                "token_logprobs": [-0.1],
                "top_logprobs": None,
                "text_offset": [0],
            },
            "finish_reason": "length",
        }
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
}
CHUNKS = [
    {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "m",
     "choices": [{"text": "Hello", "index": 0, "logprobs": None, "finish_reason": None}]},
    {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "m",
     "choices": [{"text": " there", "index": 0, "logprobs": None, "finish_reason": "stop"}]},
    {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "m", "choices": [],
     "usage": {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}},
]  # fmt: skip


def _answer_json(harness: OpenAIHarness, body: object) -> None:
    harness.upstream.answer = lambda _: httpx.Response(200, json=body)


async def test_a_text_completion_is_posted_to_completions_as_the_client_sent_it(harness) -> None:
    _answer_json(harness, REPLY)
    request = parse_text_completion_request(
        {
            "model": "gpt-x", "prompt": ["a", "b"], "suffix": "end", "echo": True, "logprobs": 1,
            "max_tokens": 7, "stop": ["\n"], "best_of": 2, "n": 1, "num_retries": 3,
            "metadata": {"k": "v"}, "mock_response": None,
        }
    )  # fmt: skip

    reply = await harness.provider.complete(request, harness.deployment)

    (sent,) = harness.upstream.sent
    assert str(sent.url) == "https://api.openai.example/v1/completions"
    assert sent.headers["authorization"] == "Bearer sk-test-123"
    assert sent_json(sent) == {
        "model": "gpt-4o-mini", "prompt": ["a", "b"], "suffix": "end", "echo": True, "logprobs": 1,
        "max_tokens": 7, "stop": ["\n"], "best_of": 2, "n": 1,
    }  # fmt: skip
    assert reply.choices[0].message.text == "\n\nThis is indeed a test"
    assert reply.choices[0].finish_reason is FinishReason.LENGTH
    assert reply.choices[0].logprobs == REPLY["choices"][0]["logprobs"]
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (5, 7)


async def test_a_streamed_text_completion_reads_text_completion_chunks(harness) -> None:
    body = b"".join(b"data: " + orjson.dumps(chunk) + b"\n\n" for chunk in CHUNKS) + b"data: [DONE]\n\n"
    harness.upstream.sse(body)
    request = parse_text_completion_request(
        {"model": "gpt-x", "prompt": "Hi", "stream": True, "stream_options": {"include_usage": True}}
    )

    stream = await harness.provider.stream(request, harness.deployment)
    chunks = [chunk async for chunk in stream]

    (sent,) = harness.upstream.sent
    assert str(sent.url) == "https://api.openai.example/v1/completions"
    assert sent_json(sent) == {
        "model": "gpt-4o-mini", "prompt": "Hi", "stream": True, "stream_options": {"include_usage": True}
    }  # fmt: skip
    assert [c.choices[0].delta.content for c in chunks if c.choices] == ["Hello", " there"]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 4


MODERATION = {
    "id": "modr-0d9740456c391e43c445bf0f010940c7",
    "model": "omni-moderation-latest",
    "results": [
        {
            "flagged": True,
            "categories": {"harassment": True, "violence": False, "illicit": None},
            "category_scores": {"harassment": 0.91, "violence": 0.02, "illicit": None},
            "category_applied_input_types": {"harassment": ["text"], "violence": ["text"]},
        }
    ],
}


async def test_a_moderation_is_posted_to_moderations_and_read_back(harness) -> None:
    _answer_json(harness, MODERATION)
    request = parse_moderation_request({"model": "guard", "input": "some text", "num_retries": 1})

    reply = await harness.provider.moderate(request, harness.deployment)

    (sent,) = harness.upstream.sent
    assert str(sent.url) == "https://api.openai.example/v1/moderations"
    assert sent.headers["authorization"] == "Bearer sk-test-123"
    assert sent_json(sent) == {"model": "gpt-4o-mini", "input": "some text"}
    (result,) = reply.results
    assert result.flagged is True
    assert result.categories == {"harassment": True, "violence": False, "illicit": False}
    assert result.category_scores["harassment"] == 0.91
    assert result.category_applied_input_types == {"harassment": ["text"], "violence": ["text"]}


async def test_several_moderation_inputs_go_as_an_array(harness) -> None:
    _answer_json(harness, {**MODERATION, "results": MODERATION["results"] * 2})
    request = parse_moderation_request({"model": "guard", "input": ["a", "b"]})

    reply = await harness.provider.moderate(request, harness.deployment)

    assert sent_json(harness.upstream.sent[0])["input"] == ["a", "b"]
    assert len(reply.results) == 2

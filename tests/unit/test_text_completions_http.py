"""POST /v1/completions through the app: the legacy text completion, routed, metered and logged like chat."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest
from litestar.testing import AsyncTestClient

from adapters.journal.memory_journal import InMemorySpendJournal
from domain.deployments import Deployment
from domain.spend import SpendRecord
from tests.fakes import FakeLLMProvider, chunks_of, reply
from tests.unit import test_http_api

COMPLETION = {"model": "gpt-x", "prompt": "Say this is a test"}


class _Journals(InMemorySpendJournal):
    opened: list[_Journals] = []

    def __init__(self) -> None:
        super().__init__()
        self.records: list[SpendRecord] = []
        _Journals.opened.append(self)

    async def append(self, records):  # type: ignore[no-untyped-def]
        self.records.extend(records)
        await super().append(records)


@pytest.fixture
def provider() -> FakeLLMProvider:
    return FakeLLMProvider()


@pytest.fixture
async def client(
    provider: FakeLLMProvider, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AsyncTestClient]:
    _Journals.opened = []
    monkeypatch.setattr(test_http_api, "InMemorySpendJournal", _Journals)
    more = (Deployment(id="dep-c", model_name="claude-x", provider="anthropic", upstream_model="claude"),)
    async with AsyncTestClient(test_http_api._app(provider, more=more)) as test_client:
        yield test_client


async def _records() -> list[SpendRecord]:
    for _ in range(50):
        records = _Journals.opened[0].records
        if records:
            return records
        await asyncio.sleep(0.01)
    return []


async def test_a_text_completion_answers_in_openai_shape_and_is_logged_as_one(client, provider) -> None:
    provider.replies.append(reply("This is a test."))

    response = await client.post("/v1/completions", json={**COMPLETION, "max_tokens": 7, "stop": "\n"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "text_completion"
    choice = {"text": "This is a test.", "index": 0, "logprobs": None, "finish_reason": "stop"}
    assert body["choices"] == [choice]
    assert body["usage"] == {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    assert response.headers["x-switchyard-model-id"] == "dep-1"
    (asked, _) = provider.requests[-1]
    assert asked.messages[0].text == "Say this is a test"
    assert (asked.params.max_tokens, asked.params.stop) == (7, ("\n",))
    assert asked.native is not None and asked.native.format == "text_completion"
    assert asked.native.body["prompt"] == "Say this is a test"
    (record,) = await _records()
    assert record.call_type == "text_completion"


async def test_the_unversioned_path_serves_it_too(client, provider) -> None:
    provider.replies.append(reply("ok"))

    response = await client.post("/completions", json=COMPLETION)

    assert response.status_code == 200
    assert response.json()["choices"][0]["text"] == "ok"


async def test_a_streamed_text_completion_sends_text_completion_chunks_then_done(client, provider) -> None:
    provider.streams.append(chunks_of("This is a test"))

    response = await client.post(
        "/v1/completions", json={**COMPLETION, "stream": True, "stream_options": {"include_usage": True}}
    )

    assert response.status_code == 200
    events = [line[6:] for line in response.text.split("\n\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [orjson.loads(event) for event in events[:-1]]
    assert {chunk["object"] for chunk in chunks} == {"text_completion"}
    assert "".join(c["choices"][0]["text"] for c in chunks if c["choices"]) == "Thisisatest"
    assert chunks[-1]["usage"] == {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    (record,) = await _records()
    assert record.call_type == "text_completion.stream"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": "hi"}, "model"),
        ({"model": "gpt-x"}, "prompt"),
        ({"model": "gpt-x", "prompt": 3}, "prompt"),
        ({"model": "gpt-x", "prompt": []}, "prompt"),
        ({"model": "gpt-x", "prompt": "hi", "max_tokens": "ten"}, "max_tokens"),
        ({"model": "gpt-x", "prompt": "hi", "temperature": 3}, "temperature"),
        ({"model": "gpt-x", "prompt": "hi", "logprobs": 9}, "logprobs"),
        ({"model": "gpt-x", "prompt": "hi", "echo": "yes"}, "echo"),
    ],
)
async def test_a_bad_field_is_a_400_naming_it(client, body, param) -> None:
    response = await client.post("/v1/completions", json=body)

    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


async def test_what_only_a_completions_endpoint_can_do_is_refused_by_a_chat_only_deployment(client) -> None:
    response = await client.post("/v1/completions", json={"model": "claude-x", "prompt": "a", "suffix": "b"})

    assert response.status_code == 400, response.text
    assert "suffix" in response.json()["error"]["message"]

"""The Responses API passed through to a deployment that speaks it itself (`openai/` by default), through
the real server, with the official `openai` client and raw HTTP: the request goes as sent, the reply and
the stream come back as received, and the gateway keeps what `previous_response_id` needs."""

from __future__ import annotations

import copy
import functools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.conftest import MASTER_KEY, gateway_client, running_gateway
from tests.e2e.responses_upstream import CHAT_TEXT, TEXT, USAGE, FakeResponses

pytestmark = pytest.mark.e2e

MASTER = {"Authorization": f"Bearer {MASTER_KEY}"}
# A request as Codex-like clients send one: every kind of tool, settings OpenAI alone understands, and a
# field no SDK models yet.
REQUEST = {
    "model": "native",
    "instructions": "You are a coding agent.",
    "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Fix greet.py"}]},
    ],
    "tools": [
        {"type": "function", "name": "shell", "description": "Runs a command.", "strict": False,
         "parameters": {"type": "object", "required": ["command"],
                        "properties": {"command": {"type": "array", "items": {"type": "string"}}}}},
        {"type": "custom", "name": "apply_patch", "description": "Edits files.",
         "format": {"type": "grammar", "syntax": "lark", "definition": "start: /(.|\\n)+/"}},
        {"type": "web_search"},
    ],
    "tool_choice": "auto",
    "parallel_tool_calls": False,
    "reasoning": {"effort": "high", "summary": "auto"},
    "text": {"verbosity": "low"},
    "include": ["reasoning.encrypted_content"],
    "prompt_cache_key": "session-42",
    "service_tier": "priority",
    "store": True,
    "max_output_tokens": 4000,
    "metadata": {"ticket": "E2E-1"},
}  # fmt: skip
UNMODELLED = {"client_metadata": {"origin": "e2e"}}
"""A field of the request this client version does not take as an argument."""


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeResponses]:
    with FakeResponses() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(upstream: FakeResponses, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    common = {"api_base": upstream.base_url, "api_key": "sk-upstream"}
    model_list = [
        {"model_name": "native", "litellm_params": {"model": "openai/gpt-resp", **common}},
        {
            "model_name": "chat-only",
            "litellm_params": {"model": "openai/gpt-resp", **common},
            "model_info": {"supported_endpoints": ["/v1/chat/completions"]},
        },
    ]
    config = {
        "model_list": model_list,
        "general_settings": {"master_key": MASTER_KEY},
        "router_settings": {"num_retries": 0, "allowed_fails": 1000},
    }
    with running_gateway(config, Path(tmp_path_factory.mktemp("e2e-responses-native"))) as url:
        yield url


@pytest.fixture
def client(gateway: str) -> openai.OpenAI:
    return gateway_client(gateway)


def eventually(check, timeout: float = 3.0):  # type: ignore[no-untyped-def]
    """`check()`'s first truthy answer within `timeout`, else its last."""
    deadline = time.monotonic() + timeout
    while not (found := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def sent_and_answered(upstream: FakeResponses) -> tuple[dict[str, Any], bytes]:
    """The body of the last request the upstream received, and the bytes it answered."""
    last = upstream.requests[-1]
    return last["body"], last["answer"]


def completed_in(stream: bytes) -> dict[str, Any]:
    """The response of the stream's last event (its `response.completed`)."""
    return json.loads(stream.rstrip(b"\n").rsplit(b"\ndata: ", 1)[1])["response"]


def stored(gateway: str, path: str, **params: str) -> dict[str, Any]:
    answer = httpx.get(f"{gateway}/v1/responses/{path}", params=params, headers=MASTER, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_request_reaches_the_upstream_as_sent_with_only_the_model_swapped(
    client: openai.OpenAI, upstream: FakeResponses, gateway: str
) -> None:
    raw = client.responses.with_raw_response.create(**copy.deepcopy(REQUEST), extra_body=UNMODELLED)

    sent, answered = sent_and_answered(upstream)
    assert upstream.requests[-1]["path"] == "/v1/responses"
    assert sent == {**REQUEST, **UNMODELLED, "model": "gpt-resp"}
    assert upstream.requests[-1]["headers"]["authorization"] == "Bearer sk-upstream"
    assert raw.http_response.json() == json.loads(answered)
    reply = raw.parse()
    assert (reply.output_text, reply.model) == (TEXT, "gpt-resp-2025-04-14")
    assert reply.usage.model_dump(exclude_none=True) == USAGE
    # Kept under the upstream's own id, as the upstream answered it.
    assert reply.id == json.loads(answered)["id"]
    assert stored(gateway, reply.id) == json.loads(answered)


def test_a_reply_comes_back_as_the_upstream_sent_it(client: openai.OpenAI, upstream: FakeResponses) -> None:
    raw = client.responses.with_raw_response.create(model="native", input="Hello")

    # The same JSON, every key and value in the upstream's order (the gateway writes it compactly).
    _, answered = sent_and_answered(upstream)
    in_order = functools.partial(json.loads, object_pairs_hook=list)
    assert in_order(raw.http_response.content) == in_order(answered)


def test_a_stream_comes_back_byte_for_byte_and_is_kept_as_it_ended(
    upstream: FakeResponses, gateway: str, client: openai.OpenAI
) -> None:
    body = {**copy.deepcopy(REQUEST), **UNMODELLED, "stream": True}
    with httpx.stream("POST", f"{gateway}/v1/responses", json=body, headers=MASTER, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        received = b"".join(response.iter_raw())

    sent, answered = sent_and_answered(upstream)
    assert sent == {**body, "model": "gpt-resp"}
    assert received == answered
    completed = completed_in(answered)
    assert stored(gateway, completed["id"]) == completed

    # The SDK's stream helper reads it as it reads OpenAI's own.
    with client.responses.stream(model="native", input="Hello") as stream:
        final = stream.get_final_response()
    assert final.output_text == TEXT
    assert stored(gateway, final.id) == completed_in(upstream.requests[-1]["answer"])


def test_a_background_response_of_a_native_deployment_completes_under_the_id_it_was_given(
    client: openai.OpenAI, upstream: FakeResponses
) -> None:
    queued = client.responses.create(model="native", input="Hello, later", background=True)

    assert queued.status == "queued"
    # The gateway runs the call in the background itself: the upstream is asked a plain one.
    assert eventually(lambda: upstream.requests[-1]["body"] == {"model": "gpt-resp", "input": "Hello, later"})
    done = eventually(lambda: (found := client.responses.retrieve(queued.id)).status == "completed" and found)
    assert done, client.responses.retrieve(queued.id).status
    assert done.output_text == TEXT


def test_a_continuation_sends_the_earlier_items_inline_instead_of_previous_response_id(
    client: openai.OpenAI, upstream: FakeResponses, gateway: str
) -> None:
    first = client.responses.create(model="native", input="Hello")
    first_output = json.loads(sent_and_answered(upstream)[1])["output"]
    second = client.responses.create(model="native", input="And in Rome?", previous_response_id=first.id)
    sent, answered = sent_and_answered(upstream)
    second_output = json.loads(answered)["output"]
    oslo = {"role": "user", "content": "And Oslo?"}
    client.responses.create(model="native", input=[oslo], previous_response_id=second.id)
    third_sent, _ = sent_and_answered(upstream)

    # A string input is kept (and sent back) as one user message item.
    first_input = stored(gateway, f"{first.id}/input_items")["data"]
    second_input = stored(gateway, f"{second.id}/input_items")["data"]
    assert [(item["type"], item["role"], item["content"]) for item in first_input + second_input] == [
        ("message", "user", [{"type": "input_text", "text": "Hello"}]),
        ("message", "user", [{"type": "input_text", "text": "And in Rome?"}]),
    ]
    assert "previous_response_id" not in sent and "previous_response_id" not in third_sent
    assert sent["input"] == [*first_input, *first_output, *second_input]
    assert third_sent["input"] == [*first_input, *first_output, *second_input, *second_output, oslo]
    assert second.id == json.loads(answered)["id"] != first.id
    # The upstream never saw the link; what the gateway keeps notes it.
    assert second.previous_response_id is None
    assert client.responses.retrieve(second.id).previous_response_id == first.id


def test_an_openai_deployment_that_lists_only_chat_completions_is_translated(
    client: openai.OpenAI, upstream: FakeResponses
) -> None:
    reply = client.responses.create(model="chat-only", input="Hello", instructions="Be brief.")

    last = upstream.requests[-1]
    assert last["path"] == "/v1/chat/completions"
    assert last["body"]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello"},
    ]
    assert (reply.output_text, reply.model, reply.status) == (CHAT_TEXT, "chat-only", "completed")

"""Anthropic's Messages API (/v1/messages) through the real server, driven by the official `anthropic`
client, in front of fake upstreams in OpenAI's, Gemini's and Anthropic's formats."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from tests.e2e import anthropic_upstream
from tests.e2e import claude_code_session as session
from tests.e2e.anthropic_upstream import FakeAnthropic
from tests.e2e.conftest import MASTER_KEY, clear_of_a_minute_boundary, running_gateway
from tests.e2e.gemini_upstream import SIGNATURE, GeminiUpstream
from tests.e2e.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

FORMATS = ["openai", "gemini", "anthropic"]
# The scenario each public model name serves, per upstream format: "<scenario>-via-<format>" (plain text
# is "via-<format>"), pointing at the fake upstream's model id for it.
SCENARIOS = {
    "": {"openai": "ok", "gemini": "gemini-ok", "anthropic": "claude-ok"},
    "weather-": {"openai": "weather", "gemini": "gemini-weather", "anthropic": "claude-tools"},
    "coder-": {"openai": "coder", "gemini": "gemini-coder", "anthropic": "claude-coder"},
    "limited-": {"openai": "rate-limited", "gemini": "gemini-quota", "anthropic": "claude-rate-limited"},
    "overloaded-": {"anthropic": "claude-overloaded"},
    "broken-": {"openai": "stream-error"},
    # o4-mini reasons (a thinking budget goes as reasoning_effort); the fake answers it as `ok`.
    "thinking-": {"openai": "o4-mini", "gemini": "gemini-ok", "anthropic": "claude-thinking-tools"},
    "redacted-": {"anthropic": "claude-thinking"},
}
TEXTS = {"openai": "Hello from upstream!", "gemini": "Hello from Gemini!", "anthropic": "Hello from Claude!"}
USAGES = {"openai": (9, 3), "gemini": (9, 3), "anthropic": (4, 5)}
UPSTREAM_KEYS = {"openai": "sk-upstream", "gemini": "AIza-e2e-key", "anthropic": "sk-ant-e2e"}
HELLO = [{"role": "user", "content": "Hello"}]
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "The current weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city"],
    },
}
RAW_EVENTS = frozenset(
    {"message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta",
     "message_stop", "ping"}
)  # fmt: skip
"""The wire's events, among those the client's stream helper yields (it adds its own, such as `text`)."""
# A 1x1 PNG.
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/x8AAwMCAO+ip1sAAAAASUVORK5CYII="


@dataclass
class Upstreams:
    openai: FakeUpstream
    gemini: GeminiUpstream
    anthropic: FakeAnthropic

    def last(self, fmt: str) -> dict[str, Any]:
        """The last request the upstream of format `fmt` received."""
        return getattr(self, fmt).requests[-1]


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    with FakeUpstream() as openai_fake, GeminiUpstream() as gemini_fake, FakeAnthropic() as anthropic_fake:
        yield Upstreams(openai_fake, gemini_fake, anthropic_fake)


@pytest.fixture(scope="module")
def gateway(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model_list = [
        {
            "model_name": f"{scenario}via-{fmt}",
            "litellm_params": {
                "model": f"{fmt}/{upstream_model}",
                "api_base": getattr(upstreams, fmt).base_url,
                "api_key": UPSTREAM_KEYS[fmt],
            },
        }
        for scenario, models in SCENARIOS.items()
        for fmt, upstream_model in models.items()
    ]
    config = {
        "model_list": model_list,
        "general_settings": {"master_key": MASTER_KEY},
        # Each test sees the gateway's first answer, and one failure cools no deployment down.
        "router_settings": {"num_retries": 0, "allowed_fails": 1000},
    }
    with running_gateway(config, Path(tmp_path_factory.mktemp("e2e-messages"))) as url:
        yield url


def client_of(url: str, key: str = MASTER_KEY, *, header: str = "authorization") -> anthropic.Anthropic:
    """The official client of the gateway, sending `key` as `Authorization: Bearer` or as `x-api-key`
    (whatever credentials this machine's environment holds are left out)."""
    common: dict[str, Any] = {"base_url": url, "max_retries": 0, "timeout": 10}
    if header == "x-api-key":
        headers = {"x-api-key": key, "Authorization": anthropic.omit}
        return anthropic.Anthropic(api_key=None, default_headers=headers, **common)
    return anthropic.Anthropic(auth_token=key, default_headers={"x-api-key": anthropic.omit}, **common)


@pytest.fixture
def client(gateway: str) -> anthropic.Anthropic:
    return client_of(gateway)


def sse_events(client: anthropic.Anthropic, **params: Any) -> list[tuple[str, dict[str, Any]]]:
    """The stream of a `create(stream=True, **params)` call, event by event as it came over the wire
    (the client's own iterator hides `ping`)."""
    with client.messages.with_streaming_response.create(stream=True, **params) as response:
        text = "".join(response.iter_text()).replace("\r\n", "\n")
    events = []
    for frame in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in frame.splitlines() if ": " in line)
        if "data" in fields:
            events.append((fields.get("event", ""), json.loads(fields["data"])))
    return events


def assert_well_formed(events: list[tuple[str, dict[str, Any]]]) -> None:
    """Anthropic's stream grammar: message_start; each content block opened, filled and closed in turn
    (indexes 0, 1, ...); message_delta; message_stop; pings anywhere in between."""
    names = [name for name, _ in events if name != "ping"]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"], names
    opened, following = None, 0
    for name, data in events[1:-2]:
        if name == "content_block_start":
            assert opened is None and data["index"] == following, (name, data)
            opened = following
        elif name in ("content_block_delta", "content_block_stop"):
            assert data["index"] == opened, (name, data)
            if name == "content_block_stop":
                opened, following = None, following + 1
        else:
            assert name == "ping", (name, data)
    assert opened is None


def shape(names: list[str]) -> list[str]:
    """Event names with runs of one name collapsed into one."""
    return [name for i, name in enumerate(names) if i == 0 or names[i - 1] != name]


def as_params(blocks: list[Any]) -> list[dict[str, Any]]:
    """A reply's content blocks as a client sends them back in the next turn."""
    return [block.model_dump(exclude_none=True) for block in blocks]


def anthropic_error(response: httpx.Response | Any) -> dict[str, Any]:
    """The error body, checked to be Anthropic's shape."""
    body = response.json()
    assert body["type"] == "error"
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


# Text and streams.


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_text_reply_comes_back_as_an_anthropic_message_whatever_the_upstream(
    client: anthropic.Anthropic, upstreams: Upstreams, fmt: str
) -> None:
    reply = client.messages.create(model=f"via-{fmt}", max_tokens=100, system="Be brief.", messages=HELLO)

    assert (reply.type, reply.role) == ("message", "assistant")
    assert [(block.type, block.text) for block in reply.content] == [("text", TEXTS[fmt])]
    assert reply.stop_reason == "end_turn"
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == USAGES[fmt]
    sent = upstreams.last(fmt)
    if fmt == "openai":
        assert sent["body"]["messages"] == [{"role": "system", "content": "Be brief."}, *HELLO]
    elif fmt == "gemini":
        assert sent["body"]["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
        assert sent["body"]["contents"] == [{"role": "user", "parts": [{"text": "Hello"}]}]
    else:
        assert reply.usage.cache_read_input_tokens == 6
        assert sent["body"] == {
            "max_tokens": 100,
            "messages": HELLO,
            "model": "claude-ok",
            "system": "Be brief.",
        }
    key_header = {"openai": "authorization", "gemini": "x-goog-api-key", "anthropic": "x-api-key"}[fmt]
    assert sent["headers"][key_header].removeprefix("Bearer ") == UPSTREAM_KEYS[fmt]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_stream_follows_anthropics_event_sequence_whatever_the_upstream(
    client: anthropic.Anthropic, fmt: str
) -> None:
    events = sse_events(client, model=f"via-{fmt}", max_tokens=100, messages=HELLO)

    names = [name for name, _ in events]
    assert_well_formed(events)
    assert shape(names) == [
        "message_start", "content_block_start", "ping", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop",
    ]  # fmt: skip
    assert all(data["type"] == name for name, data in events)
    start = events[0][1]["message"]
    assert (start["role"], start["content"], start["stop_reason"]) == ("assistant", [], None)
    assert events[1][1] == {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    deltas = [data["delta"] for name, data in events if name == "content_block_delta"]
    assert {delta["type"] for delta in deltas} == {"text_delta"}
    assert "".join(delta["text"] for delta in deltas) == TEXTS[fmt]
    closing = events[-2][1]
    assert closing["delta"]["stop_reason"] == "end_turn"
    assert closing["usage"]["output_tokens"] == USAGES[fmt][1]
    # An OpenAI stream tells its usage at the end: the input tokens may come with message_delta only.
    assert closing["usage"].get("input_tokens", start["usage"]["input_tokens"]) == USAGES[fmt][0]

    with client.messages.stream(model=f"via-{fmt}", max_tokens=100, messages=HELLO) as stream:
        final = stream.get_final_message()
    assert final.content[0].text == TEXTS[fmt]
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == USAGES[fmt]


# Tools, images.


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_streamed_tool_round_trip_reaches_each_upstream_in_its_own_format(
    client: anthropic.Anthropic, upstreams: Upstreams, fmt: str
) -> None:
    model = f"weather-via-{fmt}"
    question = [{"role": "user", "content": "What is the weather in Paris?"}]
    events = sse_events(client, model=model, max_tokens=200, tools=[WEATHER_TOOL], messages=question)

    assert_well_formed(events)
    (start,) = [data for name, data in events if name == "content_block_start"]
    block = start["content_block"]
    assert (block["type"], block["name"], block["input"]) == ("tool_use", "get_weather", {})
    deltas = [data["delta"] for name, data in events if name == "content_block_delta"]
    assert {delta["type"] for delta in deltas} == {"input_json_delta"}
    # The arguments arrive in fragments as the upstream streamed them (Gemini sends a call whole).
    assert len(deltas) > 1 or fmt == "gemini"
    arguments = json.loads("".join(delta["partial_json"] for delta in deltas))
    assert arguments == session.WEATHER["input"]
    assert [data["delta"]["stop_reason"] for name, data in events if name == "message_delta"] == ["tool_use"]

    call = {"type": "tool_use", "id": block["id"], "name": "get_weather", "input": arguments}
    result = {"type": "tool_result", "tool_use_id": block["id"], "content": "15 degrees, sunny"}
    conversation = [
        *question,
        {"role": "assistant", "content": [call]},
        {"role": "user", "content": [result]},
    ]
    with client.messages.stream(
        model=model, max_tokens=200, tools=[WEATHER_TOOL], messages=conversation
    ) as stream:
        final = stream.get_final_message()

    assert [(b.type, b.text) for b in final.content] == [("text", session.WEATHER_TEXT)]
    assert final.stop_reason == "end_turn"
    sent = upstreams.last(fmt)["body"]
    if fmt == "openai":
        function = {"name": "get_weather", "description": WEATHER_TOOL["description"],
                    "parameters": WEATHER_TOOL["input_schema"]}  # fmt: skip
        assert sent["tools"] == [{"type": "function", "function": function}]
        asked, answered, told = sent["messages"]
        assert asked == question[0]
        (sent_call,) = answered["tool_calls"]
        assert (sent_call["id"], sent_call["function"]["name"]) == (block["id"], "get_weather")
        assert json.loads(sent_call["function"]["arguments"]) == arguments
        assert told == {"role": "tool", "tool_call_id": block["id"], "content": "15 degrees, sunny"}
    elif fmt == "gemini":
        assert [d["name"] for t in sent["tools"] for d in t["functionDeclarations"]] == ["get_weather"]
        asked, answered, told = sent["contents"]
        assert [c["role"] for c in sent["contents"]] == ["user", "model", "user"]
        assert answered["parts"] == [
            {"functionCall": {"name": "get_weather", "args": arguments}, "thoughtSignature": SIGNATURE}
        ]
        assert told["parts"] == [
            {"functionResponse": {"name": "get_weather", "response": {"output": "15 degrees, sunny"}}}
        ]
    else:
        assert sent == {"model": "claude-tools", "max_tokens": 200, "tools": [WEATHER_TOOL],
                        "messages": conversation, "stream": True}  # fmt: skip


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_image_reaches_each_upstream_in_its_own_format(
    client: anthropic.Anthropic, upstreams: Upstreams, fmt: str
) -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    content = [image, {"type": "text", "text": "What is in this picture?"}]

    reply = client.messages.create(
        model=f"via-{fmt}", max_tokens=50, messages=[{"role": "user", "content": content}]
    )

    assert reply.content[0].text == TEXTS[fmt]
    sent = upstreams.last(fmt)["body"]
    if fmt == "openai":
        (message,) = sent["messages"]
        assert message["content"] == [
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            {"type": "text", "text": "What is in this picture?"},
        ]
    elif fmt == "gemini":
        assert sent["contents"] == [
            {"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": PNG}},
                                       {"text": "What is in this picture?"}]}
        ]  # fmt: skip
    else:
        assert sent["messages"] == [{"role": "user", "content": content}]


# Native pass-through to an Anthropic deployment.


def test_an_anthropic_deployment_gets_the_request_as_sent_and_its_reply_comes_back_as_received(
    client: anthropic.Anthropic, upstreams: Upstreams
) -> None:
    cached = {"type": "ephemeral", "ttl": "1h"}
    body = {
        "max_tokens": 300,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Hello", "cache_control": cached}]}
        ],
        "system": [{"type": "text", "text": "You are terse.", "cache_control": cached}],
        "tools": [{**WEATHER_TOOL, "cache_control": {"type": "ephemeral"}},
                  {"type": "web_search_20250305", "name": "web_search", "max_uses": 2}],
        "metadata": {"user_id": "user-42"},
    }  # fmt: skip
    # top_k, which this client version no longer takes as an argument, and a field the gateway does not model.
    unmodelled = {
        "top_k": 5,
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
    }
    betas = "prompt-caching-scope-2026-01-05,context-management-2025-06-27"

    raw = client.messages.with_raw_response.create(
        model="via-anthropic",
        **copy.deepcopy(body),
        extra_headers={"anthropic-beta": betas},
        extra_body=unmodelled,
    )

    sent = upstreams.last("anthropic")
    assert sent["body"] == {**body, **unmodelled, "model": "claude-ok"}
    assert sent["headers"]["anthropic-beta"] == betas
    assert sent["headers"]["anthropic-version"] == client.default_headers["anthropic-version"]
    assert sent["headers"]["x-api-key"] == "sk-ant-e2e"
    assert MASTER_KEY not in json.dumps(sent["headers"])
    received = raw.http_response.json()
    expected = {
        "id": "msg_01E2EReply", "type": "message", "role": "assistant", "model": "claude-ok",
        "content": [{"type": "text", "text": TEXTS["anthropic"]}],
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 4, "cache_creation_input_tokens": 2, "cache_read_input_tokens": 6,
                  "output_tokens": 5, "service_tier": "standard"},
    }  # fmt: skip
    assert received == expected
    assert raw.headers["x-switchyard-call-id"]


def test_an_anthropic_deployments_stream_comes_back_event_for_event(client: anthropic.Anthropic) -> None:
    events = sse_events(client, model="via-anthropic", max_tokens=100, messages=HELLO)

    assert events == anthropic_upstream.stream_events("claude-ok")


# Thinking.


def test_signed_thinking_from_anthropic_streams_and_goes_back_unchanged_with_the_tool_result(
    client: anthropic.Anthropic, upstreams: Upstreams
) -> None:
    params: dict[str, Any] = {
        "model": "thinking-via-anthropic",
        "max_tokens": 4096,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "tools": [WEATHER_TOOL],
    }
    question = [{"role": "user", "content": "What is the weather in Paris?"}]
    with client.messages.stream(**params, messages=question) as stream:
        deltas = {event.delta.type for event in stream if event.type == "content_block_delta"}
        first = stream.get_final_message()

    assert deltas == {"thinking_delta", "signature_delta", "text_delta", "input_json_delta"}
    assert [block.type for block in first.content] == ["thinking", "text", "tool_use"]
    assert first.content[0].signature == anthropic_upstream.SIGNATURE
    assert first.content[0].thinking == "".join(anthropic_upstream.THINKING)
    call = first.content[2]
    result = {"type": "tool_result", "tool_use_id": call.id, "content": "15 degrees"}
    conversation = [
        *question,
        {"role": "assistant", "content": as_params(first.content)},
        {"role": "user", "content": [result]},
    ]

    with client.messages.stream(**params, messages=conversation) as stream:
        second = stream.get_final_message()

    # The fake refuses an assistant tool turn that does not start with its signed thinking block.
    assert [block.type for block in second.content] == ["thinking", "text"]
    assert second.content[1].text == "".join(anthropic_upstream.ANSWER)
    sent = upstreams.last("anthropic")["body"]
    assert sent == {**params, "model": "claude-thinking-tools", "messages": conversation, "stream": True}
    assert sent["messages"][1]["content"][0] == {
        "type": "thinking",
        "thinking": "".join(anthropic_upstream.THINKING),
        "signature": anthropic_upstream.SIGNATURE,
    }


def test_redacted_thinking_from_anthropic_comes_back_whole_and_goes_back_as_it_came(
    client: anthropic.Anthropic, upstreams: Upstreams
) -> None:
    thinking = {"type": "enabled", "budget_tokens": 1024}
    reply = client.messages.create(
        model="redacted-via-anthropic", max_tokens=2048, thinking=thinking, messages=HELLO
    )

    assert [block.type for block in reply.content] == ["thinking", "redacted_thinking", "text"]
    assert reply.content[1].data == anthropic_upstream.REDACTED
    conversation = [
        *HELLO,
        {"role": "assistant", "content": as_params(reply.content)},
        {"role": "user", "content": "And tomorrow?"},
    ]

    client.messages.create(
        model="redacted-via-anthropic", max_tokens=2048, thinking=thinking, messages=conversation
    )

    sent = upstreams.last("anthropic")["body"]
    assert sent["messages"] == conversation
    assert sent["messages"][1]["content"][1] == {
        "type": "redacted_thinking",
        "data": anthropic_upstream.REDACTED,
    }


@pytest.mark.parametrize(
    ("fmt", "budget", "field", "setting"),
    [
        # OpenAI's reasoning models take an effort: under 4K tokens low, under 16K medium, more high.
        ("openai", 10000, "reasoning_effort", "medium"),
        # Gemini 2.5 takes the budget itself.
        ("gemini", 2048, "generationConfig",
         {"maxOutputTokens": 16000, "thinkingConfig": {"thinkingBudget": 2048, "includeThoughts": True}}),
    ],
)  # fmt: skip
def test_a_thinking_budget_reaches_other_upstreams_as_their_own_setting(
    client: anthropic.Anthropic, upstreams: Upstreams, fmt: str, budget: int, field: str, setting: object
) -> None:
    thinking = {"type": "enabled", "budget_tokens": budget}

    reply = client.messages.create(
        model=f"thinking-via-{fmt}", max_tokens=16000, thinking=thinking, messages=HELLO
    )

    assert reply.content[-1].text == TEXTS[fmt]
    sent = upstreams.last(fmt)["body"]
    assert sent[field] == setting
    assert "thinking" not in sent


def test_a_thinking_budget_for_a_model_that_cannot_think_is_a_bad_request_naming_it(
    client: anthropic.Anthropic,
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(
            model="via-openai",
            max_tokens=100,
            thinking={"type": "enabled", "budget_tokens": 2048},
            messages=HELLO,
        )

    error = anthropic_error(caught.value.response)
    assert error["type"] == "invalid_request_error"
    assert "thinking" in error["message"]


# Counting tokens.


def test_counting_tokens_asks_an_anthropic_deployment_and_counts_locally_for_others(
    client: anthropic.Anthropic, upstreams: Upstreams
) -> None:
    params = {"messages": HELLO, "system": "Be brief.", "tools": [WEATHER_TOOL]}

    counted_upstream = client.messages.count_tokens(model="via-anthropic", **params)
    counted_locally = {
        fmt: client.messages.count_tokens(model=f"via-{fmt}", **params) for fmt in ("openai", "gemini")
    }

    sent = upstreams.anthropic.requests[-1]
    assert sent["path"] == "/v1/messages/count_tokens"
    assert sent["body"] == {**params, "model": "claude-ok"}
    assert counted_upstream.input_tokens == anthropic_upstream.counted(sent["body"])
    assert all(count.input_tokens > 0 for count in counted_locally.values())


# Errors, in Anthropic's shape.


def test_a_call_without_a_key_is_refused_in_anthropics_shape(gateway: str) -> None:
    answer = httpx.post(
        f"{gateway}/v1/messages", json={"model": "via-openai", "max_tokens": 5, "messages": HELLO}
    )

    assert answer.status_code == 401
    assert anthropic_error(answer)["type"] == "authentication_error"


@pytest.mark.parametrize("header", ["x-api-key", "authorization"])
def test_a_wrong_key_is_an_authentication_error(gateway: str, header: str) -> None:
    with pytest.raises(anthropic.AuthenticationError) as caught:
        client_of(gateway, "sk-not-a-key", header=header).messages.create(
            model="via-openai", max_tokens=5, messages=HELLO
        )

    assert caught.value.status_code == 401
    assert anthropic_error(caught.value.response)["type"] == "authentication_error"


def test_an_unknown_model_is_a_not_found_error(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.create(model="no-such-model", max_tokens=5, messages=HELLO)

    assert caught.value.status_code == 404
    error = anthropic_error(caught.value.response)
    assert error["type"] == "not_found_error"
    assert "no-such-model" in error["message"]


def test_a_request_without_max_tokens_is_a_bad_request_naming_the_field(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.post("/v1/messages", body={"model": "via-openai", "messages": HELLO}, cast_to=object)

    assert caught.value.status_code == 400
    error = anthropic_error(caught.value.response)
    assert error["type"] == "invalid_request_error"
    assert "max_tokens" in error["message"]


@pytest.mark.parametrize(("fmt", "retry_after"), [("openai", "3"), ("gemini", "3"), ("anthropic", "4")])
def test_an_upstream_rate_limit_is_a_rate_limit_error_with_its_retry_after(
    client: anthropic.Anthropic, fmt: str, retry_after: str
) -> None:
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model=f"limited-via-{fmt}", max_tokens=5, messages=HELLO)

    assert caught.value.status_code == 429
    assert anthropic_error(caught.value.response)["type"] == "rate_limit_error"
    assert caught.value.response.headers["retry-after"] == retry_after


def test_an_overloaded_anthropic_stays_a_529_overloaded_error(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.OverloadedError) as caught:
        client.messages.create(model="overloaded-via-anthropic", max_tokens=5, messages=HELLO)

    assert caught.value.status_code == 529
    assert anthropic_error(caught.value.response)["type"] == "overloaded_error"


def test_an_upstream_failing_mid_stream_ends_the_stream_with_an_error_event(
    client: anthropic.Anthropic,
) -> None:
    events = sse_events(client, model="broken-via-openai", max_tokens=50, messages=HELLO)

    text = "".join(data["delta"].get("text", "") for name, data in events if name == "content_block_delta")
    assert text == "Hello from"
    name, data = events[-1]
    assert name == "error"
    assert data["type"] == "error"
    assert data["error"]["type"] == "api_error"
    assert "message_stop" not in [name for name, _ in events]

    with pytest.raises(anthropic.APIStatusError) as caught:
        list(client.messages.create(model="broken-via-openai", max_tokens=50, messages=HELLO, stream=True))
    assert caught.value.type == "api_error"


# Keys.


@pytest.fixture(scope="module")
def virtual_key(gateway: str) -> str:
    """A key that may use via-openai only."""
    answer = httpx.post(
        f"{gateway}/key/generate",
        json={"models": ["via-openai"]},
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["key"]


@pytest.mark.parametrize("header", ["x-api-key", "authorization"])
@pytest.mark.parametrize("kind", ["master", "virtual"])
def test_both_anthropic_and_bearer_key_headers_are_accepted(
    gateway: str, virtual_key: str, header: str, kind: str
) -> None:
    key = MASTER_KEY if kind == "master" else virtual_key
    reply = client_of(gateway, key, header=header).messages.create(
        model="via-openai", max_tokens=5, messages=HELLO
    )

    assert reply.content[0].text == TEXTS["openai"]


def test_a_key_limited_to_some_models_may_not_use_another(gateway: str, virtual_key: str) -> None:
    limited = client_of(gateway, virtual_key, header="x-api-key")

    with pytest.raises(anthropic.PermissionDeniedError) as caught:
        limited.messages.create(model="via-gemini", max_tokens=5, messages=HELLO)
    with pytest.raises(anthropic.PermissionDeniedError) as counting:
        limited.messages.count_tokens(model="via-gemini", messages=HELLO)

    for refusal in (caught.value, counting.value):
        assert refusal.status_code == 403
        error = anthropic_error(refusal.response)
        assert error["type"] == "permission_error"
        assert "via-gemini" in error["message"]


def test_a_keys_rate_limit_holds_for_an_anthropic_deployment_too(gateway: str) -> None:
    answer = httpx.post(
        f"{gateway}/key/generate",
        json={"rpm_limit": 1},
        headers={"Authorization": f"Bearer {MASTER_KEY}"},
        timeout=10,
    )
    limited = client_of(gateway, answer.json()["key"], header="x-api-key")
    clear_of_a_minute_boundary()

    raw = limited.messages.with_raw_response.create(model="via-anthropic", max_tokens=5, messages=HELLO)
    with pytest.raises(anthropic.RateLimitError) as caught:
        limited.messages.create(model="via-anthropic", max_tokens=5, messages=HELLO)

    assert raw.headers["x-ratelimit-remaining-requests"] == "0"
    assert anthropic_error(caught.value.response)["type"] == "rate_limit_error"
    assert int(caught.value.response.headers["retry-after"]) >= 1


# A Claude Code session.


def claude_code_client(url: str) -> anthropic.Anthropic:
    """A client sending what Claude Code sends besides the body: its key as x-api-key, its headers."""
    headers = {**session.HEADERS, "x-api-key": MASTER_KEY, "Authorization": anthropic.omit}
    return anthropic.Anthropic(base_url=url, api_key=None, default_headers=headers, max_retries=0, timeout=10)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_claude_code_session_reads_edits_and_answers_through_any_upstream(
    gateway: str, upstreams: Upstreams, fmt: str
) -> None:
    client = claude_code_client(gateway)
    body = session.first_request(f"coder-via-{fmt}")
    replies = []
    for _ in session.SESSION_TURNS:
        # This client version takes temperature only as an extra field; the body is the same.
        params = {key: value for key, value in body.items() if key not in ("stream", "temperature")}
        extra = {"temperature": body["temperature"]}
        with client.messages.stream(**params, extra_body=extra, extra_query=session.QUERY) as stream:
            assert_well_formed(
                [(event.type, event.model_dump()) for event in stream if event.type in RAW_EVENTS]
            )
            reply = stream.get_final_message()
        replies.append(reply)
        sent = upstreams.last(fmt)
        if fmt == "anthropic":
            assert sent["body"] == {**body, "model": "claude-coder"}
            assert sent["headers"]["anthropic-beta"] == session.BETAS
        if reply.stop_reason == "tool_use":
            body = session.next_request(body, as_params(reply.content))

    # Claude Code counts a conversation's tokens too (with the session's betas).
    counted = client.messages.count_tokens(
        model=body["model"], system=body["system"], tools=body["tools"], messages=body["messages"],
        extra_query=session.QUERY,
    )  # fmt: skip
    assert counted.input_tokens > 0
    if fmt == "anthropic":
        assert upstreams.last(fmt)["headers"]["anthropic-beta"] == session.BETAS
        assert counted.input_tokens == anthropic_upstream.counted(upstreams.last(fmt)["body"])
    calls = [[(b.name, b.input) for b in reply.content if b.type == "tool_use"] for reply in replies]
    assert calls == [[("Read", session.READ["input"])], [("Edit", session.EDIT["input"])], []]
    assert [reply.stop_reason for reply in replies] == ["tool_use", "tool_use", "end_turn"]
    assert [b.type for b in replies[0].content] == ["text", "tool_use"]
    assert replies[0].content[0].text == session.SESSION_TURNS[0]["text"]
    assert [(b.type, b.text) for b in replies[2].content] == [("text", session.FINAL_TEXT)]
    sent = getattr(upstreams, fmt).requests[-2 if fmt == "anthropic" else -1]["body"]
    names = [tool["name"] for tool in session.TOOLS]
    if fmt == "openai":
        assert [tool["function"]["name"] for tool in sent["tools"]] == names
        system = [{"type": "text", "text": block["text"]} for block in session.SYSTEM]
        assert sent["messages"][0] == {"role": "system", "content": system}
        roles = [m["role"] for m in sent["messages"]]
        assert roles == ["system", "user", "assistant", "tool", "assistant", "tool"]
        first, second = (m for m in sent["messages"] if m["role"] == "assistant")
        assert first["content"] == session.SESSION_TURNS[0]["text"]
        read, edit = first["tool_calls"][0], second["tool_calls"][0]
        assert json.loads(read["function"]["arguments"]) == session.READ["input"]
        assert json.loads(edit["function"]["arguments"]) == session.EDIT["input"]
        told = {"role": "tool", "content": session.TOOL_OUTPUTS["Edit"], "tool_call_id": edit["id"]}
        assert sent["messages"][-1] == told
        assert sent["user"] == session.METADATA["user_id"]
    elif fmt == "gemini":
        assert [d["name"] for t in sent["tools"] for d in t["functionDeclarations"]] == names
        assert [c["role"] for c in sent["contents"]] == ["user", "model", "user", "model", "user"]

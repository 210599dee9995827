"""The OpenAI Agents SDK (`agents`) running an Agent with a function tool through the real server's
/v1/responses, with `Runner.run` and `Runner.run_streamed`, in front of fake OpenAI chat-completions and
Anthropic upstreams playing the scripted weather model; and with `auto_previous_response_id`, where the
gateway's stored responses carry the conversation the SDK leaves out."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.e2e import agents_session as agents
from tests.e2e import claude_code_session as session
from tests.e2e.anthropic_upstream import FakeAnthropic
from tests.e2e.conftest import MASTER_KEY, running_gateway
from tests.e2e.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

FORMATS = ["openai", "anthropic"]
UPSTREAM_MODELS = {"openai": "weather", "anthropic": "claude-weather"}
"""The fakes' scripted weather model: a get_weather call, then WEATHER_TEXT."""
UPSTREAM_KEYS = {"openai": "sk-upstream", "anthropic": "sk-ant-e2e"}
CHAT_ONLY = {"supported_endpoints": ["/v1/chat/completions"]}
"""An `openai/` deployment's model_info that sends it chat completions, not the Responses API."""
CALL = session.WEATHER
TOOL_OUTPUT = "It is 15 degrees in Paris."
"""What the agent's get_weather returns for the scripted call."""


@dataclass
class Upstreams:
    openai: FakeUpstream
    anthropic: FakeAnthropic

    def last(self, fmt: str) -> dict[str, Any]:
        return getattr(self, fmt).requests[-1]["body"]


@dataclass
class Recording:
    """A client of the gateway, and the bodies of the requests the SDK sent through it."""

    client: openai.AsyncOpenAI
    sent: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    with FakeUpstream() as openai_fake, FakeAnthropic() as anthropic_fake:
        yield Upstreams(openai_fake, anthropic_fake)


@pytest.fixture(scope="module")
def gateway(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model_list = []
    for fmt in FORMATS:
        params = {
            "model": f"{fmt}/{UPSTREAM_MODELS[fmt]}",
            "api_base": getattr(upstreams, fmt).base_url,
            "api_key": UPSTREAM_KEYS[fmt],
        }
        entry: dict[str, Any] = {"model_name": f"weather-via-{fmt}", "litellm_params": params}
        if fmt == "openai":
            entry["model_info"] = CHAT_ONLY
        model_list.append(entry)
    config = {
        "model_list": model_list,
        "general_settings": {"master_key": MASTER_KEY},
        "router_settings": {"num_retries": 0, "allowed_fails": 1000},
    }
    with running_gateway(config, Path(tmp_path_factory.mktemp("e2e-agents"))) as url:
        yield url


@pytest.fixture(scope="module")
def virtual_key(gateway: str) -> str:
    answer = httpx.post(
        f"{gateway}/key/generate", json={}, headers={"Authorization": f"Bearer {MASTER_KEY}"}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["key"]


@pytest.fixture
async def recording(gateway: str, virtual_key: str) -> AsyncIterator[Recording]:
    """The SDK's client: a virtual key, no retries, and every request body kept."""
    sent: list[dict[str, Any]] = []

    async def keep(request: httpx.Request) -> None:
        sent.append(json.loads(request.content))

    http = httpx.AsyncClient(event_hooks={"request": [keep]})
    client = openai.AsyncOpenAI(
        base_url=f"{gateway}/v1", api_key=virtual_key, max_retries=0, timeout=10, http_client=http
    )
    yield Recording(client, sent)
    await client.close()


def history(fmt: str, body: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The conversation an upstream received, whatever its format: ("user", text), ("call", id, name,
    arguments) and ("result", id, output) in order (the system prompt left out)."""
    turns: list[tuple[Any, ...]] = []
    if fmt == "openai":
        for message in body["messages"]:
            if message["role"] == "user":
                turns.append(("user", message["content"]))
            for call in message.get("tool_calls") or []:
                function = call["function"]
                turns.append(("call", call["id"], function["name"], json.loads(function["arguments"])))
            if message["role"] == "tool":
                turns.append(("result", message["tool_call_id"], message["content"]))
        return turns
    for message in body["messages"]:
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for block in blocks:
            if block["type"] == "text" and message["role"] == "user":
                turns.append(("user", block["text"]))
            elif block["type"] == "tool_use":
                turns.append(("call", block["id"], block["name"], block["input"]))
            elif block["type"] == "tool_result":
                turns.append(("result", block["tool_use_id"], block["content"]))
    return turns


def call_id(fmt: str) -> str:
    """The id the fake upstream of format `fmt` gives the scripted call (OpenAI's writes call_...)."""
    return CALL["id"].replace("toolu_", "call_") if fmt == "openai" else CALL["id"]


def whole_conversation(fmt: str) -> list[tuple[Any, ...]]:
    return [
        ("user", agents.PROMPT),
        ("call", call_id(fmt), CALL["name"], CALL["input"]),
        ("result", call_id(fmt), TOOL_OUTPUT),
    ]


def assert_instructed(fmt: str, body: dict[str, Any]) -> None:
    """The agent's instructions reached the upstream as its system prompt."""
    if fmt == "openai":
        assert body["messages"][0] == {"role": "system", "content": agents.INSTRUCTIONS}
    else:
        assert body["system"] == agents.INSTRUCTIONS


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_streamed"])
@pytest.mark.parametrize("fmt", FORMATS)
async def test_an_agent_calls_its_tool_and_answers_with_the_models_text_whatever_the_upstream(
    recording: Recording, upstreams: Upstreams, fmt: str, streamed: bool
) -> None:
    result = await agents.run_agent(recording.client, f"weather-via-{fmt}", streamed=streamed)

    assert result.final_output == session.WEATHER_TEXT
    calls = [item.raw_item for item in result.new_items if item.type == "tool_call_item"]
    assert [(call.name, json.loads(call.arguments), call.call_id) for call in calls] == [
        (CALL["name"], CALL["input"], call_id(fmt))
    ]
    outputs = [item.output for item in result.new_items if item.type == "tool_call_output_item"]
    assert outputs == [TOOL_OUTPUT]
    # The SDK sent the whole conversation again with the tool's output.
    _, second = recording.sent
    assert [body.get("stream", False) for body in recording.sent] == [streamed, streamed]
    assert [item.get("type") for item in second["input"]] == [None, "function_call", "function_call_output"]
    assert second["input"][-1] == {
        "call_id": call_id(fmt),
        "output": TOOL_OUTPUT,
        "type": "function_call_output",
    }
    # The upstream got it in its own format, the result tied to its own call.
    answered = upstreams.last(fmt)
    assert history(fmt, answered) == whole_conversation(fmt)
    assert_instructed(fmt, answered)


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_streamed"])
@pytest.mark.parametrize("fmt", FORMATS)
async def test_with_auto_previous_response_id_the_gateway_supplies_the_history_the_sdk_leaves_out(
    recording: Recording, upstreams: Upstreams, fmt: str, streamed: bool
) -> None:
    result = await agents.run_agent(
        recording.client, f"weather-via-{fmt}", streamed=streamed, auto_previous_response_id=True
    )

    assert result.final_output == session.WEATHER_TEXT
    outputs = [item.output for item in result.new_items if item.type == "tool_call_output_item"]
    assert outputs == [TOOL_OUTPUT]
    first, second = recording.sent
    assert "previous_response_id" not in first
    assert second["previous_response_id"] == result.raw_responses[0].response_id
    assert second["input"] == [
        {"call_id": call_id(fmt), "output": TOOL_OUTPUT, "type": "function_call_output"}
    ]
    answered = upstreams.last(fmt)
    assert history(fmt, answered) == whole_conversation(fmt)
    assert_instructed(fmt, answered)

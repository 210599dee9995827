"""OpenAI's Responses API (/v1/responses) through the real server, driven by the official `openai` client,
in front of fake upstreams in OpenAI's chat completions, Anthropic's, Gemini's and Bedrock's formats:
replies, streams, tool round trips, custom and hosted tools, errors and the spend record."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.e2e import anthropic_upstream, bedrock_upstream
from tests.e2e import claude_code_session as session
from tests.e2e.anthropic_upstream import FakeAnthropic
from tests.e2e.bedrock_upstream import ACCESS_KEY, SECRET_KEY, FakeBedrock
from tests.e2e.conftest import MASTER_KEY, gateway_client, running_gateway
from tests.e2e.gemini_upstream import SIGNATURE, GeminiUpstream
from tests.e2e.responses_upstream import PATCH, FakeResponses
from tests.e2e.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

FORMATS = ["openai", "anthropic", "gemini", "bedrock"]
CHAT_ONLY = {"supported_endpoints": ["/v1/chat/completions"]}
"""An `openai/` deployment's model_info that sends it chat completions, not the Responses API."""
# The upstream model of each public model name "<scenario>-<format>".
SCENARIOS = {
    "via": {"openai": "ok", "anthropic": "claude-ok", "gemini": "gemini-ok",
            "bedrock": "anthropic.claude-e2e-ok-v1:0"},
    "weather": {"openai": "weather", "anthropic": "claude-tools", "gemini": "gemini-weather",
                "bedrock": "anthropic.claude-e2e-tools-v1:0"},
    "limited": {"openai": "rate-limited"},
    "broken": {"openai": "stream-error"},
}  # fmt: skip
TEXTS = {
    "openai": "Hello from upstream!",
    "anthropic": "Hello from Claude!",
    "gemini": "Hello from Gemini!",
    "bedrock": "Hello from Bedrock!",
}
# (input, output) tokens as each upstream counts them; input tokens include the cached ones.
USAGES = {"openai": (9, 3), "anthropic": (4 + 2 + 6, 5), "gemini": (9, 3), "bedrock": (9 + 2, 3)}
# The upstream's own id of its get_weather call (Gemini gives its calls none).
CALL_IDS = {
    "openai": "call_01E2EWeatherCall",
    "anthropic": "toolu_01E2EWeatherCall",
    "gemini": None,
    "bedrock": "tooluse_E2EWeatherCall",
}
# The answer once the tool's result is in (the fake Bedrock answers its plain text).
WEATHER_TEXTS = {
    "openai": session.WEATHER_TEXT,
    "anthropic": "".join(anthropic_upstream.ANSWER),
    "gemini": session.WEATHER_TEXT,
    "bedrock": TEXTS["bedrock"],
}
QUESTION = "What is the weather in Paris?"
TOOL_OUTPUT = "15 degrees, sunny"
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
APPLY_PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Edits files with a patch.",
    "format": {
        "type": "grammar",
        "syntax": "lark",
        "definition": 'start: "*** Begin Patch" LF body "*** End Patch"\nbody: /(.|\\n)*/\n%import common.LF',
    },
}


class _WeatherBedrockHandler(bedrock_upstream._Handler):
    """The fake Bedrock runtime, whose `e2e-tools` model answers with text once the conversation holds a
    tool result (so a tool round trip ends, as the other fakes' scripted weather does)."""

    def _answered(self) -> bool:
        messages = self.server.requests[-1]["body"].get("messages", [])
        return any("toolResult" in block for message in messages for block in message["content"])

    def _reply(self, content: list[dict], stop: str) -> None:
        if self._answered():
            content, stop = [{"text": TEXTS["bedrock"]}], "end_turn"
        super()._reply(content, stop)

    def _stream(self, model: str) -> None:
        super()._stream(model.replace("e2e-tools", "e2e-ok") if self._answered() else model)


class WeatherBedrock(FakeBedrock):
    handler = _WeatherBedrockHandler


@dataclass
class Upstreams:
    openai: FakeUpstream
    anthropic: FakeAnthropic
    gemini: GeminiUpstream
    bedrock: FakeBedrock
    responses: FakeResponses

    def last(self, fmt: str) -> dict[str, Any]:
        """The last request the upstream of format `fmt` received."""
        return getattr(self, fmt).requests[-1]


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    with (
        FakeUpstream() as openai_fake,
        FakeAnthropic() as anthropic_fake,
        GeminiUpstream() as gemini_fake,
        WeatherBedrock() as bedrock_fake,
        FakeResponses() as responses_fake,
    ):
        yield Upstreams(openai_fake, anthropic_fake, gemini_fake, bedrock_fake, responses_fake)


def deployment(name: str, fmt: str, model: str, upstreams: Upstreams) -> dict[str, Any]:
    base = getattr(upstreams, fmt).base_url
    params: dict[str, Any] = {
        "openai": {"api_key": "sk-upstream"},
        "anthropic": {"api_key": "sk-ant-e2e"},
        "gemini": {"api_key": "AIza-e2e-key"},
        "bedrock": {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY,
                    "aws_region_name": "us-east-1"},
    }[fmt]  # fmt: skip
    entry = {"model_name": name, "litellm_params": {"model": f"{fmt}/{model}", "api_base": base, **params}}
    if fmt == "openai":
        entry["model_info"] = CHAT_ONLY
    return entry


@pytest.fixture(scope="module")
def gateway(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model_list = [
        deployment(f"{scenario}-{fmt}", fmt, model, upstreams)
        for scenario, models in SCENARIOS.items()
        for fmt, model in models.items()
    ]
    patcher = {"model": "openai/patcher", "api_base": upstreams.responses.base_url, "api_key": "sk-upstream"}
    model_list.append({"model_name": "patcher", "litellm_params": patcher, "model_info": CHAT_ONLY})
    config = {
        "model_list": model_list,
        "general_settings": {"master_key": MASTER_KEY},
        # Each test sees the gateway's first answer, and one failure cools no deployment down.
        "router_settings": {"num_retries": 0, "allowed_fails": 1000},
    }
    with running_gateway(config, Path(tmp_path_factory.mktemp("e2e-responses"))) as url:
        yield url


@pytest.fixture
def client(gateway: str) -> openai.OpenAI:
    return gateway_client(gateway)


def raw_stream(client: openai.OpenAI, **params: Any) -> tuple[str, list[dict[str, Any]]]:
    """A `create(stream=True, **params)` call's body as it came over the wire, and its events' data, each
    checked to name its type in its `event:` line."""
    with client.responses.with_streaming_response.create(stream=True, **params) as response:
        text = "".join(response.iter_text())
    events = []
    for frame in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in frame.splitlines() if ": " in line)
        if "data" in fields:
            data = json.loads(fields["data"])
            assert fields.get("event") == data["type"], frame
            events.append(data)
    return text, events


def dumped(items: list[Any]) -> list[dict[str, Any]]:
    return [item.model_dump(exclude_none=True) for item in items]


def eventually(check, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    """`check()`'s first truthy answer within `timeout`, else its last."""
    deadline = time.monotonic() + timeout
    while not (found := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


# Replies and streams.


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_reply_comes_back_as_a_stored_response_whatever_the_upstream(
    client: openai.OpenAI, fmt: str
) -> None:
    created = client.responses.create(model=f"via-{fmt}", input="Hello", instructions="Be brief.")

    assert (created.object, created.status, created.model) == ("response", "completed", f"via-{fmt}")
    assert created.id.startswith("resp_")
    assert created.output_text == TEXTS[fmt]
    assert [(item.type, item.role) for item in created.output] == [("message", "assistant")]
    assert (created.usage.input_tokens, created.usage.output_tokens) == USAGES[fmt]
    assert created.usage.total_tokens == sum(USAGES[fmt])
    assert client.responses.retrieve(created.id) == created


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_stream_is_openais_event_sequence_ending_with_the_stored_response(
    client: openai.OpenAI, fmt: str
) -> None:
    text, events = raw_stream(client, model=f"via-{fmt}", input="Hello")

    assert "[DONE]" not in text
    numbers = [event["sequence_number"] for event in events]
    assert numbers[0] == 0 and all(b > a for a, b in itertools.pairwise(numbers)), numbers
    kinds = [event["type"] for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert {"response.output_text.delta", "response.output_item.done"} <= set(kinds)
    completed = events[-1]["response"]
    done = [event["item"] for event in events if event["type"] == "response.output_item.done"]
    assert all(item in completed["output"] for item in done) and done
    deltas = "".join(event["delta"] for event in events if event["type"] == "response.output_text.delta")
    assert deltas == TEXTS[fmt]
    assert (completed["usage"]["input_tokens"], completed["usage"]["output_tokens"]) == USAGES[fmt]
    assert client.responses.with_raw_response.retrieve(completed["id"]).http_response.json() == completed

    with client.responses.stream(model=f"via-{fmt}", input="Hello") as stream:
        seen = list(stream)
        final = stream.get_final_response()

    assert [event.sequence_number for event in seen] == list(range(len(seen)))
    assert final.status == "completed" and final.output_text == TEXTS[fmt]
    streamed = [event.item for event in seen if event.type == "response.output_item.done"]
    assert dumped(streamed) == dumped(final.output)
    assert dumped([client.responses.retrieve(final.id)]) == dumped([final])


# Tools.


def turn(client: openai.OpenAI, streamed: bool, **params: Any) -> Any:
    """The response to `params`, whole or read with the SDK's stream helper."""
    if not streamed:
        return client.responses.create(**params)
    with client.responses.stream(**params) as stream:
        return stream.get_final_response()


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_function_tool_round_trip_reaches_each_upstream_in_its_own_format(
    client: openai.OpenAI, upstreams: Upstreams, fmt: str, streamed: bool
) -> None:
    model = f"weather-{fmt}"
    first = turn(client, streamed, model=model, input=QUESTION, tools=[WEATHER_TOOL])

    (call,) = [item for item in first.output if item.type == "function_call"]
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Paris"})
    assert call.call_id == CALL_IDS[fmt] or (CALL_IDS[fmt] is None and call.call_id)
    result = {"type": "function_call_output", "call_id": call.call_id, "output": TOOL_OUTPUT}
    final = turn(
        client, streamed, model=model, previous_response_id=first.id, input=[result], tools=[WEATHER_TOOL]
    )

    assert final.output_text == WEATHER_TEXTS[fmt]
    assert final.previous_response_id == first.id
    sent = upstreams.last(fmt)["body"]
    if fmt == "openai":
        function = {name: WEATHER_TOOL[name] for name in ("name", "description", "parameters")}
        assert sent["tools"] == [{"type": "function", "function": function}]
        asked, answered, told = sent["messages"]
        assert asked == {"role": "user", "content": QUESTION}
        (sent_call,) = answered["tool_calls"]
        assert (answered["role"], sent_call["id"], sent_call["function"]["name"]) == (
            "assistant", call.call_id, "get_weather",
        )  # fmt: skip
        assert json.loads(sent_call["function"]["arguments"]) == {"city": "Paris"}
        assert told == {"role": "tool", "tool_call_id": call.call_id, "content": TOOL_OUTPUT}
    elif fmt == "anthropic":
        assert sent["messages"] == [
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": call.call_id, "name": "get_weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": call.call_id, "content": TOOL_OUTPUT}]},
        ]  # fmt: skip
    elif fmt == "gemini":
        assert [c["role"] for c in sent["contents"]] == ["user", "model", "user"]
        asked, answered, told = sent["contents"]
        assert asked["parts"] == [{"text": QUESTION}]
        # The call goes back with the thought signature Gemini gave it.
        function_call = {"name": "get_weather", "args": {"city": "Paris"}}
        assert answered["parts"] == [{"functionCall": function_call, "thoughtSignature": SIGNATURE}]
        assert told["parts"] == [
            {"functionResponse": {"name": "get_weather", "response": {"output": TOOL_OUTPUT}}}
        ]
    else:
        assert sent["messages"] == [
            {"role": "user", "content": [{"text": QUESTION}]},
            {"role": "assistant", "content": [
                {"toolUse": {"toolUseId": call.call_id, "name": "get_weather", "input": {"city": "Paris"}}}]},
            {"role": "user", "content": [
                {"toolResult": {"toolUseId": call.call_id, "content": [{"text": TOOL_OUTPUT}]}}]},
        ]  # fmt: skip


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_a_custom_tool_reaches_a_chat_upstream_as_a_function_of_one_string_and_comes_back_as_a_custom_call(
    client: openai.OpenAI, upstreams: Upstreams, streamed: bool
) -> None:
    reply = turn(client, streamed, model="patcher", input="Greet by name.", tools=[APPLY_PATCH])

    (call,) = reply.output
    assert (call.type, call.name, call.call_id) == ("custom_tool_call", "apply_patch", "call_e2ePatch")
    assert call.input == PATCH
    (function,) = upstreams.last("responses")["body"]["tools"]
    assert function["type"] == "function" and function["function"]["name"] == "apply_patch"
    parameters = function["function"]["parameters"]
    assert parameters["required"] == ["input"] and list(parameters["properties"]) == ["input"]
    assert parameters["properties"]["input"]["type"] == "string"
    # The grammar the input must match is told to the model.
    assert APPLY_PATCH["format"]["definition"] in function["function"]["description"]


def test_a_hosted_tool_is_left_out_of_a_translated_call_and_named_in_the_dropped_params_header(
    client: openai.OpenAI, upstreams: Upstreams
) -> None:
    raw = client.responses.with_raw_response.create(
        model="via-openai", input="Hello", tools=[{"type": "web_search"}, WEATHER_TOOL]
    )

    assert raw.parse().output_text == TEXTS["openai"]
    assert "tools.web_search" in raw.headers["x-switchyard-dropped-params"].split(",")
    sent = upstreams.last("openai")["body"]
    assert [tool["function"]["name"] for tool in sent["tools"]] == ["get_weather"]


# Counting.


def test_input_tokens_are_counted_by_an_upstream_that_counts_and_estimated_for_others(
    client: openai.OpenAI, upstreams: Upstreams
) -> None:
    counted = client.responses.input_tokens.count(model="via-anthropic", input=QUESTION, instructions="Hi.")
    asked = upstreams.last("anthropic")
    estimated = client.responses.input_tokens.count(model="via-openai", input=QUESTION)
    first = client.responses.create(model="via-openai", input=QUESTION)
    continued = client.responses.input_tokens.count(
        model="via-openai", input="And in Rome?", previous_response_id=first.id
    )
    alone = client.responses.input_tokens.count(model="via-openai", input="And in Rome?")

    assert asked["path"] == "/v1/messages/count_tokens"
    assert asked["body"] == {
        "model": "claude-ok",
        "system": "Hi.",
        "messages": [{"role": "user", "content": QUESTION}],
    }
    assert counted.input_tokens == anthropic_upstream.counted(asked["body"])
    assert estimated.object == "response.input_tokens" and estimated.input_tokens > 0
    # The conversation continued counts too.
    assert continued.input_tokens > alone.input_tokens


# Errors and spend.


def test_an_unknown_model_is_a_404_model_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="no-such-model", input="Hello")

    assert caught.value.code == "model_not_found"


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"input": 42}, "input"),
        ({"input": "Hello", "tools": [{"type": "function", "name": "get weather"}]}, "tools[0].name"),
        ({"input": [{"type": "function_call_output", "output": "15"}]}, "input[0].call_id"),
        ({"input": "Hello", "previous_response_id": "resp_unknown"}, "previous_response_id"),
    ],
    ids=["input", "tool-name", "call-id", "previous-response"],
)
def test_a_bad_request_is_refused_naming_the_parameter(
    client: openai.OpenAI, params: dict[str, Any], param: str
) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client.responses.create(model="via-openai", **params)

    assert caught.value.status_code == (404 if param == "previous_response_id" else 400)
    assert caught.value.param == param


def test_an_upstream_rate_limit_is_a_429(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        client.responses.create(model="limited-openai", input="Hello")

    assert caught.value.status_code == 429


def test_an_upstream_failure_mid_stream_ends_the_stream_with_response_failed(client: openai.OpenAI) -> None:
    with client.responses.stream(model="broken-openai", input="Hello") as stream:
        events = list(stream)
        with pytest.raises(RuntimeError, match=r"response\.completed"):
            stream.get_final_response()

    failed = events[-1]
    assert failed.type == "response.failed"
    assert failed.response.status == "failed"
    assert failed.response.error.code == "server_error"
    assert "error while processing" in failed.response.error.message
    deltas = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert deltas == "Hello from"
    # What failed is kept as it ended.
    assert client.responses.retrieve(failed.response.id).status == "failed"


def test_a_response_is_recorded_in_the_spend_logs_as_a_responses_call(
    client: openai.OpenAI, gateway: str
) -> None:
    raw = client.responses.with_raw_response.create(model="via-openai", input="Hello")
    call_id = raw.headers["x-switchyard-call-id"]

    def logged() -> list[dict[str, Any]]:
        answer = httpx.get(
            f"{gateway}/spend/logs",
            params={"request_id": call_id},
            headers={"Authorization": f"Bearer {MASTER_KEY}"},
            timeout=10,
        )
        return answer.json() if answer.status_code == 200 else []

    (log,) = eventually(logged)
    assert log["call_type"] == "responses"
    assert (log["prompt_tokens"], log["completion_tokens"]) == USAGES["openai"]
    assert (log["model_group"], log["model"], log["status"]) == ("via-openai", "ok", "success")

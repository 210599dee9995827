"""Claude on Vertex AI and through Bedrock's InvokeModel, behind the real server: the `anthropic` client's
/v1/messages passed through natively (thinking, signatures, betas, streams byte for byte), the `openai`
client's chat mapped; and the fakes held to the official AnthropicVertex / AnthropicBedrock clients, which
must send them what the gateway sends."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from tests.e2e import anthropic_upstream as claude
from tests.e2e import bedrock_upstream
from tests.e2e.claude_hosts_upstream import (
    ACCESS_TOKEN,
    LLAMA_TEXT,
    FakeBedrockClaude,
    FakeVertexClaude,
    bedrock_events,
    sse,
)
from tests.e2e.conftest import MASTER_KEY, MESSAGES, gateway_client, running_gateway

pytestmark = pytest.mark.e2e

HOSTS = ["vertex", "bedrock"]
SCENARIOS = ["claude-ok", "claude-thinking", "claude-thinking-tools"]
HELLO = [{"role": "user", "content": "Hello"}]
THINKING = {"type": "enabled", "budget_tokens": 2048}
BETAS = ["interleaved-thinking-2025-05-14", "context-1m-2025-08-07"]
VERTEX_PROJECT, VERTEX_LOCATION = "e2e-project", "us-east5"
BEDROCK_REGION = "us-east-1"
LLAMA = "meta/llama-3.3-70b-instruct-maas"
VERSIONS = {"vertex": "vertex-2023-10-16", "bedrock": "bedrock-2023-05-31"}


def vertex_model(scenario: str) -> str:
    return f"{scenario}@20250929"


def bedrock_model(scenario: str) -> str:
    return f"us.anthropic.{scenario}-v1:0"


@pytest.fixture(scope="module")
def vertex() -> Iterator[FakeVertexClaude]:
    with FakeVertexClaude() as server:
        yield server


@pytest.fixture(scope="module")
def bedrock() -> Iterator[FakeBedrockClaude]:
    with FakeBedrockClaude() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(
    vertex: FakeVertexClaude, bedrock: FakeBedrockClaude, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    on_vertex = {
        "api_base": vertex.root, "vertex_project": VERTEX_PROJECT, "vertex_location": VERTEX_LOCATION,
        "vertex_credentials": vertex.credentials(),
    }  # fmt: skip
    on_bedrock = {
        "api_base": bedrock.root, "aws_access_key_id": bedrock_upstream.ACCESS_KEY,
        "aws_secret_access_key": bedrock_upstream.SECRET_KEY, "aws_region_name": BEDROCK_REGION,
    }  # fmt: skip
    model_list = [
        *(
            {
                "model_name": f"vertex-{s}",
                "litellm_params": {"model": f"vertex_ai/{vertex_model(s)}", **on_vertex},
            }
            for s in SCENARIOS
        ),
        *(
            {
                "model_name": f"bedrock-{s}",
                "litellm_params": {"model": f"bedrock/invoke/{bedrock_model(s)}", **on_bedrock},
            }
            for s in SCENARIOS
        ),
    ]
    model_list.append(
        {"model_name": "vertex-llama", "litellm_params": {"model": f"vertex_ai/{LLAMA}", **on_vertex}}
    )
    config = {
        "model_list": model_list,
        "general_settings": {"master_key": MASTER_KEY},
        "router_settings": {"num_retries": 0, "allowed_fails": 1000},
    }
    with running_gateway(config, Path(tmp_path_factory.mktemp("e2e-claude-hosts"))) as url:
        yield url


@pytest.fixture
def client(gateway: str) -> anthropic.Anthropic:
    headers = {"x-api-key": anthropic.omit}
    return anthropic.Anthropic(
        auth_token=MASTER_KEY, base_url=gateway, max_retries=0, timeout=10, default_headers=headers
    )


def official_client(host: str, vertex: FakeVertexClaude, bedrock: FakeBedrockClaude) -> anthropic.Anthropic:
    """The host's own client from the `anthropic` SDK, pointed at its fake (no network, no ambient
    credentials)."""
    if host == "vertex":
        return anthropic.AnthropicVertex(
            region=VERTEX_LOCATION, project_id=VERTEX_PROJECT, access_token=ACCESS_TOKEN,
            base_url=f"{vertex.root}/v1", max_retries=0,
        )  # fmt: skip
    return anthropic.AnthropicBedrock(
        aws_access_key=bedrock_upstream.ACCESS_KEY, aws_secret_key=bedrock_upstream.SECRET_KEY,
        aws_region=BEDROCK_REGION, base_url=bedrock.root, max_retries=0,
    )  # fmt: skip


def upstream_model(host: str, scenario: str) -> str:
    return vertex_model(scenario) if host == "vertex" else bedrock_model(scenario)


def fake_of(
    host: str, vertex: FakeVertexClaude, bedrock: FakeBedrockClaude
) -> FakeVertexClaude | FakeBedrockClaude:
    return vertex if host == "vertex" else bedrock


def last_call(fake: FakeVertexClaude | FakeBedrockClaude) -> dict[str, Any]:
    """The last model call the fake got (not a token request)."""
    return next(r for r in reversed(fake.requests) if r["path"] != "/token")


@pytest.mark.parametrize("host", HOSTS)
def test_the_official_client_and_the_gateway_send_the_host_the_same_call(
    host: str, client: anthropic.Anthropic, vertex: FakeVertexClaude, bedrock: FakeBedrockClaude
) -> None:
    fake = fake_of(host, vertex, bedrock)
    params = {
        "max_tokens": 4096,
        "thinking": THINKING,
        "messages": HELLO,
        "system": "Be brief.",
        "betas": BETAS,
    }

    direct = official_client(host, vertex, bedrock).beta.messages.create(
        model=upstream_model(host, "claude-thinking"), **copy.deepcopy(params)
    )
    by_sdk = last_call(fake)
    through = client.beta.messages.create(model=f"{host}-claude-thinking", **copy.deepcopy(params))
    by_gateway = last_call(fake)

    assert by_gateway["path"] == by_sdk["path"]
    # The SDK's own default version may be newer than the one each host documents, which the gateway sends.
    assert by_gateway["body"].pop("anthropic_version") == VERSIONS[host]
    by_sdk["body"].pop("anthropic_version")
    assert by_gateway["body"] == by_sdk["body"]
    if host == "vertex":
        assert (
            by_gateway["headers"]["anthropic-beta"] == by_sdk["headers"]["anthropic-beta"] == ",".join(BETAS)
        )
    else:
        assert by_gateway["body"]["anthropic_beta"] == BETAS
    assert through.model_dump() == direct.model_dump()
    assert [block.type for block in through.content] == ["thinking", "redacted_thinking", "text"]
    assert through.content[0].signature == claude.SIGNATURE


@pytest.mark.parametrize("host", HOSTS)
def test_the_official_clients_stream_from_the_fake_is_anthropics(
    host: str, vertex: FakeVertexClaude, bedrock: FakeBedrockClaude
) -> None:
    sdk = official_client(host, vertex, bedrock)

    with sdk.messages.stream(
        model=upstream_model(host, "claude-thinking"), max_tokens=4096, thinking=THINKING, messages=HELLO
    ) as stream:
        message = stream.get_final_message()

    assert [block.type for block in message.content] == ["thinking", "redacted_thinking", "text"]
    assert message.content[2].text == "".join(claude.TEXT)


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_a_native_stream_comes_back_byte_for_byte(
    host: str, scenario: str, gateway: str, vertex: FakeVertexClaude, bedrock: FakeBedrockClaude
) -> None:
    body = {
        "model": f"{host}-{scenario}",
        "max_tokens": 4096,
        "thinking": THINKING,
        "messages": HELLO,
        "stream": True,
    }

    with httpx.stream(
        "POST", f"{gateway}/v1/messages", json=body, timeout=10,
        headers={"authorization": f"Bearer {MASTER_KEY}", "anthropic-version": "2023-06-01"},
    ) as answer:  # fmt: skip
        received = answer.read()

    assert answer.status_code == 200
    sent = last_call(fake_of(host, vertex, bedrock))["body"]
    events = claude.stream_events(scenario, sent) if host == "vertex" else bedrock_events(scenario, sent)
    assert received == sse(events)


@pytest.mark.parametrize("host", HOSTS)
def test_signed_thinking_goes_back_unchanged_with_the_tool_result(
    host: str, client: anthropic.Anthropic, vertex: FakeVertexClaude, bedrock: FakeBedrockClaude
) -> None:
    params: dict[str, Any] = {
        "model": f"{host}-claude-thinking-tools",
        "max_tokens": 4096,
        "thinking": THINKING,
    }
    question = [{"role": "user", "content": "What is the weather in Paris?"}]
    with client.messages.stream(**params, messages=question) as stream:
        first = stream.get_final_message()
    call = first.content[2]
    conversation = [
        *question,
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "15 degrees"}],
        },
    ]

    second = client.messages.create(**params, messages=conversation)

    assert second.content[1].text == "".join(claude.ANSWER)
    sent = last_call(fake_of(host, vertex, bedrock))["body"]
    assert sent["messages"][1]["content"][0] == {
        "type": "thinking", "thinking": "".join(claude.THINKING), "signature": claude.SIGNATURE,
    }  # fmt: skip


@pytest.mark.parametrize("host", HOSTS)
def test_an_openai_client_chats_with_claude_on_each_host(host: str, gateway: str) -> None:
    chat = gateway_client(gateway)

    whole = chat.chat.completions.create(model=f"{host}-claude-ok", messages=MESSAGES, max_tokens=100)
    streamed = list(chat.chat.completions.create(model=f"{host}-claude-ok", messages=MESSAGES, stream=True))

    assert whole.choices[0].message.content == "Hello from Claude!"
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == "Hello from Claude!"


def test_an_openai_client_chats_with_a_vertex_partner_model_at_its_openai_endpoint(
    gateway: str, vertex: FakeVertexClaude
) -> None:
    chat = gateway_client(gateway)

    whole = chat.chat.completions.create(model="vertex-llama", messages=MESSAGES)
    streamed = list(chat.chat.completions.create(model="vertex-llama", messages=MESSAGES, stream=True))

    assert whole.choices[0].message.content == "".join(LLAMA_TEXT)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == "".join(LLAMA_TEXT)
    sent = last_call(vertex)
    assert sent["path"] == (
        f"/v1/projects/{VERTEX_PROJECT}/locations/{VERTEX_LOCATION}/endpoints/openapi/chat/completions"
    )
    assert sent["body"]["model"] == LLAMA and sent["body"]["stream"] is True

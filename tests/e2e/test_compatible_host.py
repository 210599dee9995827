"""The real server in front of OpenAI-compatible hosts and Azure OpenAI, driven by the official `openai`
client: each host's quirks from the hosts table reach the wire, what a host refuses is refused (or
dropped), and Azure's deployment routing, api-key and content filter behave as Azure's do."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from adapters.llm.hosts import HOSTS
from tests.contract.harnesses.compatible_hosts import REFUSABLE_SETTINGS
from tests.e2e.compatible_host_upstream import FakeCompatibleHost
from tests.e2e.conftest import USER, WEATHER_TOOL, gateway_serving

pytestmark = pytest.mark.e2e

COMPATIBLE = sorted(name for name, row in HOSTS.items() if row.openai_compatible)
REFUSING = [name for name in COMPATIBLE if HOSTS[name].unsupported]


def _first_refused(host: str) -> tuple[str, dict[str, object]]:
    """A parameter the host's row refuses, and the client's keyword arguments that set it."""
    name = sorted(HOSTS[host].unsupported)[0]
    return name, {name: [WEATHER_TOOL] if name == "tools" else REFUSABLE_SETTINGS[name]}


@pytest.fixture(scope="module")
def host() -> Iterator[FakeCompatibleHost]:
    with FakeCompatibleHost() as server:
        yield server


@pytest.fixture(scope="module")
def client(host: FakeCompatibleHost, tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    v1 = f"{host.root}/v1"

    def entry(name: str, model: str, **params: object) -> dict:
        return {"model_name": name, "litellm_params": {"model": model, **params}}

    azure = {"api_base": host.root, "api_key": "azure-key", "api_version": "2024-10-21"}
    model_list = [
        entry("mistral-small", "mistral/ok", api_base=v1, api_key="mistral-key"),
        entry("groq-fast", "groq/ok", api_base=v1, api_key="groq-key"),
        entry("groq-lenient", "groq/ok", api_base=v1, api_key="groq-key", drop_params=True),
        entry("groq-limited", "groq/rate-limited", api_base=v1, api_key="groq-key"),
        entry("azure-gpt", "azure/ok", **azure),
        entry("azure-tools", "azure/tools", **azure),
        entry("azure-filtered", "azure/filtered", **azure),
        entry("azure-v1", "azure/ok", **(azure | {"api_version": "v1"})),
        *(entry(f"host-{name}", f"{name}/ok", api_base=v1, api_key=f"{name}-key") for name in COMPATIBLE),
        *(
            entry(f"lenient-{name}", f"{name}/ok", api_base=v1, api_key=f"{name}-key", drop_params=True)
            for name in REFUSING
        ),
    ]
    with gateway_serving(model_list, Path(tmp_path_factory.mktemp("e2e-hosts"))) as client:
        yield client


def test_mistral_gets_its_own_names_for_the_seed_and_the_output_cap(
    client: openai.OpenAI, host: FakeCompatibleHost
) -> None:
    reply = client.chat.completions.create(
        model="mistral-small", messages=USER, seed=7, max_completion_tokens=20
    )

    assert reply.choices[0].message.content == "Hello from the host!"
    sent = host.requests[-1]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["authorization"] == "Bearer mistral-key"
    assert (sent["body"]["random_seed"], sent["body"]["max_tokens"]) == (7, 20)
    assert "seed" not in sent["body"] and "max_completion_tokens" not in sent["body"]


def test_what_groq_rejects_is_refused_by_name_without_calling_it(
    client: openai.OpenAI, host: FakeCompatibleHost
) -> None:
    before = len(host.requests)

    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="groq-fast", messages=USER, logprobs=True)

    assert raised.value.code == "unsupported_parameter"
    assert raised.value.param == "logprobs"
    assert len(host.requests) == before


def test_with_drop_params_what_groq_rejects_is_dropped_and_the_call_served(
    client: openai.OpenAI, host: FakeCompatibleHost
) -> None:
    reply = client.chat.completions.create(model="groq-lenient", messages=USER, logprobs=True, n=1)

    assert reply.choices[0].message.content == "Hello from the host!"
    assert "logprobs" not in host.requests[-1]["body"]


@pytest.mark.parametrize("name", COMPATIBLE)
def test_every_compatible_host_gets_the_call_with_its_key_and_its_name_for_the_cap(
    client: openai.OpenAI, host: FakeCompatibleHost, name: str
) -> None:
    reply = client.chat.completions.create(model=f"host-{name}", messages=USER, max_completion_tokens=20)

    assert reply.choices[0].message.content == "Hello from the host!"
    sent = host.requests[-1]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["authorization"] == f"Bearer {name}-key"
    assert sent["body"][HOSTS[name].renamed.get("max_completion_tokens", "max_completion_tokens")] == 20


@pytest.mark.parametrize("name", REFUSING)
def test_what_a_row_refuses_is_refused_by_name_or_dropped_under_drop_params(
    client: openai.OpenAI, host: FakeCompatibleHost, name: str
) -> None:
    parameter, setting = _first_refused(name)
    before = len(host.requests)

    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model=f"host-{name}", messages=USER, **setting)
    client.chat.completions.create(model=f"lenient-{name}", messages=USER, **setting)

    assert (raised.value.code, raised.value.param) == ("unsupported_parameter", parameter)
    assert len(host.requests) == before + 1
    assert parameter not in host.requests[-1]["body"]


def test_a_hosts_429_keeps_its_retry_after(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model="groq-limited", messages=USER)

    assert raised.value.response.headers["retry-after"] == "2"


def test_azure_routes_by_deployment_with_the_api_version_and_the_api_key_header(
    client: openai.OpenAI, host: FakeCompatibleHost
) -> None:
    reply = client.chat.completions.create(model="azure-gpt", messages=USER)

    assert reply.choices[0].message.content == "Hello from the host!"
    sent = host.requests[-1]
    assert sent["path"] == "/openai/deployments/ok/chat/completions"
    assert sent["query"] == {"api-version": "2024-10-21"}
    assert sent["headers"]["api-key"] == "azure-key"
    assert "authorization" not in sent["headers"]


def test_azure_v1_api_goes_to_openai_v1_without_a_dated_version(
    client: openai.OpenAI, host: FakeCompatibleHost
) -> None:
    client.chat.completions.create(model="azure-v1", messages=USER)

    sent = host.requests[-1]
    assert (sent["path"], sent["query"], sent["body"]["model"]) == ("/openai/v1/chat/completions", {}, "ok")


def test_an_azure_stream_drops_the_prompt_filter_prelude_and_spells_the_reply(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="azure-gpt", messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )

    assert chunks[0].choices and chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello from the host!"
    assert chunks[-1].usage.total_tokens == 12


def test_an_azure_streamed_tool_call_assembles_from_its_deltas(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(model="azure-tools", messages=USER, tools=[WEATHER_TOOL], stream=True)
    )

    deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].id == "call_abc123" and deltas[0].function.name == "get_weather"
    assert json.loads("".join(d.function.arguments or "" for d in deltas)) == {"city": "Paris"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_azures_content_filter_is_a_content_policy_violation(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="azure-filtered", messages=USER)

    assert raised.value.code == "content_policy_violation"
    assert "content management policy" in raised.value.message

"""OpenAI-compatible hosts are rows of one table: the OpenAI adapter applies each row's quirks on the wire
and names what the host refuses, and the config loader takes its base URLs and key variables from it."""

from __future__ import annotations

import pytest

from adapters.config.loader import load_config
from adapters.llm.hosts import HOSTS, NEEDS_API_BASE
from adapters.llm.openai import OpenAIProvider
from bootstrap import adapter_for
from domain.completions import SamplingParams
from domain.deployments import Credentials, Secret
from domain.messages import ResponseFormat, ResponseFormatType
from tests.contract.harnesses.base import WEATHER_TOOL, chat_request
from tests.contract.harnesses.compatible_hosts import REFUSABLE_SETTINGS, host_harness
from tests.contract.outgoing import sent_chat, sent_json


async def _sent(host: str, **changes: object) -> tuple[dict, dict[str, str], str]:
    harness = host_harness(host)(**changes.pop("deployment", {}))  # type: ignore[arg-type]
    (sent,) = await sent_chat(harness, chat_request(**changes))
    return sent_json(sent), dict(sent.headers), str(sent.url)


def _refused(host: str, **changes: object) -> list[str]:
    harness = host_harness(host)()
    return list(harness.provider.unsupported_params(chat_request(**changes), harness.deployment))


COMPATIBLE = sorted(name for name, host in HOSTS.items() if host.openai_compatible)
KEY_VARIABLES = [(name, variable) for name in COMPATIBLE for variable in HOSTS[name].key_env]
REFUSING = [(name, refused) for name in COMPATIBLE for refused in sorted(HOSTS[name].unsupported)]
SELF_HOSTED_BASE = "http://gateway.internal:4000/v1"
"""The api_base a deployment names for a host without a public endpoint."""


def _setting(name: str) -> dict[str, object]:
    """The request changes that set the parameter `name` (tools are a field of their own)."""
    if name == "tools":
        return {"tools": (WEATHER_TOOL,)}
    return {"params": SamplingParams(**{name: REFUSABLE_SETTINGS[name]})}


def test_every_openai_compatible_host_of_the_table_is_served_by_the_openai_adapter() -> None:
    compatible = {name for name, host in HOSTS.items() if host.openai_compatible}

    assert {name for name in compatible if adapter_for(name) is OpenAIProvider} == compatible
    assert {"mistral", "groq", "deepseek", "xai", "openrouter", "lm_studio", "llamafile"} <= compatible


def test_the_config_loader_takes_a_hosts_base_url_and_key_variable_from_the_same_table() -> None:
    config = load_config(
        {"model_list": [{"model_name": "fast", "litellm_params": {"model": "groq/llama-3.3-70b-versatile"}}]},
        {"GROQ_API_KEY": "gsk-env"},
    )

    (deployment,) = config.deployments
    assert deployment.api_base == HOSTS["groq"].api_base == "https://api.groq.com/openai/v1"
    assert deployment.credentials.api_key == Secret("gsk-env")


async def test_a_groq_call_goes_to_groqs_base_with_the_body_unchanged() -> None:
    body, headers, url = await _sent("groq", params=SamplingParams(max_completion_tokens=64, seed=3))

    assert url == "https://api.groq.com/openai/v1/chat/completions"
    assert headers["authorization"] == "Bearer groq-key-123"
    assert body["max_completion_tokens"] == 64
    assert body["seed"] == 3


@pytest.mark.parametrize(
    ("params", "refused"),
    [
        (SamplingParams(logprobs=True, top_logprobs=2), ["logprobs", "top_logprobs"]),
        (SamplingParams(logit_bias={"50256": -100.0}), ["logit_bias"]),
        (SamplingParams(n=2), ["n"]),
        (SamplingParams(n=1, temperature=0.0, seed=1), []),
    ],
)
def test_groq_refuses_logprobs_logit_bias_and_more_than_one_choice(
    params: SamplingParams, refused: list[str]
) -> None:
    assert _refused("groq", params=params) == refused


async def test_mistral_gets_its_own_names_for_the_seed_and_the_output_cap() -> None:
    body, _, url = await _sent("mistral", params=SamplingParams(seed=7, max_completion_tokens=100, n=2))

    assert url == "https://api.mistral.ai/v1/chat/completions"
    assert body["random_seed"] == 7
    assert body["max_tokens"] == 100
    assert body["n"] == 2
    assert "seed" not in body and "max_completion_tokens" not in body


def test_mistral_refuses_what_its_schema_lacks() -> None:
    params = SamplingParams(logit_bias={"1": 1.0}, user="u-1", n=3, presence_penalty=0.5)

    assert _refused("mistral", params=params) == ["logit_bias", "user"]


async def test_deepseek_takes_max_tokens_and_refuses_json_schema_but_not_json_object() -> None:
    schema = ResponseFormat(ResponseFormatType.JSON_SCHEMA, name="x", schema={"type": "object"})

    body, _, _ = await _sent("deepseek", params=SamplingParams(max_completion_tokens=50))

    assert body["max_tokens"] == 50
    assert _refused("deepseek", response_format=schema) == ["response_format"]
    assert _refused("deepseek", response_format=ResponseFormat(ResponseFormatType.JSON_OBJECT)) == []


def test_cerebras_refuses_penalties_and_perplexity_refuses_tools() -> None:
    params = SamplingParams(presence_penalty=0.5, frequency_penalty=0.5)

    assert _refused("cerebras", params=params) == ["frequency_penalty", "presence_penalty"]
    assert _refused("perplexity", tools=(WEATHER_TOOL,)) == ["tools"]


async def test_openrouter_gets_its_attribution_headers_when_configured() -> None:
    extra = {"site_url": "https://switchyard.example", "app_name": "Switchyard"}
    credentials = Credentials(api_key=Secret("sk-or-1"), extra=extra)

    _, headers, url = await _sent("openrouter", deployment={"credentials": credentials})
    _, plain, _ = await _sent("openrouter")

    assert url == "https://openrouter.ai/api/v1/chat/completions"
    assert headers["http-referer"] == "https://switchyard.example"
    assert headers["x-title"] == "Switchyard"
    assert "http-referer" not in plain and "x-title" not in plain


def test_openai_itself_refuses_nothing_the_table_knows() -> None:
    harness = host_harness("openai")()
    request = chat_request(params=SamplingParams(logit_bias={"1": 1.0}, n=4, logprobs=True, user="u"))

    assert list(harness.provider.unsupported_params(request, harness.deployment)) == []


@pytest.mark.parametrize("host", ["hosted_vllm", "together_ai", "fireworks_ai", "openrouter", "deepinfra"])
async def test_hosts_that_sample_by_top_k_get_it_by_that_name(host: str) -> None:
    body, _, _ = await _sent(host, params=SamplingParams(top_k=40))

    assert body["top_k"] == 40
    assert _refused(host, params=SamplingParams(top_k=40)) == []


@pytest.mark.parametrize("host", ["openai", "groq", "mistral", "deepseek", "xai", "cerebras", "perplexity"])
def test_hosts_that_follow_openais_parameter_list_refuse_top_k(host: str) -> None:
    assert "top_k" in _refused(host, params=SamplingParams(top_k=40))


@pytest.mark.parametrize("host", COMPATIBLE)
async def test_every_compatible_host_is_called_at_its_base_with_its_key_and_its_name_for_the_cap(
    host: str,
) -> None:
    row = HOSTS[host]
    deployment = {"api_base": SELF_HOSTED_BASE} if row.api_base is None else {}

    body, headers, url = await _sent(
        host, deployment=deployment, params=SamplingParams(max_completion_tokens=64)
    )

    assert url == f"{row.api_base or SELF_HOSTED_BASE}/chat/completions"
    assert headers["authorization"] == f"Bearer {host}-key-123"
    assert body["model"] == "test-model"
    assert body[row.renamed.get("max_completion_tokens", "max_completion_tokens")] == 64


@pytest.mark.parametrize(("host", "variable"), KEY_VARIABLES)
def test_the_config_loader_reads_every_key_variable_of_a_host_and_its_base(host: str, variable: str) -> None:
    row = HOSTS[host]
    environ = {variable: f"{host}-env-key"} | (
        {row.base_env[0]: SELF_HOSTED_BASE} if host in NEEDS_API_BASE else {}
    )

    config = load_config(
        {"model_list": [{"model_name": "m", "litellm_params": {"model": f"{host}/some-model"}}]}, environ
    )

    (deployment,) = config.deployments
    assert (deployment.provider, deployment.upstream_model) == (host, "some-model")
    assert deployment.api_base == (row.api_base or SELF_HOSTED_BASE)
    assert deployment.credentials.api_key == Secret(f"{host}-env-key")


@pytest.mark.parametrize(("host", "parameter"), REFUSING)
def test_every_parameter_a_row_refuses_is_named_when_set(host: str, parameter: str) -> None:
    assert _refused(host, **_setting(parameter)) == [parameter]


@pytest.mark.parametrize("host", [name for name in COMPATIBLE if HOSTS[name].max_choices == 1])
def test_hosts_of_one_choice_refuse_more(host: str) -> None:
    assert _refused(host, params=SamplingParams(n=2)) == ["n"]
    assert _refused(host, params=SamplingParams(n=1)) == []


def test_scaleway_refuses_what_its_chat_api_page_lists_and_takes_the_rest() -> None:
    refused = SamplingParams(frequency_penalty=0.5, top_logprobs=2, logit_bias={"1": 1.0}, user="u", n=2)
    taken = SamplingParams(presence_penalty=0.5, logprobs=True, seed=1, temperature=0.2, n=1)

    assert _refused("scaleway", params=refused) == [
        "frequency_penalty",
        "logit_bias",
        "top_logprobs",
        "user",
        "n",
    ]
    assert _refused("scaleway", params=taken, tools=(WEATHER_TOOL,)) == []


async def test_codestral_speaks_mistrals_schema_at_its_own_endpoint() -> None:
    body, _, url = await _sent("codestral", params=SamplingParams(seed=7, max_completion_tokens=100))

    assert url == "https://codestral.mistral.ai/v1/chat/completions"
    assert (body["random_seed"], body["max_tokens"]) == (7, 100)
    assert _refused("codestral", params=SamplingParams(logit_bias={"1": 1.0}, user="u")) == [
        "logit_bias",
        "user",
    ]


def test_the_table_holds_the_hosts_issue_15_asked_for() -> None:
    asked = {"nebius", "novita", "hyperbolic", "featherless_ai", "nscale", "friendliai", "baseten"}
    asked |= {"moonshot", "dashscope", "volcengine", "zai", "minimax", "github", "codestral", "scaleway"}

    assert asked <= set(COMPATIBLE)
    assert len(HOSTS) >= 40

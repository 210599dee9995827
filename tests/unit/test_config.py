"""Loading LiteLLM-compatible configs: deployments, settings, environment, and errors that name the spot."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.config import GatewayConfig, default_config, load_config
from adapters.config.deployments import Defaults
from adapters.config.stored import deployment_from_record
from domain.completions import ReasoningEffort
from domain.deployments import Deployment, DeploymentRecord, Secret
from domain.errors import BadRequestError, ConfigurationError
from domain.pricing import UNPRICED, ModelPrices

REAL_CONFIG = Path(__file__).parent / "fixtures" / "litellm_config.yaml"
ENV = {
    "AZURE_API_KEY_EU": "az-eu",
    "AZURE_API_KEY_CA": "az-ca",
    "OPENAI_API_KEY": "sk-openai",
    "ANTHROPIC_API_KEY": "sk-ant",
    "AWS_ACCESS_KEY_ID": "AKIA123",
    "AWS_SECRET_ACCESS_KEY": "aws-secret",
    "VERTEX_CREDENTIALS": "/secrets/vertex.json",
    "GROQ_API_KEY": "gsk-groq",
    "SECRET_REDIS_PASSWORD": "p@ss",
}


def one(params: dict[str, Any], info: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    """A config of one deployment named `m`."""
    entry: dict[str, Any] = {"model_name": "m", "litellm_params": params}
    if info is not None:
        entry["model_info"] = info
    return {"model_list": [entry], **top}


def deployment(config: GatewayConfig, model_name: str = "m") -> Deployment:
    (found,) = [d for d in config.deployments if d.model_name == model_name]
    return found


def error_of(source: Any, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigurationError) as caught:
        load_config(source, environ or {})
    return str(caught.value)


# --- a real LiteLLM config ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> GatewayConfig:
    return load_config(REAL_CONFIG, ENV)


def test_a_real_litellm_config_loads_every_deployment_it_can_serve(real: GatewayConfig) -> None:
    names = [d.model_name for d in real.deployments]
    assert names == [
        "gpt-4o",
        "gpt-4o",
        "gpt-4o-mini",
        "claude-sonnet",
        "claude-sonnet",
        "gemini-flash",
        "llama3",
        "vllm-models",
        "text-embedding",
        "groq-llama",
        "openai/*",
        "whisper",
    ]
    assert real.deployments[-1].capabilities.mode == "audio_transcription"


def test_provider_and_upstream_model_come_from_the_model_string(real: GatewayConfig) -> None:
    pairs = [(d.provider, d.upstream_model) for d in real.deployments]
    assert pairs == [
        ("azure", "gpt-4o-eu"),
        ("azure", "gpt-4o-ca"),
        ("openai", "gpt-4o-mini"),
        ("anthropic", "claude-3-5-sonnet-20241022"),
        ("bedrock", "anthropic.claude-3-5-sonnet-20241022-v2:0"),
        ("vertex_ai", "gemini-2.0-flash"),
        ("ollama_chat", "llama3.1"),
        ("hosted_vllm", "facebook/opt-125m"),
        ("openai", "text-embedding-3-small"),
        ("groq", "llama-3.1-8b-instant"),
        ("openai", "*"),
        ("openai", "whisper-1"),
    ]


def test_an_azure_deployment_keeps_its_endpoint_version_and_key(real: GatewayConfig) -> None:
    eu, ca = real.deployments[:2]
    assert eu.id == "azure-eu"
    assert eu.api_base == "https://my-endpoint-europe.openai.azure.com"
    assert eu.credentials.api_key == Secret("az-eu")
    assert eu.credentials.extra == {"api_version": "2024-08-01-preview"}
    assert ca.credentials.extra == {"api_version": "2024-08-01"}  # YAML read it as a date
    assert eu.limits.rpm == 6


def test_provider_specific_params_go_to_the_credentials(real: GatewayConfig) -> None:
    bedrock, vertex = real.deployments[4], real.deployments[5]
    assert bedrock.credentials.extra == {
        "aws_access_key_id": "AKIA123",
        "aws_secret_access_key": "aws-secret",
        "aws_region_name": "us-west-2",
    }
    assert vertex.credentials.extra == {
        "vertex_project": "acme-ml",
        "vertex_location": "us-central1",
        "vertex_credentials": "/secrets/vertex.json",
    }
    assert deployment(real, "gpt-4o-mini").credentials.extra == {"organization": "org-acme"}


def test_limits_prices_capabilities_and_request_defaults_are_read(real: GatewayConfig) -> None:
    mini = deployment(real, "gpt-4o-mini")
    assert (mini.limits.rpm, mini.limits.tpm, mini.limits.timeout, mini.limits.stream_timeout) == (
        1000,
        200000,
        30.0,
        10.0,
    )
    assert mini.prices.input == Decimal("0.00000015")
    assert mini.prices.output == Decimal("0.0000006")
    assert mini.prices.cache_read == Decimal("0.000000075")
    assert mini.capabilities.max_input_tokens == 128000
    assert mini.capabilities.max_output_tokens == 16384
    assert mini.extra_params == {"temperature": 0.2, "max_tokens": 512}
    assert mini.drop_params is True  # litellm_settings.drop_params
    assert deployment(real, "groq-llama").limits.timeout == 120.0  # litellm_settings.request_timeout


def test_embedding_mode_makes_an_embeddings_deployment(real: GatewayConfig) -> None:
    embedding = deployment(real, "text-embedding")
    assert (embedding.capabilities.embeddings, embedding.capabilities.chat) == (True, False)
    assert deployment(real, "gpt-4o-mini").capabilities.embeddings is False


def test_the_settings_sections_are_read(real: GatewayConfig) -> None:
    assert real.master_key == Secret("sk-1234")
    assert real.database_url == "postgresql+asyncpg://llmproxy:dbpassword9090@db:5432/litellm"
    assert real.redis_url == "redis://:p%40ss@redis.internal:6379"
    assert (real.drop_params, real.num_retries, real.request_timeout) == (True, 3, 120.0)
    router = real.router_settings
    assert router.routing_strategy == "usage-based-routing-v2"
    assert (router.allowed_fails, router.cooldown_time, router.redis_port) == (3, 30.0, 6379)
    assert router.fallbacks == [{"claude-sonnet": ["gpt-4o"]}]
    assert router.context_window_fallbacks == [{"gpt-4o-mini": ["gpt-4o"]}]  # from litellm_settings
    assert real.cache is not None
    assert (real.cache.type, real.cache.host, real.cache.ttl) == ("redis", "redis.internal", 600.0)
    assert real.config_path == REAL_CONFIG
    assert not real.verbose_logs  # litellm_settings.set_verbose: False, read (True: debug logs)


def test_keys_we_do_not_act_on_are_listed_by_path(real: GatewayConfig) -> None:
    assert set(real.ignored) >= {
        "litellm_settings.success_callback",
        "general_settings.alerting",
        "general_settings.proxy_batch_write_at",
        "general_settings.database_connection_pool_limit",
        "model_list[0].model_info.base_model",
        "model_list[7].model_info.version",
    }


def test_the_cache_switch_is_acted_on_and_no_longer_reported_as_ignored() -> None:
    config = load_config(
        one(
            {"model": "openai/gpt-4o", "api_key": "k", "rpm": 10},
            router_settings={"routing_strategy": "least-busy", "num_retries": 2, "redis_host": "r"},
            litellm_settings={"cache": True, "drop_params": True},
        ),
        {},
    )

    assert config.ignored == () and config.cache is not None and config.cache.type == "local"
    assert (config.router_policy.strategy, config.router_policy.num_retries) == ("least-busy", 2)


def test_secrets_never_show_in_the_configs_repr(real: GatewayConfig) -> None:
    text = repr(real)
    for secret in ("sk-1234", "az-eu", "sk-openai", "dbpassword9090", "p@ss", "p%40ss"):
        assert secret not in text


# --- environment ---------------------------------------------------------------------------------------


def test_os_environ_references_resolve_anywhere_in_the_tree() -> None:
    config = load_config(
        one(
            {"model": "os.environ/MODEL", "api_key": "os.environ/KEY", "rpm": "os.environ/RPM"},
            router_settings={"fallbacks": [{"m": ["os.environ/FALLBACK"]}]},
        ),
        {"MODEL": "openai/gpt-4o", "KEY": "sk-x", "RPM": "60", "FALLBACK": "m"},
    )
    found = deployment(config)
    assert (found.provider, found.upstream_model, found.credentials.api_key, found.limits.rpm) == (
        "openai",
        "gpt-4o",
        Secret("sk-x"),
        60,
    )
    assert config.router_settings.fallbacks == [{"m": ["m"]}]


def test_an_unset_variable_becomes_none_and_a_warning() -> None:
    config = load_config(one({"model": "openai/gpt-4o", "api_key": "os.environ/MISSING_KEY"}), {})
    assert deployment(config).credentials.api_key is None
    assert (
        "model_list[0].litellm_params.api_key: environment variable MISSING_KEY is not set" in config.warnings
    )


def test_environment_variables_in_the_config_feed_references_and_win_over_the_process() -> None:
    config = load_config(
        one(
            {"model": "openai/gpt-4o", "api_key": "os.environ/KEY"},
            environment_variables={"KEY": "from-config"},
        ),
        {"KEY": "from-process"},
    )
    assert deployment(config).credentials.api_key == Secret("from-config")
    assert config.environment["KEY"] == "from-config"


def test_the_process_environment_overrides_master_key_and_database_url() -> None:
    settings = {"general_settings": {"master_key": "sk-file", "database_url": "sqlite:////tmp/a.db"}}
    from_file = load_config({"model_list": [], **settings}, {})
    assert from_file.master_key == Secret("sk-file")
    assert from_file.database_url == "sqlite+aiosqlite:////tmp/a.db"
    overridden = load_config(
        {"model_list": [], **settings},
        {"SWITCHYARD_MASTER_KEY": "sk-env", "DATABASE_URL": "postgresql+asyncpg://u@h:5432/db"},
    )
    assert overridden.master_key == Secret("sk-env")
    assert overridden.database_url == "postgresql+asyncpg://u@h:5432/db"


def test_litellms_master_key_variable_is_honoured_when_nothing_else_sets_one() -> None:
    assert load_config({}, {"LITELLM_MASTER_KEY": "sk-lite"}).master_key == Secret("sk-lite")
    assert load_config({}, {}).master_key is None


def test_a_known_host_fills_in_its_base_url_and_key_from_the_environment() -> None:
    config = load_config(one({"model": "groq/llama-3.1-8b"}), {"GROQ_API_KEY": "gsk-1"})
    found = deployment(config)
    assert found.api_base == "https://api.groq.com/openai/v1"
    assert found.credentials.api_key == Secret("gsk-1")


def test_what_the_config_sets_wins_over_the_host_table() -> None:
    params = {"model": "openai/gpt-4o", "api_base": "http://127.0.0.1:9999/v1/", "api_key": "sk-fake"}
    found = deployment(load_config(one(params), {"OPENAI_API_KEY": "sk-env"}))
    assert found.api_base == "http://127.0.0.1:9999/v1"
    assert found.credentials.api_key == Secret("sk-fake")


def test_a_missing_api_key_is_a_warning_not_an_error() -> None:
    config = load_config(one({"model": "anthropic/claude-3-5-haiku"}), {})
    assert deployment(config).credentials.api_key is None
    assert any(w.startswith("model_list[0].litellm_params.api_key: not set") for w in config.warnings)


def test_bedrock_credentials_come_from_the_environment_when_the_config_has_none() -> None:
    config = load_config(
        one({"model": "bedrock/converse/meta.llama3-8b-instruct-v1:0"}),
        {"AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK", "AWS_REGION": "eu-west-1"},
    )
    found = deployment(config)
    assert found.upstream_model == "meta.llama3-8b-instruct-v1:0"
    assert found.credentials.extra == {
        "aws_access_key_id": "AK",
        "aws_secret_access_key": "SK",
        "aws_region_name": "eu-west-1",
    }


# --- model list details --------------------------------------------------------------------------------


def test_params_is_an_alias_of_litellm_params_with_the_same_deployment_id() -> None:
    params = {"model": "openai/gpt-4o", "rpm": 5}
    aliased = load_config({"model_list": [{"model_name": "m", "params": params}]}, {})
    plain = load_config(one(params), {})
    assert deployment(aliased) == deployment(plain)


def test_a_bare_model_is_openais_and_custom_llm_provider_names_the_provider() -> None:
    assert deployment(load_config(one({"model": "gpt-4o"}), {})).provider == "openai"
    found = deployment(load_config(one({"model": "mistral-large", "custom_llm_provider": "mistral"}), {}))
    assert (found.provider, found.upstream_model) == ("mistral", "mistral-large")


@pytest.mark.parametrize(
    ("model", "provider"),
    [("claude-sonnet-4-5", "anthropic"), ("gemini-2.5-flash", "gemini"), ("command-r-plus", "cohere"),
     ("mistral-large-latest", "mistral"), ("grok-4", "xai"), ("deepseek-chat", "deepseek"),
     ("o3-mini", "openai"), ("text-embedding-3-small", "openai")],
)  # fmt: skip
def test_a_well_known_bare_model_name_is_inferred_to_its_provider(model: str, provider: str) -> None:
    found = deployment(load_config(one({"model": model, "api_key": "k"}), {}))

    assert (found.provider, found.upstream_model) == (provider, model)


def test_wildcard_model_names_are_kept_as_they_are() -> None:
    config = load_config(
        {
            "model_list": [
                {"model_name": "*", "litellm_params": {"model": "*"}},
                one({"model": "xai/*"})["model_list"][0],
            ]
        },
        {},
    )
    catch_all, xai = config.deployments
    assert (catch_all.model_name, catch_all.provider, catch_all.upstream_model) == ("*", "openai", "*")
    assert (xai.provider, xai.upstream_model, xai.capabilities.embeddings) == ("xai", "*", True)


def test_deployment_ids_are_stable_and_do_not_depend_on_secret_values() -> None:
    config = one({"model": "openai/gpt-4o", "api_key": "os.environ/KEY"})
    first = deployment(load_config(config, {"KEY": "one"})).id
    again = deployment(load_config(copy.deepcopy(config), {"KEY": "rotated"})).id
    assert first == again
    assert len(first) == 16
    other = deployment(load_config(one({"model": "openai/gpt-4o-mini", "api_key": "os.environ/KEY"}), {})).id
    assert other != first


@pytest.mark.parametrize(
    ("price", "exact"),
    [
        (0.000001, "0.000001"),
        ("1e-06", "0.000001"),
        (1.5e-7, "0.00000015"),
        ("0.0000025", "0.0000025"),
        (0, "0"),
    ],
)
def test_prices_are_exact_decimals_whatever_form_the_yaml_gives(price: Any, exact: str) -> None:
    found = deployment(load_config(one({"model": "openai/x"}, {"input_cost_per_token": price}), {}))
    assert found.prices.input == Decimal(exact)
    assert isinstance(found.prices.input, Decimal)


def test_prices_in_yaml_text_stay_exact(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "model_list:\n"
        "  - model_name: m\n"
        "    litellm_params: {model: openai/x, output_cost_per_token: 0.000002}\n"
        "    model_info: {input_cost_per_token: 1e-06}\n"
    )
    found = deployment(load_config(path, {}))
    assert (found.prices.input, found.prices.output) == (Decimal("1e-6"), Decimal("2e-6"))
    assert found.prices.input * 3 == Decimal("0.000003")


def test_every_litellm_price_key_we_read_sets_its_price() -> None:
    info = {
        "input_cost_per_token": 0.00000125,
        "output_cost_per_token": 0.00001,
        "cache_read_input_token_cost": 1.25e-7,
        "cache_creation_input_token_cost": 0.0000015625,
        "output_cost_per_reasoning_token": 0.000012,
        "input_cost_per_request": 0.005,
        "input_cost_per_token_above_200k_tokens": 0.0000025,
        "output_cost_per_token_above_200k_tokens": 0.000015,
        "cache_read_input_token_cost_above_200k_tokens": 2.5e-7,
        "cache_creation_input_token_cost_above_200k_tokens": "0.000003125",
    }

    config = load_config(one({"model": "gemini/gemini-2.5-pro"}, info), {})

    assert deployment(config).prices == ModelPrices(
        input=Decimal("0.00000125"),
        output=Decimal("0.00001"),
        cache_read=Decimal("0.000000125"),
        cache_write=Decimal("0.0000015625"),
        reasoning=Decimal("0.000012"),
        per_request=Decimal("0.005"),
        tier_threshold=200_000,
        input_above_tier=Decimal("0.0000025"),
        output_above_tier=Decimal("0.000015"),
        cache_read_above_tier=Decimal("0.00000025"),
        cache_write_above_tier=Decimal("0.000003125"),
    )
    assert not [path for path in config.ignored if "cost" in path]


def test_a_deployment_without_prices_leaves_them_to_the_catalog() -> None:
    assert deployment(load_config(one({"model": "openai/gpt-4o"}), {})).prices == UNPRICED


def test_one_long_context_price_sets_the_200k_threshold() -> None:
    found = deployment(
        load_config(one({"model": "openai/x"}, {"output_cost_per_token_above_200k_tokens": 0.00002}), {})
    )
    assert (found.prices.tier_threshold, found.prices.output_above_tier) == (200_000, Decimal("0.00002"))
    assert found.prices.input is None


def test_prices_among_litellm_params_count_and_model_info_wins() -> None:
    params = {
        "model": "openai/x",
        "input_cost_per_token": 0.000001,
        "output_cost_per_token": 0.000002,
        "input_cost_per_token_above_200k_tokens": 0.000003,
    }
    found = deployment(load_config(one(params, {"input_cost_per_token": 0.0000005}), {}))
    assert (found.prices.input, found.prices.output) == (Decimal("0.0000005"), Decimal("0.000002"))
    assert (found.prices.tier_threshold, found.prices.input_above_tier) == (200_000, Decimal("0.000003"))
    assert found.credentials.extra == {}


def test_an_embedding_model_is_priced_by_its_input_price() -> None:
    config = one(
        {"model": "openai/text-embedding-3-small"}, {"input_cost_per_token": 2e-8, "mode": "embedding"}
    )
    found = deployment(load_config(config, {}))
    assert found.capabilities.embeddings and found.prices == ModelPrices(input=Decimal("0.00000002"))


@pytest.mark.parametrize(
    "key",
    [
        "output_cost_per_reasoning_token",
        "input_cost_per_request",
        "cache_read_input_token_cost_above_200k_tokens",
    ],
)
@pytest.mark.parametrize("section", ["model_info", "litellm_params"])
def test_a_negative_price_stops_the_start_naming_its_path(key: str, section: str) -> None:
    params: dict[str, Any] = {"model": "openai/x"}
    info: dict[str, Any] = {}
    (params if section == "litellm_params" else info)[key] = -0.000001
    assert error_of(one(params, info)) == (
        f"model_list[0].{section}.{key}: input should be greater than or equal to 0"
    )


def test_price_keys_we_do_not_read_are_listed_as_ignored_and_never_taken_for_credentials() -> None:
    params = {
        "model": "openai/x",
        "api_key": "k",
        "input_cost_per_token_batches": 0.0000005,
        "cache_creation_input_token_cost_above_1hr": 0.000006,
    }
    info = {
        "input_cost_per_audio_token": 0.00001,
        "input_cost_per_token_above_128k_tokens": 0.000005,
        "input_cost_per_token_flex": 0.0000006,
        "search_context_cost_per_query": {"search_context_size_low": 0.01},
    }

    config = load_config(one(params, info), {})

    assert set(config.ignored) == {
        "model_list[0].litellm_params.input_cost_per_token_batches",
        "model_list[0].litellm_params.cache_creation_input_token_cost_above_1hr",
        "model_list[0].model_info.input_cost_per_audio_token",
        "model_list[0].model_info.input_cost_per_token_above_128k_tokens",
        "model_list[0].model_info.input_cost_per_token_flex",
        "model_list[0].model_info.search_context_cost_per_query",
    }
    assert config.warnings == ()  # real LiteLLM keys, not typos of the ones we read
    assert deployment(config).credentials.extra == {}


def test_a_misspelt_price_key_is_ignored_with_a_suggestion() -> None:
    config = load_config(one({"model": "openai/x", "api_key": "k", "output_cost_per_tokens": 0.000002}), {})

    assert config.ignored == ("model_list[0].litellm_params.output_cost_per_tokens",)
    assert config.warnings == (
        "model_list[0].litellm_params.output_cost_per_tokens: unknown price key, ignored;"
        " did you mean 'output_cost_per_token'?",
    )
    assert deployment(config).prices == UNPRICED


def test_model_info_declares_capabilities() -> None:
    info = {
        "supports_function_calling": False,
        "supports_vision": False,
        "supports_reasoning": True,
        "max_tokens": 8,
    }
    caps = deployment(load_config(one({"model": "ollama/llama3"}, info), {})).capabilities
    assert (caps.tools, caps.vision, caps.reasoning, caps.max_output_tokens) == (False, False, True, 8)


def test_an_embedding_model_without_a_mode_is_recognised_by_name() -> None:
    found = deployment(load_config(one({"model": "cohere/embed-english-v3.0"}), {}))
    assert (found.capabilities.chat, found.capabilities.embeddings) == (False, True)


def test_sampling_defaults_become_request_defaults() -> None:
    params = {"model": "openai/o3", "reasoning_effort": "high", "stop": "END", "top_k": 5, "seed": 7}
    found = deployment(load_config(one(params), {}))
    assert found.extra_params == {
        "reasoning_effort": ReasoningEffort.HIGH,
        "stop": ("END",),
        "seed": 7,
        "top_k": 5,
    }


def test_drop_params_per_deployment_wins_over_the_global_setting() -> None:
    config = load_config(
        {
            "model_list": [
                {"model_name": "a", "litellm_params": {"model": "openai/a"}},
                {"model_name": "b", "litellm_params": {"model": "openai/b", "drop_params": False}},
            ],
            "litellm_settings": {"drop_params": True},
        },
        {},
    )
    assert (deployment(config, "a").drop_params, deployment(config, "b").drop_params) == (True, False)


def test_a_deployment_with_a_mock_response_is_answered_by_the_mock_provider() -> None:
    found = deployment(load_config(one({"model": "openai/gpt-4o", "mock_response": "hi"}), {}))
    assert (found.provider, found.extra_params) == ("mock", {"mock_response": "hi"})


def test_include_adds_the_model_lists_of_other_files(tmp_path: Path) -> None:
    (tmp_path / "models.yaml").write_text(
        "model_list:\n  - model_name: extra\n    litellm_params: {model: mock/x}\n"
    )
    main = tmp_path / "config.yaml"
    main.write_text(
        "include: [models.yaml]\nmodel_list:\n  - model_name: main\n    litellm_params: {model: mock/y}\n"
    )
    assert [d.model_name for d in load_config(main, {}).deployments] == ["main", "extra"]


def test_request_body_limit_comes_from_max_request_size_mb() -> None:
    assert load_config({}, {}).max_request_body_bytes == 32 * 1024 * 1024
    assert (
        load_config({"general_settings": {"max_request_size_mb": 2}}, {}).max_request_body_bytes
        == 2 * 1024 * 1024
    )


def test_empty_sections_are_allowed_as_litellm_allows_them(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "model_list:\n  - model_name: m\n    litellm_params: {model: mock/x}\n    model_info:\n"
        "general_settings:\n"
    )
    config = load_config(path, {})
    assert [d.model_name for d in config.deployments] == ["m"]


def test_a_near_miss_key_is_ignored_with_a_suggestion() -> None:
    config = load_config({"model_lsit": [], "router_settings": {"num_retires": 4}}, {})
    assert {"model_lsit", "router_settings.num_retires"} <= set(config.ignored)
    assert "model_lsit: unknown key, ignored; did you mean 'model_list'?" in config.warnings
    assert "router_settings.num_retires: unknown key, ignored; did you mean 'num_retries'?" in config.warnings


def test_a_fallback_to_an_unknown_model_is_a_warning() -> None:
    config = load_config(one({"model": "mock/x"}, router_settings={"fallbacks": [{"m": ["nope"]}]}), {})
    assert "router_settings.fallbacks[0].m: fallback 'nope' is not a configured model_name" in config.warnings


def test_caching_is_off_unless_litellm_settings_cache_is_true() -> None:
    assert load_config({}, {}).cache is None
    on = load_config({"litellm_settings": {"cache": True}}, {})
    assert on.cache is not None and on.cache.type == "local"


# --- errors --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            one({"model": "antropic/claude-3"}),
            "model_list[0].litellm_params.model: unknown provider 'antropic'; did you mean 'anthropic'?",
        ),
        (
            {"model_list": [{"model_name": "m", "params": {"model": "antropic/claude-3"}}]},
            "model_list[0].params.model: unknown provider 'antropic'; did you mean 'anthropic'?",
        ),
        (one({"model": "nowhere/x"}), "model_list[0].litellm_params.model: unknown provider 'nowhere'"),
        (
            one({"model": "x", "custom_llm_provider": "mistal"}),
            "model_list[0].litellm_params.custom_llm_provider:"
            " unknown provider 'mistal'; did you mean 'mistral'?",
        ),
        (
            one({"model": "openai/"}),
            "model_list[0].litellm_params.model: names provider 'openai' but no model after it",
        ),
        (one({"api_key": "k"}), "model_list[0].litellm_params.model: is required"),
        ({"model_list": [{"litellm_params": {"model": "gpt-4o"}}]}, "model_list[0].model_name: is required"),
        ({"model_list": [{"model_name": "m"}]}, "model_list[0].litellm_params: is required"),
        (
            one({"model": "gpt-4o", "rpm": -1}),
            "model_list[0].litellm_params.rpm: input should be greater than or equal to 0",
        ),
        (
            one({"model": "gpt-4o", "tpm": "lots"}),
            "model_list[0].litellm_params.tpm: input should be a valid integer,"
            " unable to parse string as an integer",
        ),
        (
            one({"model": "gpt-4o", "weight": 0}),
            "model_list[0].litellm_params.weight: input should be greater than 0",
        ),
        (
            one({"model": "gpt-4o", "temperature": 3}),
            "model_list[0].litellm_params.temperature: temperature must be between 0 and 2",
        ),
        (
            one({"model": "gpt-4o"}, {"input_cost_per_token": -1}),
            "model_list[0].model_info.input_cost_per_token: input should be greater than or equal to 0",
        ),
        (
            one({"model": "azure/gpt-4o"}),
            "model_list[0].litellm_params.api_base: is required for provider 'azure'",
        ),
        (
            one({"model": "openai/gpt-4o", "api_base": "api.openai.com"}),
            "model_list[0].litellm_params.api_base: must be an http:// or https:// URL, not 'api.openai.com'",
        ),
        (
            {"model_list": [{"model_name": "m", "params": {"model": "x"}, "litellm_params": {"model": "y"}}]},
            "model_list[0]: give litellm_params or its alias params, not both",
        ),
        (
            {"model_list": [one({"model": "gpt-4o"}, {"id": "a"})["model_list"][0]] * 2},
            "model_list[1].model_info.id: 'a' is taken by model_list[0];"
            " give each deployment its own model_info.id",
        ),
        (
            {"model_list": [one({"model": "gpt-4o"})["model_list"][0]] * 2},
            "model_list[1]: repeats by model_list[0]; give each deployment its own model_info.id",
        ),
        ({"model_list": {"model_name": "m"}}, "model_list: input should be a valid list"),
        (
            {"router_settings": {"routing_strategy": "fastest"}},
            "router_settings.routing_strategy: input should be 'simple-shuffle', 'least-busy',"
            " 'usage-based-routing', 'usage-based-routing-v2', 'latency-based-routing'"
            " or 'cost-based-routing'",
        ),
        (
            {"litellm_settings": {"cache": True, "cache_params": {"type": "s3"}}},
            "litellm_settings.cache_params.type:"
            " input should be 'local', 'redis', 'disk', 'redis-semantic', 'qdrant-semantic' or"
            " 'disk-semantic'",
        ),
        (
            {"router_settings": {"fallbacks": [{"a": "b"}]}},
            "router_settings.fallbacks[0].a: input should be a valid list",
        ),
        (
            {"environment_variables": ["A=1"]},
            "environment_variables: must be a mapping of variable names to values",
        ),
        ({"include": "other.yaml"}, "include: must be a list of file names"),
    ],
)
def test_an_invalid_config_fails_naming_the_offending_path(source: dict[str, Any], message: str) -> None:
    assert error_of(source) == message


def test_every_problem_is_listed_in_one_error() -> None:
    message = error_of(
        {"model_list": [{"model_name": "m", "litellm_params": {"model": "x", "rpm": -1, "tpm": -1}}]}
    )
    assert message.splitlines() == [
        "model_list[0].litellm_params.rpm: input should be greater than or equal to 0",
        "model_list[0].litellm_params.tpm: input should be greater than or equal to 0",
    ]


def test_the_error_carries_the_path_apart_from_the_message() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_config(one({"model": "antropic/x"}), {})
    assert caught.value.path == "model_list[0].litellm_params.model"


def test_invalid_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("model_list:\n  - model_name: m\n    litellm_params: {model: [\n")
    message = error_of(path)
    assert message.startswith(f"{path}:4:1: invalid YAML")


def test_a_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    assert error_of(tmp_path / "nope.yaml").startswith(f"cannot read config file {tmp_path / 'nope.yaml'}")


def test_a_config_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("- model_name: m\n")
    assert "the config must be a mapping" in error_of(path)


# --- the embedded default ------------------------------------------------------------------------------


def test_the_default_config_without_provider_keys_serves_only_the_demo_model() -> None:
    config = default_config({})
    (demo,) = config.deployments
    assert (demo.id, demo.model_name, demo.provider, demo.upstream_model) == ("demo", "demo", "mock", "demo")
    assert (demo.capabilities.chat, demo.capabilities.embeddings) == (True, True)
    assert config.warnings == () and config.ignored == ()
    assert load_config(None, {}) == config
    assert load_config("", {}) == config


def test_the_default_config_adds_a_wildcard_for_each_provider_key_present() -> None:
    config = default_config({"OPENAI_API_KEY": "sk-o", "GROQ_API_KEY": "gsk", "TOGETHERAI_API_KEY": "tg"})
    wildcards = {d.model_name: d for d in config.deployments if d.model_name != "demo"}
    assert set(wildcards) == {"openai/*", "groq/*", "together_ai/*"}
    groq = wildcards["groq/*"]
    assert (groq.provider, groq.upstream_model, groq.api_base) == (
        "groq",
        "*",
        "https://api.groq.com/openai/v1",
    )
    assert groq.credentials.api_key == Secret("gsk")
    assert wildcards["openai/*"].api_base == "https://api.openai.com/v1"
    assert wildcards["together_ai/*"].api_base == "https://api.together.xyz/v1"


@pytest.mark.parametrize(
    ("env", "provider", "api_base"),
    [
        ("MISTRAL_API_KEY", "mistral", "https://api.mistral.ai/v1"),
        ("DEEPSEEK_API_KEY", "deepseek", "https://api.deepseek.com"),
        ("XAI_API_KEY", "xai", "https://api.x.ai/v1"),
        ("FIREWORKS_AI_API_KEY", "fireworks_ai", "https://api.fireworks.ai/inference/v1"),
        ("OPENROUTER_API_KEY", "openrouter", "https://openrouter.ai/api/v1"),
        ("PERPLEXITYAI_API_KEY", "perplexity", "https://api.perplexity.ai"),
        ("DEEPINFRA_API_KEY", "deepinfra", "https://api.deepinfra.com/v1/openai"),
        ("CEREBRAS_API_KEY", "cerebras", "https://api.cerebras.ai/v1"),
        ("ANTHROPIC_API_KEY", "anthropic", "https://api.anthropic.com"),
        ("GEMINI_API_KEY", "gemini", "https://generativelanguage.googleapis.com"),
        ("COHERE_API_KEY", "cohere", "https://api.cohere.com"),
    ],
)
def test_each_provider_a_key_alone_reaches_joins_the_default_with_its_key(
    env: str, provider: str, api_base: str
) -> None:
    (_, added) = default_config({env: "k"}).deployments
    assert (added.model_name, added.provider, added.api_base) == (f"{provider}/*", provider, api_base)


def test_providers_that_need_more_than_a_key_stay_out_of_the_default() -> None:
    environ = {"AZURE_API_KEY": "k", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s"}

    assert [d.model_name for d in default_config(environ).deployments] == ["demo"]


def test_the_default_config_still_honours_the_master_key_variable() -> None:
    assert default_config({"SWITCHYARD_MASTER_KEY": "sk-m"}).master_key == Secret("sk-m")


def test_importing_the_config_package_does_not_import_yaml() -> None:
    code = "import sys, adapters.config; print('yaml' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ), check=False
    )
    assert done.stdout.strip() == "False", done.stderr


def test_deployment_tags_and_order_and_the_tag_filter_switch_are_read() -> None:
    config = load_config(
        one(
            {"model": "openai/gpt-4o", "api_key": "k", "tags": ["eu"], "order": 2},
            router_settings={"enable_tag_filtering": True},
        ),
        {},
    )

    assert (deployment(config).tags, deployment(config).order) == (("eu",), 2)
    assert config.router_policy.enable_tag_filtering
    assert config.ignored == ()


def test_an_invalid_router_setting_fails_startup_naming_it() -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_config(one({"model": "openai/gpt-4o"}, router_settings={"retry_policy": {"Nope": 1}}), {})

    assert "router_settings.retry_policy" in str(caught.value)


def test_background_health_checks_are_read_from_general_settings() -> None:
    on = load_config(
        {"general_settings": {"background_health_checks": True, "health_check_interval": 60}}, {}
    )
    default = load_config({}, {})

    assert (on.background_health_checks, on.health_check_interval) == (True, 60.0)
    assert (default.background_health_checks, default.health_check_interval) == (False, 300.0)
    assert on.ignored == ()


def test_a_health_check_interval_without_background_checks_is_a_warning() -> None:
    config = load_config({"general_settings": {"health_check_interval": 60}}, {})

    assert any(w.startswith("general_settings.health_check_interval: set, but") for w in config.warnings)


def test_a_health_check_interval_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match=r"general_settings\.health_check_interval"):
        load_config({"general_settings": {"health_check_interval": 0}}, {})


def test_an_unsupported_database_stops_startup_naming_where_it_came_from() -> None:
    with pytest.raises(ConfigurationError) as from_env:
        load_config({"model_list": []}, {"DATABASE_URL": "mysql://u@h/db"})
    assert from_env.value.path == "DATABASE_URL" and "mysql" in from_env.value.message
    with pytest.raises(ConfigurationError) as from_file:
        load_config({"general_settings": {"database_url": "mongodb://h/db"}}, {})
    assert from_file.value.path == "general_settings.database_url"


def test_jwt_auth_needs_a_key_source_and_reads_litellms_environment() -> None:
    with pytest.raises(ConfigurationError, match="public_key_url"):
        load_config({"general_settings": {"enable_jwt_auth": True}}, {})
    config = load_config(
        {"general_settings": {"enable_jwt_auth": True, "litellm_jwtauth": {"team_id_jwt_field": "groups"}}},
        {"JWT_PUBLIC_KEY_URL": "https://idp.example/jwks", "JWT_AUDIENCE": "gw"},
    )
    assert config.jwt is not None
    assert (config.jwt.public_key_url, config.jwt.audience, config.jwt.team_id_jwt_field) == (
        "https://idp.example/jwks",
        "gw",
        "groups",
    )
    with pytest.raises(ConfigurationError, match="enable_jwt_auth"):
        load_config({"general_settings": {"litellm_jwtauth": {"team_id_jwt_field": "groups"}}}, {})


# --- model_info.supported_endpoints -----------------------------------------------------------------


def test_supported_endpoints_are_read_into_the_deployment_as_the_config_lists_them() -> None:
    listed = load_config(
        one(
            {"model": "hosted_vllm/llama", "api_base": "http://vllm:8000/v1"},
            {"supported_endpoints": ["/v1/chat/completions", "/v1/responses"]},
        ),
        {},
    )
    unlisted = load_config(one({"model": "openai/gpt-4o", "api_key": "k"}), {})

    assert deployment(listed).supported_endpoints == ("/v1/chat/completions", "/v1/responses")
    assert listed.ignored == ()
    assert deployment(unlisted).supported_endpoints is None


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("/v1/responses", "model_list[0].model_info.supported_endpoints"),
        ({"responses": True}, "model_list[0].model_info.supported_endpoints"),
        (["/v1/responses", 2], "model_list[0].model_info.supported_endpoints[1]"),
    ],
)
def test_supported_endpoints_that_are_not_a_list_of_paths_fail_startup_naming_the_path(
    value: Any, path: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_config(one({"model": "openai/gpt-4o", "api_key": "k"}, {"supported_endpoints": value}), {})

    assert caught.value.path == path


def test_a_stored_deployment_reads_supported_endpoints_as_the_config_does() -> None:
    record = DeploymentRecord(
        model_id="m-1",
        model_name="m",
        litellm_params={"model": "openai/gpt-4o", "api_key": "k"},
        model_info={"supported_endpoints": ["/v1/chat/completions"]},
    )
    bad = DeploymentRecord(
        model_id="m-2",
        model_name="m",
        litellm_params={"model": "openai/gpt-4o", "api_key": "k"},
        model_info={"supported_endpoints": "/v1/responses"},
    )

    assert deployment_from_record(record, Defaults(), {}).supported_endpoints == ("/v1/chat/completions",)
    with pytest.raises(BadRequestError) as caught:
        deployment_from_record(bad, Defaults(), {})
    assert caught.value.param == "model_info.supported_endpoints"


# --- callbacks -----------------------------------------------------------------------------------------


def test_callbacks_name_classes_by_dotted_path_and_the_webhook_by_its_settings() -> None:
    config = load_config(
        one(
            {"model": "openai/gpt-4o", "api_key": "k"},
            litellm_settings={"callbacks": ["my_company.sinks.Audit", "webhook", "otel", "datadog"]},
            callback_settings={"webhook": {"url": "https://hooks.test/calls", "headers": {"x-token": "t"}}},
        ),
        {},
    )

    assert config.callbacks == ("my_company.sinks.Audit",)
    assert config.webhook is not None and config.webhook.url == "https://hooks.test/calls"
    assert (config.webhook.headers, config.webhook.flush_interval) == ({"x-token": "t"}, 2.0)
    assert config.tracing is not None and config.tracing.otlp  # otel: spans over OTLP
    assert config.ignored == ("litellm_settings.callbacks[3]",)  # datadog: not served


def test_the_webhook_callback_without_a_url_stops_startup_naming_it() -> None:
    config = one({"model": "openai/gpt-4o", "api_key": "k"}, litellm_settings={"callbacks": ["webhook"]})
    with pytest.raises(ConfigurationError) as refused:
        load_config(config, {})

    assert refused.value.path == "callback_settings.webhook.url"


@pytest.mark.parametrize(
    ("litellm_settings", "general_settings", "logged"),
    [
        ({}, {}, False),
        ({"log_prompts": True}, {}, True),
        ({}, {"log_prompts": True}, True),
        ({"log_prompts": True, "turn_off_message_logging": True}, {}, False),
        ({"turn_off_message_logging": True}, {"log_prompts": True}, False),
        ({}, {"store_prompts_in_spend_logs": True}, False),
    ],
)
def test_prompts_reach_the_logs_only_with_log_prompts_and_never_with_message_logging_turned_off(
    litellm_settings: dict[str, Any], general_settings: dict[str, Any], logged: bool
) -> None:
    config = load_config(
        one(
            {"model": "openai/gpt-4o", "api_key": "k"},
            litellm_settings=litellm_settings,
            general_settings=general_settings,
        ),
        {},
    )

    assert config.log_prompts is logged
    assert config.store_prompts_in_spend_logs is bool(general_settings.get("store_prompts_in_spend_logs"))
    assert not config.ignored

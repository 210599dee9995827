"""Turning one validated `model_list` entry into a domain Deployment."""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from adapters.config.diagnostics import Report, did_you_mean, path_of
from adapters.config.providers import PROVIDERS, split_model
from adapters.config.schema import LiteLLMParams, ModelEntry, PriceKeys
from adapters.llm.hosts import CREDENTIAL_ENV, HOSTS, KEYLESS, NEEDS_API_BASE, Host, first_set
from domain.completions import ReasoningEffort, SamplingParams
from domain.deployments import Capabilities, Credentials, Deployment, Limits, Secret
from domain.errors import BadRequestError, ConfigurationError
from domain.pricing import DEFAULT_TIER_THRESHOLD, ModelPrices

_SAMPLING = tuple(field.name for field in dataclasses.fields(SamplingParams))
# Request fields beyond SamplingParams that a deployment may preset; provider adapters pass them on.
_ROUTING_KEYS = frozenset({"order", "tags", "use_in_pass_through"})
_REQUEST_EXTRAS = frozenset(
    {
        "top_k",
        "extra_headers",
        "extra_body",
        "thinking",
        "response_format",
        "tool_choice",
        "service_tier",
        "safety_settings",
        "verbosity",
        "web_search_options",
        "mock_response",
    }
)
# LiteLLM features a deployment may name that Switchyard does not act on yet.
_UNSUPPORTED = frozenset(
    {
        "tag_regex",
        "max_retries",
        "num_retries",
        "litellm_credential_name",
        "max_budget",
        "budget_duration",
        "use_litellm_proxy",
        "merge_reasoning_content_in_choices",
        "model_info",
        "itpm",
        "otpm",
        "tpd",
        "rpd",
        "daily_reset_time",
        "configurable_clientside_auth_params",
        "max_file_size_mb",
        "default_api_key_tpm_limit",
        "default_api_key_rpm_limit",
        "keepalive_seconds",
        "timeout_by_service_tier",
        "stream_timeout_by_service_tier",
    }
)
_CHAT_MODES = frozenset({"chat", "completion", "responses"})
_AUDIO_MODES = ("audio_transcription", "audio_speech")
# Upstream model names that are audio models, when model_info names no mode (OpenAI's, Groq's).
_TRANSCRIPTION_MODELS = ("whisper", "transcribe")
_SPEECH_MODELS = ("tts",)
# Providers that only transcribe: each deployment is a transcription model, whatever its name.
_TRANSCRIBING = frozenset({"deepgram"})
# Providers that embed and rerank but never chat: a deployment is an embedding model unless marked
# `mode: rerank` (both serve rerank, see _RERANKING).
_RETRIEVING = frozenset({"voyage", "jina_ai"})
_SERVED_MODES = _CHAT_MODES | {"embedding", "moderation", "rerank", "image_generation", *_AUDIO_MODES}
# Providers whose every deployment also serves moderations (their upstream has the endpoint).
_MODERATING = frozenset({"openai", "mock"})
# Providers whose every deployment also reranks; others (an OpenAI-compatible host's `/rerank`) only
# when marked `mode: rerank`.
_RERANKING = frozenset({"cohere", "voyage", "jina_ai", "mock"})
# Upstream model names that make images, when model_info names no mode (OpenAI's DALL-E and GPT image,
# Google's Imagen and Gemini image models, Bedrock's Titan Image Generator, Nova Canvas and Stability AI
# models).
_IMAGE_MODELS = (
    "dall-e", "gpt-image", "imagen-", "flash-image", "pro-image", "image-generation", "titan-image",
    "nova-canvas", "stability.",
)  # fmt: skip
# LiteLLM's price keys that Switchyard reads, and the ModelPrices field each one sets.
_PRICES = {
    "input_cost_per_token": "input",
    "output_cost_per_token": "output",
    "cache_read_input_token_cost": "cache_read",
    "cache_creation_input_token_cost": "cache_write",
    "output_cost_per_reasoning_token": "reasoning",
    "input_cost_per_request": "per_request",
    "input_cost_per_query": "per_query",
    "input_cost_per_second": "per_second",
    "input_cost_per_character": "per_character",
    "input_cost_per_image": "input_per_image",
    "output_cost_per_image": "output_per_image",
    "input_cost_per_token_above_200k_tokens": "input_above_tier",
    "output_cost_per_token_above_200k_tokens": "output_above_tier",
    "cache_read_input_token_cost_above_200k_tokens": "cache_read_above_tier",
    "cache_creation_input_token_cost_above_200k_tokens": "cache_write_above_tier",
}


@dataclass(frozen=True, slots=True)
class Defaults:
    """Gateway-wide settings a deployment inherits unless it sets its own."""

    drop_params: bool = False
    timeout: float = 600.0
    max_parallel_requests: int | None = None


def build_deployment(
    entry: ModelEntry,
    raw: Mapping[str, Any],
    *,
    index: int,
    defaults: Defaults,
    environ: Mapping[str, str],
    report: Report,
) -> Deployment | None:
    """The deployment `entry` describes, or None (reported) when it serves a mode we do not serve.

    `raw` is the entry as written, before `os.environ/` resolution: it feeds the deployment id, which
    must not change when a secret rotates.
    """
    base = path_of("model_list", index)
    params_key = "params" if "params" in raw and "litellm_params" not in raw else "litellm_params"
    at = path_of(base, params_key)
    params, info = entry.litellm_params, entry.model_info
    report.ignore_unknown(base, entry.model_extra, ("model_name", "litellm_params", "model_info"))

    provider, upstream = _provider(params, at)
    mode = info.mode or _default_mode(provider, upstream.lower())
    if mode not in _SERVED_MODES:
        report.ignore(path_of(base, "model_info", "mode"))
        report.warn(base, f"mode '{mode}' is not served yet; deployment {entry.model_name} skipped")
        return None
    host = HOSTS[provider]
    request_extras, credential_extras = _classify_extras(params, at, report)
    request_defaults = _request_defaults(params, request_extras, at)
    if "mock_response" in request_defaults:
        provider = "mock"  # LiteLLM answers such a deployment itself; no upstream is ever called

    info_at, info_extra = path_of(base, "model_info"), info.model_extra or {}
    report.ignore_unknown(
        info_at, {k: v for k, v in info_extra.items() if not _is_price(k)}, set(type(info).model_fields)
    )
    for key in filter(_is_price, info_extra):
        _ignore_price(path_of(info_at, key), key, report)
    return Deployment(
        id=info.id or _stable_id(raw, params_key),
        model_name=entry.model_name,
        provider=provider,
        upstream_model=upstream,
        api_base=_api_base(params, provider, host, environ, at),
        credentials=Credentials(
            api_key=_api_key(params, provider, host, environ, at, report),
            extra=_credential_extras(credential_extras, provider, environ),
        ),
        limits=Limits(
            rpm=params.rpm,
            tpm=params.tpm,
            max_parallel_requests=params.max_parallel_requests or defaults.max_parallel_requests,
            timeout=params.timeout or defaults.timeout,
            stream_timeout=params.stream_timeout,
        ),
        weight=params.weight or 1.0,
        prices=_prices(info, params),
        capabilities=_capabilities(entry, mode, provider, upstream),
        drop_params=defaults.drop_params if params.drop_params is None else params.drop_params,
        extra_params=request_defaults,
        order=_order(params, at),
        tags=_tags(params, at),
        use_in_pass_through=(params.model_extra or {}).get("use_in_pass_through") is True,
        access_groups=tuple(info.access_groups),
        supported_endpoints=None if info.supported_endpoints is None else tuple(info.supported_endpoints),
    )


def _order(params: LiteLLMParams, at: str) -> int | None:
    order = (params.model_extra or {}).get("order")
    if order is None:
        return None
    if isinstance(order, bool) or not isinstance(order, int) or order < 0:
        raise ConfigurationError(path_of(at, "order"), "must be a whole number of at least 0")
    return order


def _tags(params: LiteLLMParams, at: str) -> tuple[str, ...]:
    tags = (params.model_extra or {}).get("tags")
    if tags is None:
        return ()
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise ConfigurationError(path_of(at, "tags"), "must be a list of strings")
    return tuple(tags)


def _provider(params: LiteLLMParams, at: str) -> tuple[str, str]:
    custom = params.custom_llm_provider
    if custom is not None and custom not in PROVIDERS:
        raise ConfigurationError(
            path_of(at, "custom_llm_provider"),
            f"unknown provider '{custom}'{did_you_mean(custom, PROVIDERS)}",
        )
    try:
        return split_model(params.model, custom)
    except ValueError as exc:
        raise ConfigurationError(path_of(at, "model"), str(exc)) from None


def _classify_extras(params: LiteLLMParams, at: str, report: Report) -> tuple[dict[str, Any], dict[str, Any]]:
    """Sorts the keys LiteLLMParams does not name into request defaults and credentials, reporting the
    LiteLLM features we do not act on."""
    request: dict[str, Any] = {}
    credentials: dict[str, Any] = {}
    known = set(type(params).model_fields)
    for key, value in (params.model_extra or {}).items():
        if key in _ROUTING_KEYS:
            continue  # read into the deployment itself
        if key in _REQUEST_EXTRAS:
            request[key] = value
        elif _is_price(key):
            _ignore_price(path_of(at, key), key, report)
        elif key in _UNSUPPORTED:
            report.ignore(path_of(at, key))
        else:
            hint = did_you_mean(key, known)
            if hint:
                report.warn(path_of(at, key), f"taken as a provider-specific credential{hint}")
            credentials[key] = value
    return request, credentials


def _request_defaults(params: LiteLLMParams, extras: dict[str, Any], at: str) -> dict[str, Any]:
    chosen = {name: getattr(params, name) for name in _SAMPLING if getattr(params, name, None) is not None}
    if isinstance(chosen.get("stop"), str):
        chosen["stop"] = (chosen["stop"],)
    elif "stop" in chosen:
        chosen["stop"] = tuple(chosen["stop"])
    if "reasoning_effort" in chosen:
        chosen["reasoning_effort"] = ReasoningEffort(chosen["reasoning_effort"])
    try:
        SamplingParams(**chosen)
    except BadRequestError as exc:  # the request-time check, run once at startup instead
        raise ConfigurationError(path_of(at, exc.param or ""), exc.message) from None
    return {**chosen, **extras}


def _api_base(
    params: LiteLLMParams, provider: str, host: Host, environ: Mapping[str, str], at: str
) -> str | None:
    """The configured base URL, else the provider's environment variable, else its public endpoint."""
    where = path_of(at, "base_url" if params.base_url and not params.api_base else "api_base")
    api_base, source = params.api_base or params.base_url, ""
    if api_base is None and (from_env := first_set(environ, host.base_env)):
        source, api_base = f" (from {from_env[0]})", from_env[1]
    api_base = api_base or host.api_base
    if api_base is None:
        if provider in NEEDS_API_BASE:
            raise ConfigurationError(where, f"is required for provider '{provider}'")
        return None
    if not api_base.startswith(("http://", "https://")):
        raise ConfigurationError(where, f"must be an http:// or https:// URL, not '{api_base}'{source}")
    return api_base.rstrip("/")


def _api_key(
    params: LiteLLMParams, provider: str, host: Host, environ: Mapping[str, str], at: str, report: Report
) -> Secret | None:
    if params.api_key:
        return Secret(params.api_key)
    from_env = first_set(environ, host.key_env)
    if from_env:
        return Secret(from_env[1])
    if provider not in KEYLESS:
        looked = f" and {host.key_env[0]} is not in the environment" if host.key_env else ""
        report.warn(path_of(at, "api_key"), f"not set{looked}; calls will likely fail with 401")
    return None


def _credential_extras(
    configured: dict[str, Any], provider: str, environ: Mapping[str, str]
) -> dict[str, Any]:
    extra = {key: _plain(value) for key, value in configured.items() if value is not None}
    for name, env_names in CREDENTIAL_ENV.get(provider, {}).items():
        found = first_set(environ, env_names)
        if name not in extra and found:
            extra[name] = found[1]
    return extra


def _plain(value: Any) -> Any:
    # YAML reads an unquoted `api_version: 2024-02-01` as a date; every provider wants the text.
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def _prices(info: PriceKeys, params: PriceKeys) -> ModelPrices:
    """The prices the config sets: each from model_info, else from litellm_params (LiteLLM reads both).
    Its long-context keys are all `_above_200k_tokens` ones, so any of them sets that threshold."""
    given: dict[str, Any] = {}
    for key, name in _PRICES.items():
        value: Decimal | None = getattr(info, key)
        if value is None:
            value = getattr(params, key)
        if value is not None:
            given[name] = value
    if any(name.endswith("_above_tier") for name in given):
        given["tier_threshold"] = DEFAULT_TIER_THRESHOLD
    return ModelPrices(**given)


def _is_price(key: str) -> bool:
    """One of LiteLLM's many price keys (per character, second, image, audio token; batch and service
    tier prices; other context thresholds), none of which may be taken for a credential."""
    return "cost" in key.split("_")


def _ignore_price(path: str, key: str, report: Report) -> None:
    """Reports a price key we do not read. Most are real LiteLLM keys a near-miss hint would mislead
    about (`input_cost_per_token_flex` is no typo of `input_cost_per_token`), so only a key a letter or
    two from one we read, and not a long-context key for another threshold, earns the warning."""
    report.ignore(path)
    close = [] if "_above_" in key else difflib.get_close_matches(key, _PRICES, n=1, cutoff=0.95)
    if close:
        report.warn(path, f"unknown price key, ignored; did you mean '{close[0]}'?")


def _capabilities(entry: ModelEntry, mode: str, provider: str, upstream: str) -> Capabilities:
    info, default = entry.model_info, Capabilities()

    def given(value: bool | None, fallback: bool) -> bool:
        return fallback if value is None else value

    return Capabilities(
        chat=mode in _CHAT_MODES,
        moderation=mode == "moderation" or provider in _MODERATING,
        rerank=mode == "rerank" or provider in _RERANKING,
        images=mode == "image_generation" or provider == "mock",
        transcription=mode == "audio_transcription" or provider == "mock",
        speech=mode == "audio_speech" or provider == "mock",
        mode=mode,
        # The mock answers both; a wildcard serves whatever the caller names, embedding models included.
        embeddings=mode == "embedding" or provider == "mock" or (info.mode is None and "*" in upstream),
        streaming=default.streaming,
        tools=given(info.supports_function_calling, default.tools),
        vision=given(info.supports_vision, default.vision),
        response_schema=given(info.supports_response_schema, default.response_schema),
        reasoning=given(info.supports_reasoning, default.reasoning),
        max_input_tokens=info.max_input_tokens,
        max_output_tokens=info.max_output_tokens or info.max_tokens,
    )


def _stable_id(raw: Mapping[str, Any], params_key: str) -> str:
    """A short hash of the public name and the params as written, like LiteLLM's generated ids: the
    same config yields the same ids on every instance and restart."""
    text = json.dumps([raw.get("model_name"), raw.get(params_key)], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _default_mode(provider: str, upstream: str) -> str:
    """The mode of a deployment whose model_info names none, from its provider or upstream model's name."""
    if provider in _TRANSCRIBING:
        return "audio_transcription"
    if provider in _RETRIEVING:
        return "embedding"
    if "embed" in upstream:
        return "embedding"
    if any(name in upstream for name in _TRANSCRIPTION_MODELS):
        return "audio_transcription"
    if any(name in upstream for name in _SPEECH_MODELS):
        return "audio_speech"
    return "image_generation" if any(name in upstream for name in _IMAGE_MODELS) else "chat"

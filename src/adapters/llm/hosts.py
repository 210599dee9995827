"""Where each provider lives, which environment variables configure it, and what the OpenAI-compatible
hosts do differently from OpenAI: one row per provider, read by the config loader (base URLs, keys) and
by the OpenAI adapter (quirks, refusals). Adding an OpenAI-compatible host is adding a row.

What each host rejects comes from its own documentation:
- groq (console.groq.com/docs/openai): `logprobs`, `logit_bias`, `top_logprobs` fail with a 400, and `n`
  must be 1.
- mistral (the official SDK's ChatCompletionRequest; the API refuses fields it does not know): no
  `logit_bias`, `logprobs`, `top_logprobs` or `user`; the seed is `random_seed`, the cap `max_tokens`.
- deepseek (api-docs.deepseek.com, create chat completion): `response_format` is text or json_object
  only; no `n`, `seed` or `logit_bias`; the cap is `max_tokens`.
- cerebras (its OpenAI-compatibility notes, as ReqLLM's Cerebras guide quotes them): `frequency_penalty`,
  `presence_penalty`, `logit_bias` and `parallel_tool_calls` fail with a 400.
- perplexity (docs.perplexity.ai's OpenAI-compatibility parameter list; Bifrost's Perplexity notes): no
  tool calling; `logit_bias`, `logprobs`, `top_logprobs`, `seed`, `parallel_tool_calls` are dropped
  silently by the host, so they are refused here; one choice.
Rows without refusals (xai, together_ai, fireworks_ai, deepinfra, nvidia_nim, sambanova, the local
servers) have none recorded: add them here as hosts document them.
- openrouter: optional attribution headers `HTTP-Referer` and `X-Title` (site_url / app_name).
Hosts that take `max_tokens` only get `max_completion_tokens` renamed to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

_NOTHING: Mapping[str, str] = MappingProxyType({})
_MAX_TOKENS_ONLY: Mapping[str, str] = MappingProxyType({"max_completion_tokens": "max_tokens"})


@dataclass(frozen=True, slots=True)
class Host:
    api_base: str | None
    """The base URL LiteLLM uses for the provider when the config gives none (see INTERFACE.md)."""
    key_env: tuple[str, ...] = ()
    """Environment variables that may hold the API key, the canonical (LiteLLM's) name first."""
    base_env: tuple[str, ...] = ()
    """Environment variables that may override the base URL."""
    openai_compatible: bool = False
    """Speaks the OpenAI wire format through the OpenAI adapter; such hosts get a wildcard deployment
    in the default config."""
    renamed: Mapping[str, str] = field(default_factory=lambda: _NOTHING)
    """OpenAI body fields the host knows by another name (OpenAI name -> the host's)."""
    unsupported: frozenset[str] = frozenset()
    """OpenAI parameters the host rejects or ignores whenever they are set."""
    max_choices: int | None = None
    """The largest `n` the host honours; None when it takes any."""
    json_schema: bool = True
    """Whether `response_format` may be a json_schema (json_object is assumed)."""
    headers_from: Mapping[str, str] = field(default_factory=lambda: _NOTHING)
    """Optional headers taken from the deployment's credentials (credential name -> header name)."""


def _mapping(**items: str) -> Mapping[str, str]:
    return MappingProxyType(items)


HOSTS: Mapping[str, Host] = {
    "openai": Host(
        "https://api.openai.com/v1", ("OPENAI_API_KEY",), ("OPENAI_BASE_URL", "OPENAI_API_BASE"), True
    ),
    "groq": Host(
        "https://api.groq.com/openai/v1",
        ("GROQ_API_KEY",),
        ("GROQ_API_BASE",),
        True,
        unsupported=frozenset({"logprobs", "logit_bias", "top_logprobs"}),
        max_choices=1,
    ),
    "mistral": Host(
        "https://api.mistral.ai/v1",
        ("MISTRAL_API_KEY",),
        ("MISTRAL_API_BASE",),
        True,
        renamed=_mapping(seed="random_seed", max_completion_tokens="max_tokens"),
        unsupported=frozenset({"logit_bias", "logprobs", "top_logprobs", "user"}),
    ),
    "deepseek": Host(
        "https://api.deepseek.com",
        ("DEEPSEEK_API_KEY",),
        ("DEEPSEEK_API_BASE",),
        True,
        renamed=_MAX_TOKENS_ONLY,
        unsupported=frozenset({"logit_bias", "seed"}),
        max_choices=1,
        json_schema=False,
    ),
    "xai": Host("https://api.x.ai/v1", ("XAI_API_KEY",), ("XAI_API_BASE",), True),
    "together_ai": Host(
        "https://api.together.xyz/v1",
        ("TOGETHERAI_API_KEY", "TOGETHER_API_KEY"),
        (),
        True,
        renamed=_MAX_TOKENS_ONLY,
    ),
    "fireworks_ai": Host(
        "https://api.fireworks.ai/inference/v1",
        ("FIREWORKS_AI_API_KEY", "FIREWORKS_API_KEY"),
        (),
        True,
        renamed=_MAX_TOKENS_ONLY,
    ),
    "openrouter": Host(
        "https://openrouter.ai/api/v1",
        ("OPENROUTER_API_KEY", "OR_API_KEY"),
        (),
        True,
        renamed=_MAX_TOKENS_ONLY,
        headers_from=_mapping(site_url="HTTP-Referer", app_name="X-Title"),
    ),
    "perplexity": Host(
        "https://api.perplexity.ai",
        ("PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"),
        (),
        True,
        renamed=_MAX_TOKENS_ONLY,
        unsupported=frozenset(
            {"tools", "logit_bias", "logprobs", "top_logprobs", "seed", "parallel_tool_calls"}
        ),
        max_choices=1,
    ),
    "deepinfra": Host(
        "https://api.deepinfra.com/v1/openai", ("DEEPINFRA_API_KEY",), (), True, renamed=_MAX_TOKENS_ONLY
    ),
    "cerebras": Host(
        "https://api.cerebras.ai/v1",
        ("CEREBRAS_API_KEY",),
        (),
        True,
        unsupported=frozenset({"frequency_penalty", "presence_penalty", "logit_bias", "parallel_tool_calls"}),
    ),
    "nvidia_nim": Host(
        "https://integrate.api.nvidia.com/v1",
        ("NVIDIA_NIM_API_KEY",),
        ("NVIDIA_NIM_API_BASE",),
        True,
        renamed=_MAX_TOKENS_ONLY,
    ),
    "sambanova": Host(
        "https://api.sambanova.ai/v1", ("SAMBANOVA_API_KEY",), (), True, renamed=_MAX_TOKENS_ONLY
    ),
    # Local servers: their keys are optional, so they never join the default config (see KEYLESS).
    "hosted_vllm": Host(None, ("HOSTED_VLLM_API_KEY",), ("HOSTED_VLLM_API_BASE",), True),
    "lm_studio": Host(
        "http://localhost:1234/v1",
        ("LM_STUDIO_API_KEY",),
        ("LM_STUDIO_API_BASE",),
        True,
        renamed=_MAX_TOKENS_ONLY,
    ),
    "llamafile": Host(
        "http://127.0.0.1:8080/v1", (), ("LLAMAFILE_API_BASE",), True, renamed=_MAX_TOKENS_ONLY
    ),
    "ollama": Host("http://localhost:11434", (), ("OLLAMA_API_BASE",)),
    "ollama_chat": Host("http://localhost:11434", (), ("OLLAMA_API_BASE",)),
    # Native wire formats: base URLs as INTERFACE.md defines them for `api_base`.
    "anthropic": Host(
        "https://api.anthropic.com", ("ANTHROPIC_API_KEY",), ("ANTHROPIC_API_BASE", "ANTHROPIC_BASE_URL")
    ),
    "gemini": Host("https://generativelanguage.googleapis.com", ("GEMINI_API_KEY", "GOOGLE_API_KEY")),
    "cohere": Host("https://api.cohere.com", ("COHERE_API_KEY", "CO_API_KEY"), ("COHERE_API_BASE",)),
    "azure": Host(
        None, ("AZURE_API_KEY", "AZURE_OPENAI_API_KEY"), ("AZURE_API_BASE", "AZURE_OPENAI_ENDPOINT")
    ),
    "azure_ai": Host(None, ("AZURE_AI_API_KEY",), ("AZURE_AI_API_BASE",)),
    "bedrock": Host(None),
    "vertex_ai": Host(None),
    "mock": Host(None),
}

NEEDS_API_BASE = frozenset({"azure", "azure_ai", "hosted_vllm"})
"""Providers with no public endpoint: a deployment must name its own."""

KEYLESS = frozenset(
    {"mock", "ollama", "ollama_chat", "hosted_vllm", "lm_studio", "llamafile", "bedrock", "vertex_ai"}
)
"""Providers that authenticate otherwise (or not at all): a missing api_key is no cause for a warning."""

CREDENTIAL_ENV: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    # litellm_params that LiteLLM reads from the environment when the config leaves them out; resolved
    # here so that provider adapters never read the environment themselves.
    "azure": {
        "api_version": ("AZURE_API_VERSION", "OPENAI_API_VERSION"),
        "azure_ad_token": ("AZURE_AD_TOKEN",),
        "tenant_id": ("AZURE_TENANT_ID",),
        "client_id": ("AZURE_CLIENT_ID",),
        "client_secret": ("AZURE_CLIENT_SECRET",),
        "azure_authority_host": ("AZURE_AUTHORITY_HOST",),
    },
    "azure_ai": {"api_version": ("AZURE_AI_API_VERSION",)},
    "openrouter": {"site_url": ("OR_SITE_URL",), "app_name": ("OR_APP_NAME",)},
    "bedrock": {
        "aws_access_key_id": ("AWS_ACCESS_KEY_ID",),
        "aws_secret_access_key": ("AWS_SECRET_ACCESS_KEY",),
        "aws_session_token": ("AWS_SESSION_TOKEN",),
        "aws_region_name": ("AWS_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION"),
    },
    "vertex_ai": {
        "vertex_project": ("VERTEXAI_PROJECT", "VERTEX_PROJECT", "GOOGLE_CLOUD_PROJECT"),
        "vertex_location": ("VERTEXAI_LOCATION", "VERTEX_LOCATION"),
        "vertex_credentials": ("VERTEXAI_CREDENTIALS", "GOOGLE_APPLICATION_CREDENTIALS"),
    },
}


def first_set(environ: Mapping[str, str], names: tuple[str, ...]) -> tuple[str, str] | None:
    """The first of `names` set (non-empty) in `environ`, with its value."""
    for name in names:
        value = environ.get(name)
        if value:
            return name, value
    return None

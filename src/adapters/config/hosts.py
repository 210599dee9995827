"""Where each provider lives by default and which environment variables hold its key and base URL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple


class Host(NamedTuple):
    api_base: str | None
    """The base URL LiteLLM uses for the provider when the config gives none (see INTERFACE.md)."""
    key_env: tuple[str, ...] = ()
    """Environment variables that may hold the API key, the canonical (LiteLLM's) name first."""
    base_env: tuple[str, ...] = ()
    """Environment variables that may override the base URL."""
    openai_compatible: bool = False
    """Speaks the OpenAI wire format; such hosts get a wildcard deployment in the default config."""


HOSTS: Mapping[str, Host] = {
    "openai": Host(
        "https://api.openai.com/v1", ("OPENAI_API_KEY",), ("OPENAI_BASE_URL", "OPENAI_API_BASE"), True
    ),
    "groq": Host("https://api.groq.com/openai/v1", ("GROQ_API_KEY",), ("GROQ_API_BASE",), True),
    "mistral": Host("https://api.mistral.ai/v1", ("MISTRAL_API_KEY",), ("MISTRAL_API_BASE",), True),
    "deepseek": Host("https://api.deepseek.com", ("DEEPSEEK_API_KEY",), ("DEEPSEEK_API_BASE",), True),
    "xai": Host("https://api.x.ai/v1", ("XAI_API_KEY",), ("XAI_API_BASE",), True),
    "together_ai": Host("https://api.together.xyz/v1", ("TOGETHERAI_API_KEY", "TOGETHER_API_KEY"), (), True),
    "fireworks_ai": Host(
        "https://api.fireworks.ai/inference/v1", ("FIREWORKS_AI_API_KEY", "FIREWORKS_API_KEY"), (), True
    ),
    "openrouter": Host("https://openrouter.ai/api/v1", ("OPENROUTER_API_KEY", "OR_API_KEY"), (), True),
    "perplexity": Host("https://api.perplexity.ai", ("PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"), (), True),
    "deepinfra": Host("https://api.deepinfra.com/v1/openai", ("DEEPINFRA_API_KEY",), (), True),
    "cerebras": Host("https://api.cerebras.ai/v1", ("CEREBRAS_API_KEY",), (), True),
    "nvidia_nim": Host(
        "https://integrate.api.nvidia.com/v1", ("NVIDIA_NIM_API_KEY",), ("NVIDIA_NIM_API_BASE",), True
    ),
    "sambanova": Host("https://api.sambanova.ai/v1", ("SAMBANOVA_API_KEY",), (), True),
    # Local servers: their keys are optional, so they never join the default config (see KEYLESS).
    "hosted_vllm": Host(None, ("HOSTED_VLLM_API_KEY",), ("HOSTED_VLLM_API_BASE",), True),
    "lm_studio": Host("http://localhost:1234/v1", ("LM_STUDIO_API_KEY",), ("LM_STUDIO_API_BASE",), True),
    "llamafile": Host("http://127.0.0.1:8080/v1", (), ("LLAMAFILE_API_BASE",), True),
    "ollama": Host("http://localhost:11434", (), ("OLLAMA_API_BASE",)),
    "ollama_chat": Host("http://localhost:11434", (), ("OLLAMA_API_BASE",)),
    # Native wire formats: base URLs as INTERFACE.md defines them for `api_base`.
    "anthropic": Host(
        "https://api.anthropic.com", ("ANTHROPIC_API_KEY",), ("ANTHROPIC_API_BASE", "ANTHROPIC_BASE_URL")
    ),
    "gemini": Host("https://generativelanguage.googleapis.com", ("GEMINI_API_KEY", "GOOGLE_API_KEY")),
    "cohere": Host("https://api.cohere.com", ("COHERE_API_KEY", "CO_API_KEY")),
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
    "azure": {"api_version": ("AZURE_API_VERSION", "OPENAI_API_VERSION")},
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

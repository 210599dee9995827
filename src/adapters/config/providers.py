"""Reading `<provider>/<upstream id>` model strings the way LiteLLM does."""

from __future__ import annotations

from adapters.config.diagnostics import did_you_mean
from adapters.llm.hosts import HOSTS

PROVIDERS = frozenset(HOSTS)
"""Every provider prefix a model string may name: a row of the hosts table each (adapters/llm/hosts.py)."""

# Bare model ids whose provider is plain from the name, as LiteLLM infers them; anything else is OpenAI's.
_BARE_NAMES = (
    ("claude-", "anthropic"),
    ("gemini-", "gemini"),
    ("gemma-", "gemini"),
    ("text-embedding-004", "gemini"),
    ("command-", "cohere"),
    ("embed-english-", "cohere"),
    ("embed-multilingual-", "cohere"),
    ("mistral-", "mistral"),
    ("open-mistral-", "mistral"),
    ("open-mixtral-", "mistral"),
    ("codestral-", "mistral"),
    ("ministral-", "mistral"),
    ("pixtral-", "mistral"),
    ("magistral-", "mistral"),
    ("deepseek-", "deepseek"),
    ("grok-", "xai"),
)

# Route prefixes LiteLLM puts between the provider and the model id; they pick an API, not a model.
_ROUTE_PREFIXES = {"bedrock": ("converse/",)}


def split_model(model: str, custom_llm_provider: str | None = None) -> tuple[str, str]:
    """(provider, upstream model id). Raises ValueError with a message fit for the `model` path.

    `custom_llm_provider` names the provider outright (the model id may then carry no prefix); a model
    without a prefix belongs to the provider its name makes plain (`claude-...`, `gemini-...`), else to
    OpenAI, as in LiteLLM.
    """
    model = model.strip()
    if not model:
        raise ValueError("must not be empty")
    if custom_llm_provider is not None:
        provider = custom_llm_provider.strip()
        _check(provider)
        upstream = model.removeprefix(f"{provider}/")
    elif "/" in model:
        provider, upstream = model.split("/", 1)
        _check(provider)
    else:
        provider = next((p for prefix, p in _BARE_NAMES if model.startswith(prefix)), "openai")
        upstream = model
    for prefix in _ROUTE_PREFIXES.get(provider, ()):
        upstream = upstream.removeprefix(prefix)
    if not upstream:
        raise ValueError(f"names provider '{provider}' but no model after it")
    return provider, upstream


def _check(provider: str) -> None:
    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider '{provider}'{did_you_mean(provider, PROVIDERS)}")

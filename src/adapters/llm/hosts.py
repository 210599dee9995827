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
- codestral (Mistral's Codestral endpoint): Mistral's schema, so mistral's names and refusals.
- scaleway (its Chat API page): `frequency_penalty`, `n`, `top_logprobs`, `logit_bias`, `user` are
  unsupported.
Rows without refusals (xai, together_ai, fireworks_ai, deepinfra, nvidia_nim, sambanova, the hosts
LiteLLM added later, the local servers) have none recorded: add them here as hosts document them.
- openrouter: optional attribution headers `HTTP-Referer` and `X-Title` (site_url / app_name).
Hosts that take `max_tokens` only get `max_completion_tokens` renamed to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

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


def _compatible(api_base: str | None, *key_env: str, base_env: str | None = None, **quirks: Any) -> Host:
    """An OpenAI-compatible host's row: its key variables and at most one base URL variable."""
    return Host(api_base, key_env, (base_env,) if base_env else (), True, **quirks)


_MISTRAL_NAMES = _mapping(seed="random_seed", max_completion_tokens="max_tokens")
_MISTRAL_REFUSED = frozenset({"logit_bias", "logprobs", "top_logprobs", "user"})


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
        renamed=_MISTRAL_NAMES,
        unsupported=_MISTRAL_REFUSED,
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
    # OpenAI-compatible hosts of LiteLLM's later releases: base URL, key variables (LiteLLM's reading
    # order) and base variable as LiteLLM resolves them (litellm/litellm_core_utils/
    # get_llm_provider_logic.py, litellm/llms/<name>/chat/transformation.py, litellm/llms/openai_like/
    # providers.json); `max_tokens` where LiteLLM renames the cap for the host. Each comment names the
    # host's own page and LiteLLM's (docs.litellm.ai/docs/providers/<page>).
    # docs.nebius.com/studio/inference/quickstart; providers/nebius
    "nebius": _compatible(
        "https://api.studio.nebius.ai/v1",
        "NEBIUS_API_KEY",
        base_env="NEBIUS_API_BASE",
        renamed=_MAX_TOKENS_ONLY,
    ),
    # novita.ai/docs/guides/llm-api; providers/novita
    "novita": _compatible("https://api.novita.ai/v3/openai", "NOVITA_API_KEY", base_env="NOVITA_API_BASE"),
    # docs.hyperbolic.xyz/docs/rest-api; providers/hyperbolic
    "hyperbolic": _compatible(
        "https://api.hyperbolic.xyz/v1",
        "HYPERBOLIC_API_KEY",
        base_env="HYPERBOLIC_API_BASE",
        renamed=_MAX_TOKENS_ONLY,
    ),
    # featherless.ai (OpenAI-compatible API); providers/featherless_ai
    "featherless_ai": _compatible(
        "https://api.featherless.ai/v1",
        "FEATHERLESS_AI_API_KEY",
        "FEATHERLESS_API_KEY",
        base_env="FEATHERLESS_API_BASE",
        renamed=_MAX_TOKENS_ONLY,
    ),
    # docs.nscale.com/docs/inference/serverless-models/overview; providers/nscale
    "nscale": _compatible(
        "https://inference.api.nscale.com/v1", "NSCALE_API_KEY", base_env="NSCALE_API_BASE"
    ),
    # friendli.ai/docs/sdk/integrations/litellm (FRIENDLI_TOKEN is Friendli's own name); providers/friendliai
    "friendliai": _compatible(
        "https://api.friendli.ai/serverless/v1",
        "FRIENDLIAI_API_KEY",
        "FRIENDLI_TOKEN",
        base_env="FRIENDLI_API_BASE",
        renamed=_MAX_TOKENS_ONLY,
    ),
    # Baseten's Model APIs; a dedicated deployment names its own api_base
    # (https://model-<id>.api.baseten.co/environments/production/sync/v1): providers/baseten
    "baseten": _compatible("https://inference.baseten.co/v1", "BASETEN_API_KEY", renamed=_MAX_TOKENS_ONLY),
    # platform.moonshot.ai/docs/guide/migrating-from-openai-to-kimi; providers/moonshot. Its limits are
    # on values (temperature at most 1, no n > 1 at temperature 0, no tool_choice "required"), not on
    # parameters, so the host judges them itself.
    "moonshot": _compatible(
        "https://api.moonshot.ai/v1",
        "MOONSHOT_API_KEY",
        base_env="MOONSHOT_API_BASE",
        renamed=_MAX_TOKENS_ONLY,
    ),
    # Alibaba Cloud Model Studio, Singapore (help.aliyun.com/en/model-studio/base-url lists Beijing's
    # https://dashscope.aliyuncs.com/compatible-mode/v1 and the others); providers/dashscope
    "dashscope": _compatible(
        "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
        "DASHSCOPE_API_KEY",
        base_env="DASHSCOPE_API_BASE",
    ),
    # Volcano Engine Ark (www.volcengine.com/docs/82379/1494384); providers/volcano
    "volcengine": _compatible(
        "https://ark.cn-beijing.volces.com/api/v3",
        "VOLCENGINE_API_KEY",
        "ARK_API_KEY",
        base_env="VOLCENGINE_API_BASE",
        renamed=_MAX_TOKENS_ONLY,
    ),
    # docs.z.ai/api-reference/llm/chat-completion; providers/zai
    "zai": _compatible("https://api.z.ai/api/paas/v4", "ZAI_API_KEY", base_env="ZAI_API_BASE"),
    # MiniMax's international endpoint (China: https://api.minimaxi.com/v1); providers/minimax
    "minimax": _compatible("https://api.minimax.io/v1", "MINIMAX_API_KEY", base_env="MINIMAX_API_BASE"),
    # GitHub Models (github.com/marketplace/models) at the base LiteLLM uses; providers/github
    "github": _compatible(
        "https://models.inference.ai.azure.com", "GITHUB_API_KEY", base_env="GITHUB_API_BASE"
    ),
    # Mistral's Codestral endpoint takes Mistral's request schema (LiteLLM maps both with MistralConfig):
    # docs.mistral.ai/capabilities/code_generation; providers/codestral
    "codestral": _compatible(
        "https://codestral.mistral.ai/v1",
        "CODESTRAL_API_KEY",
        base_env="CODESTRAL_API_BASE",
        renamed=_MISTRAL_NAMES,
        unsupported=_MISTRAL_REFUSED,
    ),
    # llama.developer.meta.com/docs/features/compatibility; providers/meta_llama
    "meta_llama": _compatible("https://api.llama.com/compat/v1", "LLAMA_API_KEY", base_env="LLAMA_API_BASE"),
    # AI21's Jamba chat completions (docs.ai21.com); providers/ai21
    "ai21_chat": _compatible("https://api.ai21.com/studio/v1", "AI21_API_KEY", base_env="AI21_API_BASE"),
    # providers/galadriel
    "galadriel": _compatible(
        "https://api.galadriel.com/v1", "GALADRIEL_API_KEY", base_env="GALADRIEL_API_BASE"
    ),
    # v0.dev/docs/v0-model-api; providers/v0
    "v0": _compatible(
        "https://api.v0.dev/v1", "V0_API_KEY", base_env="V0_API_BASE", renamed=_MAX_TOKENS_ONLY
    ),
    # docs.morphllm.com/quickstart; providers/morph
    "morph": _compatible(
        "https://api.morphllm.com/v1", "MORPH_API_KEY", base_env="MORPH_API_BASE", renamed=_MAX_TOKENS_ONLY
    ),
    # OVHcloud AI Endpoints (endpoints.ai.cloud.ovh.net); providers/ovhcloud
    "ovhcloud": _compatible(
        "https://oai.endpoints.kepler.ai.cloud.ovh.net/v1", "OVHCLOUD_API_KEY", base_env="OVHCLOUD_API_BASE"
    ),
    # Scaleway Generative APIs: www.scaleway.com/en/docs/generative-apis/api-cli/using-chat-api names the
    # key variable and the unsupported parameters (frequency_penalty, n, top_logprobs, logit_bias, user).
    "scaleway": _compatible(
        "https://api.scaleway.ai/v1",
        "SCW_SECRET_KEY",
        unsupported=frozenset({"frequency_penalty", "top_logprobs", "logit_bias", "user"}),
        max_choices=1,
    ),
    # Another LiteLLM proxy upstream (providers/litellm_proxy): no public endpoint.
    "litellm_proxy": _compatible(None, "LITELLM_PROXY_API_KEY", base_env="LITELLM_PROXY_API_BASE"),
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
    # Native adapters, keys as LiteLLM reads them. Cloudflare's and Snowflake's base URLs hold the
    # account (`account_id`), which their adapters fill in when no api_base is given.
    "huggingface": Host(
        "https://router.huggingface.co/v1",
        ("HF_TOKEN", "HUGGINGFACE_API_KEY"),
        ("HF_API_BASE", "HUGGINGFACE_API_BASE"),
    ),
    "voyage": Host("https://api.voyageai.com/v1", ("VOYAGE_API_KEY", "VOYAGE_AI_API_KEY")),
    "jina_ai": Host("https://api.jina.ai/v1", ("JINA_AI_API_KEY", "JINA_API_KEY"), ("JINA_AI_API_BASE",)),
    "cloudflare": Host(None, ("CLOUDFLARE_API_KEY",), ("CLOUDFLARE_API_BASE",)),
    "snowflake": Host(None, ("SNOWFLAKE_JWT",), ("SNOWFLAKE_API_BASE",)),
    "deepgram": Host("https://api.deepgram.com/v1", ("DEEPGRAM_API_KEY",), ("DEEPGRAM_API_BASE",)),
    # watsonx.ai's region URL and Databricks' workspace are the user's own; keys and bases as LiteLLM reads
    # them (litellm/llms/watsonx/common_utils.py, litellm/llms/databricks/common_utils.py).
    "watsonx": Host(
        None,
        ("WATSONX_APIKEY", "WATSONX_API_KEY", "WX_API_KEY"),
        ("WATSONX_API_BASE", "WATSONX_URL", "WX_URL", "WML_URL"),
    ),
    "databricks": Host(
        None, ("DATABRICKS_API_KEY", "DATABRICKS_TOKEN"), ("DATABRICKS_API_BASE", "DATABRICKS_HOST")
    ),
    "sagemaker": Host(None),
    "sagemaker_chat": Host(None),
    "azure": Host(
        None, ("AZURE_API_KEY", "AZURE_OPENAI_API_KEY"), ("AZURE_API_BASE", "AZURE_OPENAI_ENDPOINT")
    ),
    "azure_ai": Host(None, ("AZURE_AI_API_KEY",), ("AZURE_AI_API_BASE",)),
    "bedrock": Host(None),
    "vertex_ai": Host(None),
    "mock": Host(None),
}

NEEDS_API_BASE = frozenset({"azure", "azure_ai", "hosted_vllm", "litellm_proxy", "watsonx", "databricks"})
"""Providers with no public endpoint: a deployment must name its own."""

KEYLESS = frozenset(
    {"mock", "ollama", "ollama_chat", "hosted_vllm", "lm_studio", "llamafile", "bedrock", "vertex_ai"}
    # SageMaker signs with AWS credentials; watsonx.ai and Databricks may authenticate with a token or OAuth.
    | {"sagemaker", "sagemaker_chat", "watsonx", "databricks"}
)
"""Providers that authenticate otherwise (or not at all): a missing api_key is no cause for a warning."""

_AWS_ENV: Mapping[str, tuple[str, ...]] = {
    "aws_access_key_id": ("AWS_ACCESS_KEY_ID",),
    "aws_secret_access_key": ("AWS_SECRET_ACCESS_KEY",),
    "aws_session_token": ("AWS_SESSION_TOKEN",),
    "aws_region_name": ("AWS_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION"),
}
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
    "cloudflare": {"account_id": ("CLOUDFLARE_ACCOUNT_ID",)},
    "snowflake": {"account_id": ("SNOWFLAKE_ACCOUNT_ID",)},
    "bedrock": _AWS_ENV,
    "sagemaker": _AWS_ENV,
    "sagemaker_chat": _AWS_ENV,
    "watsonx": {
        "project_id": ("WATSONX_PROJECT_ID", "WX_PROJECT_ID"),
        "space_id": ("WATSONX_DEPLOYMENT_SPACE_ID", "WATSONX_SPACE_ID", "WX_SPACE_ID"),
        "token": ("WATSONX_TOKEN",),
        "zen_api_key": ("WATSONX_ZENAPIKEY",),
        "iam_url": ("WATSONX_IAM_URL",),
        "api_version": ("WATSONX_API_VERSION",),
    },
    "databricks": {"client_id": ("DATABRICKS_CLIENT_ID",), "client_secret": ("DATABRICKS_CLIENT_SECRET",)},
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

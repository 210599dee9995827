"""Deployments (one upstream model behind a public name) and the model groups they form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Any

from domain.errors import ConfigurationError
from domain.frozen import frozen
from domain.pricing import UNPRICED, ModelPrices

SECRET_PARAMS = frozenset(
    {
        "api_key",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "azure_ad_token",
        "client_secret",
        "vertex_credentials",
    }
)
"""The `litellm_params` that hold credentials (those the provider adapters authenticate with): masked
wherever a deployment is shown or audited, and encrypted where one is stored."""


@frozen
class Secret:
    """A credential value that never shows itself in a repr, log or traceback."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('****')"

    def __str__(self) -> str:
        return "****"


@frozen
class Credentials:
    """What a provider adapter needs to authenticate; `extra` holds provider specifics
    (api_version, aws_access_key_id, vertex_project, ...) exactly as configured."""

    api_key: Secret | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)  # may hold secrets (aws_*, ...)


@frozen
class Limits:
    rpm: int | None = None
    tpm: int | None = None
    max_parallel_requests: int | None = None
    timeout: float = 600.0
    """Seconds for a whole non-streamed call."""
    stream_timeout: float | None = None
    """Seconds to wait for each piece of a stream; `timeout` when unset."""
    connect_timeout: float = 10.0


@frozen
class Capabilities:
    chat: bool = True
    embeddings: bool = False
    moderation: bool = False
    """Classifies text for harm (OpenAI's moderations)."""
    rerank: bool = False
    """Orders documents by relevance to a query (Cohere's rerank)."""
    images: bool = False
    """Generates images from a prompt (OpenAI's images/generations)."""
    transcription: bool = False
    """Turns speech into text (OpenAI's audio transcriptions and translations)."""
    speech: bool = False
    """Turns text into speech (OpenAI's audio/speech)."""
    mode: str = "chat"
    """What the deployment is for, as the config's `model_info.mode` says (LiteLLM's names: chat,
    completion, embedding, moderation, ...)."""
    streaming: bool = True
    tools: bool = True
    vision: bool = True
    response_schema: bool = True
    reasoning: bool = False
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None

    def limited_to(self, other: Capabilities) -> Capabilities:
        """What both allow: a model's declared features, as far as its provider adapter can carry them."""
        return Capabilities(
            chat=self.chat and other.chat,
            embeddings=self.embeddings and other.embeddings,
            moderation=self.moderation and other.moderation,
            rerank=self.rerank and other.rerank,
            images=self.images and other.images,
            transcription=self.transcription and other.transcription,
            speech=self.speech and other.speech,
            mode=self.mode,
            streaming=self.streaming and other.streaming,
            tools=self.tools and other.tools,
            vision=self.vision and other.vision,
            response_schema=self.response_schema and other.response_schema,
            reasoning=self.reasoning and other.reasoning,
            max_input_tokens=self.max_input_tokens or other.max_input_tokens,
            max_output_tokens=self.max_output_tokens or other.max_output_tokens,
        )


@frozen
class Deployment:
    id: str
    model_name: str
    """The public name clients send as `model`."""
    provider: str
    upstream_model: str
    api_base: str | None = None
    credentials: Credentials = Credentials()
    limits: Limits = Limits()
    weight: float = 1.0
    prices: ModelPrices = UNPRICED
    """The prices the config gives; the price catalog fills in the rest when the gateway starts."""
    capabilities: Capabilities = Capabilities()
    drop_params: bool = False
    """Drop parameters the deployment cannot take instead of failing the call."""
    extra_params: Mapping[str, Any] = field(default_factory=dict)
    """Default request fields set in config (e.g. temperature), sent unless the caller sets them."""
    order: int | None = None
    """Priority tier (LiteLLM's `order`): the lowest available order takes every call; None comes last."""
    tags: tuple[str, ...] = ()
    """Routing tags (LiteLLM's `tags`); "default" marks the deployments untagged requests prefer."""
    use_in_pass_through: bool = False
    """Its api_base and credentials serve its provider's pass-through route (`/anthropic/...`)."""
    access_groups: tuple[str, ...] = ()
    """Names (`model_info.access_groups`) a key's, team's or user's model list may use for this model."""
    supported_endpoints: tuple[str, ...] | None = None
    """The client API paths the upstream serves itself (LiteLLM's `model_info.supported_endpoints`:
    `/v1/chat/completions`, `/v1/responses`, ...); None when the config does not say, and the provider's
    own default applies."""

    def __post_init__(self) -> None:
        if self.weight <= 0:
            raise ConfigurationError("weight", "must be greater than 0")
        if self.order is not None and (isinstance(self.order, bool) or self.order < 0):
            raise ConfigurationError("order", "must be a whole number of at least 0")


@frozen
class ModelGroup:
    """Every deployment that serves one public model name."""

    name: str
    deployments: tuple[Deployment, ...]

    def __post_init__(self) -> None:
        if not self.deployments:
            raise ConfigurationError(self.name, "a model group needs at least one deployment")

    @property
    def embeddings(self) -> bool:
        return any(d.capabilities.embeddings for d in self.deployments)


@frozen
class DeploymentRecord:
    """A deployment added through the management API (`/model/new`), stored as a config entry is written:
    `litellm_params` and `model_info` exactly as given (credentials included), turned into a `Deployment`
    by the same parser as the config file's."""

    model_id: str
    model_name: str
    litellm_params: Mapping[str, Any] = field(default_factory=dict, repr=False)
    model_info: Mapping[str, Any] = field(default_factory=dict)
    created_at: Any = None
    updated_at: Any = None
    created_by: str | None = None
    updated_by: str | None = None
    unreadable: tuple[str, ...] = ()
    """Credential params the store holds but could not decrypt (encrypted under another salt key, or
    altered): left out of `litellm_params`, so the record cannot be served until they are given again."""

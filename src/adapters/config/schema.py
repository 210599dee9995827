"""Pydantic models of LiteLLM's config.yaml: what each known key may hold.

Every section allows extra keys: LiteLLM has hundreds, and a real config must load. The loader reports
the ones it does not act on (`GatewayConfig.ignored`), so nothing is dropped in silence.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
# Pydantic turns a float into a Decimal through its shortest repr, so `0.000001` (or the string
# `1e-06`, which YAML 1.1 leaves a string) becomes Decimal("0.000001") exactly.
Price = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
FallbackRules = list[dict[str, list[str]]]
"""`[{gpt-x: [gpt-y, gpt-z]}]`: when gpt-x fails, try gpt-y, then gpt-z."""


class Section(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, protected_namespaces=())


class PriceKeys(Section):
    """LiteLLM's prices for one deployment, USD per token (per call for `input_cost_per_request`).
    `model_info` holds them; LiteLLM reads them from `litellm_params` too, model_info winning."""

    input_cost_per_token: Price | None = None
    output_cost_per_token: Price | None = None
    cache_read_input_token_cost: Price | None = None
    cache_creation_input_token_cost: Price | None = None
    output_cost_per_reasoning_token: Price | None = None
    input_cost_per_request: Price | None = None
    input_cost_per_query: Price | None = None
    input_cost_per_second: Price | None = None
    input_cost_per_character: Price | None = None
    input_cost_per_image: Price | None = None
    output_cost_per_image: Price | None = None
    input_cost_per_token_above_200k_tokens: Price | None = None
    output_cost_per_token_above_200k_tokens: Price | None = None
    cache_read_input_token_cost_above_200k_tokens: Price | None = None
    cache_creation_input_token_cost_above_200k_tokens: Price | None = None


class LiteLLMParams(PriceKeys):
    """One deployment's `litellm_params` (alias `params`). Keys not named here are provider specifics
    (aws_*, vertex_*, api_version, ...) and go to the deployment's credentials as they are."""

    model: str
    custom_llm_provider: str | None = None
    api_base: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    rpm: NonNegativeInt | None = None
    tpm: NonNegativeInt | None = None
    max_parallel_requests: PositiveInt | None = None
    timeout: PositiveFloat | None = None
    stream_timeout: PositiveFloat | None = None
    weight: PositiveFloat | None = None
    drop_params: bool | None = None
    # Request defaults: sent unless the caller sets them. Ranges are checked against the domain's
    # SamplingParams by the loader, so a bad default fails at startup and not on every request.
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stop: str | list[str] | None = None
    n: int | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    user: str | None = None
    parallel_tool_calls: bool | None = None
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None


class ModelInfo(PriceKeys):
    id: str | None = Field(default=None, min_length=1)
    mode: str | None = None
    supports_function_calling: bool | None = None
    supports_vision: bool | None = None
    supports_response_schema: bool | None = None
    supports_reasoning: bool | None = None
    max_input_tokens: PositiveInt | None = None
    max_output_tokens: PositiveInt | None = None
    max_tokens: PositiveInt | None = None
    """LiteLLM's older name for max_output_tokens."""
    access_groups: list[str] = []
    supported_endpoints: list[str] | None = None
    """The client API paths the upstream serves itself (`/v1/chat/completions`, `/v1/responses`, ...)."""

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        # ids such as `1` or `2024` are common in hand-written configs; YAML reads them as numbers.
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class ModelEntry(Section):
    model_name: str = Field(min_length=1)
    litellm_params: LiteLLMParams = Field(validation_alias=AliasChoices("litellm_params", "params"))
    model_info: ModelInfo = ModelInfo()

    @field_validator("model_info", mode="before")
    @classmethod
    def _empty_info(cls, value: Any) -> Any:
        return {} if value is None else value


RoutingStrategy = Literal[
    "simple-shuffle",
    "least-busy",
    "usage-based-routing",
    "usage-based-routing-v2",
    "latency-based-routing",
    "cost-based-routing",
]


class RouterSettings(Section):
    """`router_settings`, validated and kept for the routing engine; defaults are LiteLLM's."""

    routing_strategy: RoutingStrategy = "simple-shuffle"
    routing_strategy_args: dict[str, Any] = {}
    num_retries: NonNegativeInt | None = None
    timeout: PositiveFloat | None = None
    allowed_fails: NonNegativeInt = 3
    cooldown_time: NonNegativeFloat = 5.0
    disable_cooldowns: bool = False
    retry_after: NonNegativeFloat = 0.0
    max_fallbacks: NonNegativeInt = 5
    fallbacks: FallbackRules = []
    context_window_fallbacks: FallbackRules = []
    content_policy_fallbacks: FallbackRules = []
    default_fallbacks: list[str] = []
    retry_policy: dict[str, NonNegativeInt] = {}
    allowed_fails_policy: dict[str, NonNegativeInt] = {}
    model_group_alias: dict[str, str | dict[str, Any]] = {}
    enable_pre_call_checks: bool = False
    enable_tag_filtering: bool = False
    tag_filtering_match_any: bool = True
    redis_url: str | None = Field(default=None, repr=False)
    redis_host: str | None = None
    redis_port: PositiveInt | None = None
    redis_password: str | None = Field(default=None, repr=False)


CacheType = Literal["local", "redis", "disk", "redis-semantic", "qdrant-semantic", "disk-semantic"]


class CacheSettings(Section):
    """`litellm_settings.cache_params`, validated and kept for the cache adapters."""

    type: CacheType = "local"
    ttl: PositiveFloat | None = None
    namespace: str | None = None
    mode: Literal["default_on", "default_off"] = "default_on"
    supported_call_types: list[str] | None = None
    url: str | None = Field(default=None, repr=False)
    host: str | None = None
    port: PositiveInt | None = None
    password: str | None = Field(default=None, repr=False)
    ssl: bool | None = None
    max_connections: PositiveInt | None = None
    similarity_threshold: Annotated[float, Field(ge=0, le=1)] | None = None
    redis_semantic_cache_embedding_model: str | None = None
    embedding_model: str | None = None
    """The model group a semantic cache embeds prompts with (LiteLLM's
    `redis_semantic_cache_embedding_model` is read too)."""
    disk_cache_dir: str | None = None
    partition: Literal["team", "key", "shared"] = "team"
    """Whose entries a caller may read: its team's (a caller without a team, its key's), its key's, or
    everyone's."""
    max_size_mb: PositiveFloat = 64
    """The in-memory cache's bound (and the in-memory layer in front of Redis)."""
    redis_semantic_cache_index_name: str | None = None
    qdrant_api_base: str | None = None
    """A Qdrant server; without one, `qdrant-semantic` keeps a local Qdrant store in the cache directory."""
    qdrant_api_key: str | None = Field(default=None, repr=False)
    qdrant_collection_name: str | None = None
    qdrant_quantization_config: Literal["binary", "scalar", "product"] | None = None
    qdrant_semantic_cache_embedding_model: str | None = None
    qdrant_semantic_cache_vector_size: PositiveInt | None = None
    """Accepted as LiteLLM has it; the dimension is learned from the first vector."""


class LitellmSettings(Section):
    drop_params: bool = False
    num_retries: NonNegativeInt | None = None
    request_timeout: PositiveFloat | None = None
    cache: bool = False
    cache_params: CacheSettings | None = None
    # LiteLLM accepts the fallback lists here as well as under router_settings.
    fallbacks: FallbackRules | None = None
    context_window_fallbacks: FallbackRules | None = None
    content_policy_fallbacks: FallbackRules | None = None
    default_fallbacks: list[str] | None = None
    callbacks: list[str] = []
    """What each finished call is reported to: a dotted path names a class of the operator's own."""
    set_verbose: bool = False
    """Log at debug level (unless --log-level or SWITCHYARD_LOG_LEVEL says otherwise)."""
    json_logs: bool = False
    """Log JSON lines even to a terminal (unless --log-format or SWITCHYARD_LOG_FORMAT says otherwise)."""
    log_prompts: bool = False
    """Hand each call's prompt and reply text to the access log and the callbacks (off: never logged)."""
    turn_off_message_logging: bool = False
    """LiteLLM's switch: true keeps prompt and reply text out of the logs and callbacks, whatever
    `log_prompts` says."""
    prometheus_key_metrics: bool = False
    """As `general_settings.prometheus_key_metrics` (either turns it on)."""


class RoleMapping(Section):
    role: str
    """A role name as the identity provider puts it in the token."""
    internal_role: Literal[
        "proxy_admin", "proxy_admin_viewer", "org_admin", "internal_user", "internal_user_viewer"
    ]


class JwtAuthSettings(Section):
    """`general_settings.litellm_jwtauth`: where the signing keys come from and which claims name whom."""

    public_key_url: str | None = None
    """A JWKS URL (LiteLLM reads it from JWT_PUBLIC_KEY_URL; both work)."""
    shared_secret: str | None = Field(default=None, repr=False)
    """For HS256 tokens signed with a secret shared with the identity provider."""
    audience: str | None = None
    issuer: str | None = None
    algorithms: list[str] | None = None
    public_key_ttl: PositiveFloat = 600.0
    leeway: NonNegativeFloat = 30.0
    user_id_jwt_field: str = "sub"
    team_id_jwt_field: str | None = None
    org_id_jwt_field: str | None = None
    end_user_id_jwt_field: str | None = None
    user_roles_jwt_field: str | None = None
    admin_jwt_scope: str = "litellm_proxy_admin"
    role_mappings: list[RoleMapping] = []


class PassThroughEndpoint(Section):
    """A `general_settings.pass_through_endpoints` entry (LiteLLM's shape): calls to `path` and below it
    are relayed to `target`."""

    path: str
    target: str
    headers: dict[str, str | None] = Field(default={}, repr=False)
    """None: a whole `os.environ/NAME` value whose variable is unset (already reported)."""
    forward_headers: bool = False
    auth: bool = True


class KeyManagementSettings(Section):
    """`general_settings.key_management_settings`, as LiteLLM reads them
    (https://docs.litellm.ai/docs/secret): the store-specific ones (aws_region_name, infisical_*, ...)
    are read by the store's adapter from the extra keys."""

    access_mode: Literal["read_only", "write_only", "read_and_write"] = "read_only"
    hosted_keys: list[str] | None = None
    """Only these names are read from the store; None: every `os.environ/NAME` of the config."""
    store_virtual_keys: bool = False
    prefix_for_stored_virtual_keys: str = "litellm/"
    primary_secret_name: str | None = None
    """AWS: one secret holding a JSON object of NAME -> value, instead of a secret per NAME."""


class GeneralSettings(Section):
    master_key: str | None = Field(default=None, repr=False)
    database_url: str | None = Field(default=None, repr=False)
    max_request_size_mb: PositiveFloat | None = None
    max_audio_upload_mb: PositiveFloat = 25
    """The largest audio file a transcription may upload (OpenAI's own limit); larger ones are a 413."""
    max_parallel_requests: PositiveInt | None = None
    """The default per-deployment cap on calls in flight."""
    background_health_checks: bool = False
    health_check_interval: PositiveFloat = 300.0
    """Seconds between background health checks (LiteLLM's default)."""
    enable_jwt_auth: bool = False
    litellm_jwtauth: JwtAuthSettings | None = None
    user_api_key_cache_ttl: PositiveFloat = 60.0
    """Seconds a key, team or user record is served from memory before it is read again (changes made on
    any instance reach every other one within about a second regardless)."""
    store_prompts_in_spend_logs: bool = False
    """Keep each call's prompt and reply text in its spend-log record (off: tokens and cost only)."""
    log_prompts: bool = False
    """As `litellm_settings.log_prompts` (either turns it on)."""
    spend_journal_dir: str | None = None
    """Where spend records wait for the database (default: `switchyard-journal` beside the database
    file, or in the working directory)."""
    public_metrics: bool = False
    """Serve GET /metrics without a key (behind a private network, say)."""
    metrics: bool = True
    """Prometheus metrics at GET /metrics; false: none are counted, and GET /metrics answers 404."""
    docs: bool = True
    """GET /openapi.json and the reference at /docs (no key needed); false: both answer 404."""
    ui: bool = True
    """The admin console at /ui; false: every /ui route answers 404."""
    prometheus_key_metrics: bool = False
    """Per-key and per-team spend, budget and rate-limit series too (one series per key and team)."""
    responses_retention: str = "30d"
    """How long a stored Responses-API response (`store: true`) is kept: `30d`, `12h`, ..."""
    pass_through_endpoints: list[PassThroughEndpoint] = []
    key_management_system: str | None = None
    """The secret manager `os.environ/NAME` values are read from (adapters/config/secrets.py)."""
    key_management_settings: KeyManagementSettings = KeyManagementSettings()


class WebhookSettings(Section):
    """`callback_settings.webhook`: where the `webhook` callback POSTs batches of call records."""

    url: str
    headers: dict[str, str] = {}
    flush_interval: PositiveFloat = 2.0
    """Seconds between batches at most."""


class CallbackSettings(Section):
    webhook: WebhookSettings | None = None


class ConfigFile(Section):
    model_list: list[ModelEntry] = []
    litellm_settings: LitellmSettings = LitellmSettings()
    router_settings: RouterSettings = RouterSettings()
    general_settings: GeneralSettings = GeneralSettings()
    callback_settings: CallbackSettings = CallbackSettings()
    guardrails: list[Any] = []
    """LiteLLM's `guardrails:` list, read into specs by `adapters.config.guardrails`."""

    @field_validator(
        "model_list",
        "guardrails",
        "litellm_settings",
        "router_settings",
        "general_settings",
        "callback_settings",
        mode="before",
    )
    @classmethod
    def _empty_section(cls, value: Any, info: Any) -> Any:
        # `general_settings:` with nothing under it is YAML null; LiteLLM treats it as empty.
        if value is None:
            return [] if info.field_name in ("model_list", "guardrails") else {}
        return value

"""The loaded configuration: everything the composition root needs to assemble the gateway."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from adapters.config.deployments import Defaults
from adapters.config.schema import CacheSettings, JwtAuthSettings, RouterSettings, WebhookSettings
from adapters.config.secrets import SecretPlan
from adapters.config.tracing import TracingSettings
from domain.deployments import Deployment, Secret
from domain.guardrails import GuardrailSpec
from domain.passthrough import CustomRoute
from domain.router_policy import RouterPolicy

DEFAULT_MAX_REQUEST_BODY_BYTES = 32 * 1024 * 1024
"""Anthropic's own request limit; room for several high-resolution images sent inline as base64."""

DEFAULT_NUM_RETRIES = 2
"""LiteLLM's Router default."""

DEFAULT_HEALTH_CHECK_INTERVAL = 300.0
"""Seconds between background health checks; LiteLLM's default."""

DEFAULT_REQUEST_TIMEOUT = 600.0
"""Seconds; the OpenAI SDK's default (LiteLLM's own 6000 s would hold a dead upstream for 100 minutes)."""


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    deployments: tuple[Deployment, ...] = ()
    master_key: Secret | None = None
    """SWITCHYARD_MASTER_KEY, else general_settings.master_key, else LITELLM_MASTER_KEY."""
    database_url: str | None = field(default=None, repr=False)
    """DATABASE_URL, else general_settings.database_url, with an async driver; None: the default SQLite."""
    redis_url: str | None = field(default=None, repr=False)
    """REDIS_URL, else built from router_settings or a Redis cache_params; None: state stays in process."""
    drop_params: bool = False
    num_retries: int = DEFAULT_NUM_RETRIES
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    """The default whole-call timeout of every deployment that sets none."""
    router_settings: RouterSettings = field(default_factory=RouterSettings)
    """Validated; fallback lists given under litellm_settings are merged in."""
    router_policy: RouterPolicy = field(default_factory=RouterPolicy)
    """The routing, retry, cooldown and fallback policy those settings make."""
    cache: CacheSettings | None = None
    """None unless litellm_settings.cache is true."""
    max_request_body_bytes: int = DEFAULT_MAX_REQUEST_BODY_BYTES
    max_audio_upload_bytes: int = 25 * 1024 * 1024
    """general_settings.max_audio_upload_mb: the largest audio file a transcription may upload (413)."""
    background_health_checks: bool = False
    """Check every deployment every `health_check_interval` seconds, cooling down those that fail."""
    health_check_interval: float = DEFAULT_HEALTH_CHECK_INTERVAL
    deployment_defaults: Defaults = field(default_factory=Defaults)
    """What a deployment inherits unless it sets its own (those added through /model/new too)."""
    jwt: JwtAuthSettings | None = None
    """Set when general_settings.enable_jwt_auth is true: bearer JWTs are accepted as well as keys."""
    auth_cache_ttl: float = 60.0
    store_prompts_in_spend_logs: bool = False
    """The spend ledger keeps each call's prompt and reply text."""
    log_prompts: bool = False
    """The call observers (access log, callbacks, webhook) get each call's prompt and reply text:
    litellm_settings.log_prompts or general_settings.log_prompts, unless
    litellm_settings.turn_off_message_logging."""
    spend_journal_dir: Path | None = None
    """general_settings.spend_journal_dir (SWITCHYARD_SPEND_JOURNAL_DIR overrides); None: the default."""
    public_metrics: bool = False
    """general_settings.public_metrics: GET /metrics needs no key."""
    metrics: bool = True
    """general_settings.metrics: false turns the Prometheus metrics off (GET /metrics answers 404)."""
    docs: bool = True
    """general_settings.docs: GET /openapi.json and /docs are served (false: 404)."""
    ui: bool = True
    """general_settings.ui: the admin console is served at /ui (false: 404)."""
    key_metrics: bool = False
    """prometheus_key_metrics (general_settings or litellm_settings): per-key and per-team series."""
    callbacks: tuple[str, ...] = ()
    """litellm_settings.callbacks: the dotted paths of the operator's own callback classes."""
    webhook: WebhookSettings | None = None
    """callback_settings.webhook, when litellm_settings.callbacks names `webhook`."""
    tracing: TracingSettings | None = None
    """Where spans go (litellm_settings.callbacks naming `otel` or `langfuse`, or an OTLP endpoint in the
    environment); None: tracing is off."""
    verbose_logs: bool = False
    """litellm_settings.set_verbose: log at debug level unless the command line or environment says."""
    json_logs: bool = False
    """litellm_settings.json_logs: JSON lines even to a terminal, unless the command line or environment
    says otherwise."""
    passthrough_routes: tuple[CustomRoute, ...] = ()
    guardrails: tuple[GuardrailSpec, ...] = ()
    """The config's `guardrails:`, in order."""
    """general_settings.pass_through_endpoints: the operator's own relayed routes."""
    responses_retention: timedelta = timedelta(days=30)
    """How long stored Responses-API responses are kept (general_settings.responses_retention)."""
    config_path: Path | None = None
    secret_store: SecretPlan | None = None
    """general_settings.key_management_system: the secret manager `os.environ/NAME` values come from."""
    """The file the config came from (the default SQLite database lives beside it); None otherwise."""
    environment: Mapping[str, str] = field(default_factory=dict, repr=False)
    """The environment the config was resolved against, its `environment_variables` laid over it."""
    ignored: tuple[str, ...] = ()
    """Config paths of keys Switchyard does not act on yet; report them once at startup."""
    warnings: tuple[str, ...] = ()
    """Things that load but probably are not what was meant (unset variables, near-miss keys, ...)."""

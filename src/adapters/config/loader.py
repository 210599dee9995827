"""Loading a LiteLLM-compatible config (a YAML file, a mapping, or the embedded default)."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from adapters.config.deployments import Defaults, build_deployment
from adapters.config.diagnostics import Report, from_validation_error, path_of
from adapters.config.environment import effective_environment, resolve
from adapters.config.gateway_config import (
    DEFAULT_MAX_REQUEST_BODY_BYTES,
    DEFAULT_NUM_RETRIES,
    DEFAULT_REQUEST_TIMEOUT,
    GatewayConfig,
)
from adapters.config.guardrails import guardrail_specs
from adapters.config.passthrough import custom_routes
from adapters.config.schema import (
    CacheSettings,
    ConfigFile,
    GeneralSettings,
    JwtAuthSettings,
    RouterSettings,
    WebhookSettings,
)
from adapters.config.secrets import secret_plan
from adapters.config.tracing import tracing_settings
from adapters.llm.hosts import HOSTS, KEYLESS, first_set
from domain.deployments import Deployment, Secret
from domain.durations import parse_duration
from domain.errors import BadRequestError, ConfigurationError
from domain.router_policy import RouterPolicy

_SECTIONS = (
    "model_list", "litellm_settings", "router_settings", "general_settings", "environment_variables",
    "callback_settings", "guardrails",
)  # fmt: skip
_FALLBACK_LISTS = ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks", "default_fallbacks")
_REDIS_CACHES = ("redis", "redis-semantic")
# Native wire formats that need nothing but an API key (Azure needs its resource, Bedrock and Vertex AI
# their cloud credentials, so a user configures those).
_KEYED_NATIVE_PROVIDERS = frozenset({"anthropic", "gemini", "cohere"})
# Validated today so that mistakes fail at startup, but acted on by parts of the gateway still to come
# (caching, persistence): a config that sets them hears so.
_NOT_ACTED_ON_YET = {
    "general_settings": frozenset({"max_parallel_requests"}),
}


@dataclass(frozen=True, slots=True)
class ConfigSource:
    """A config as read, before anything in it is resolved: its tree (included files merged in) and the
    file it came from."""

    tree: Mapping[str, Any]
    path: Path | None = None


Source = str | Path | Mapping[str, Any] | ConfigSource | None


def read_source(source: Source) -> ConfigSource | None:
    """The config a YAML file path or an already parsed mapping holds; None for the embedded default."""
    if source is None or source == "":  # an unset --config or SWITCHYARD_CONFIG
        return None
    if isinstance(source, ConfigSource):
        return source
    if isinstance(source, Mapping):
        return ConfigSource(_include(dict(source), Path.cwd()))
    path = Path(source)
    return ConfigSource(_include(_read_yaml(path), path.resolve().parent), path)


def load_config(source: Source, environ: Mapping[str, str]) -> GatewayConfig:
    """The gateway config from a YAML file path, an already parsed mapping, one read already, or (None)
    the embedded default.

    Raises ConfigurationError naming the offending path, e.g.
    `model_list[2].litellm_params.model: unknown provider 'antropic'; did you mean 'anthropic'?`.
    """
    read = read_source(source)
    if read is None:
        return default_config(environ)
    return _build(read, environ)


def default_config(environ: Mapping[str, str]) -> GatewayConfig:
    """The config of `switchyard serve` without --config: the offline `demo` model (mock provider, chat
    and embeddings), and a wildcard deployment (`anthropic/*`, `groq/*`, ...) for every provider that a
    key alone makes reachable, when that key is in `environ`."""
    models: list[dict[str, Any]] = [
        {"model_name": "demo", "litellm_params": {"model": "mock/demo"}, "model_info": {"id": "demo"}}
    ]
    for provider, host in HOSTS.items():
        by_key_alone = host.openai_compatible or provider in _KEYED_NATIVE_PROVIDERS
        if by_key_alone and provider not in KEYLESS and first_set(environ, host.key_env):
            models.append({"model_name": f"{provider}/*", "litellm_params": {"model": f"{provider}/*"}})
    return _build(ConfigSource({"model_list": models}), environ)


def _build(source: ConfigSource, environ: Mapping[str, str]) -> GatewayConfig:
    report = Report()
    raw = dict(source.tree)
    secrets = secret_plan(raw, environ)
    declared = raw.pop("environment_variables", None) or {}
    if not isinstance(declared, Mapping):
        raise ConfigurationError("environment_variables", "must be a mapping of variable names to values")
    env = effective_environment(environ, declared, report)
    _check_entries(raw.get("model_list"))
    try:
        config = ConfigFile.model_validate(resolve(raw, env, report))
    except ValidationError as exc:
        raise from_validation_error(exc) from None
    _report_unknown_keys(config, report)

    general, settings = config.general_settings, config.litellm_settings
    router = _merged_router_settings(config)
    defaults = Defaults(
        drop_params=settings.drop_params,
        timeout=router.timeout or settings.request_timeout or DEFAULT_REQUEST_TIMEOUT,
        max_parallel_requests=general.max_parallel_requests,
    )
    deployments = _deployments(config, raw.get("model_list") or [], defaults, env, report)
    _check_fallbacks(router, deployments, report)
    if settings.cache_params is not None and not settings.cache:
        report.warn(
            "litellm_settings.cache_params", "set, but litellm_settings.cache is not true: no caching"
        )
    if "health_check_interval" in general.model_fields_set and not general.background_health_checks:
        report.warn(
            "general_settings.health_check_interval",
            "set, but general_settings.background_health_checks is not true: no background checks",
        )
    if not deployments:
        report.warn("model_list", "no models configured; every request will be answered 404")

    num_retries = _first(router.num_retries, settings.num_retries, DEFAULT_NUM_RETRIES)
    router_policy = RouterPolicy.from_settings({**router.model_dump(), "num_retries": num_retries})
    master_key = _first(env.get("SWITCHYARD_MASTER_KEY"), general.master_key, env.get("LITELLM_MASTER_KEY"))
    body_limit = general.max_request_size_mb
    return GatewayConfig(
        deployments=deployments,
        master_key=Secret(master_key) if master_key else None,
        database_url=_database_url(env.get("DATABASE_URL"), general.database_url),
        redis_url=_redis_url(config, router, env),
        drop_params=settings.drop_params,
        num_retries=num_retries,
        request_timeout=defaults.timeout,
        router_settings=router,
        router_policy=router_policy,
        cache=(settings.cache_params or CacheSettings()) if settings.cache else None,
        max_request_body_bytes=int(body_limit * 1024 * 1024)
        if body_limit
        else DEFAULT_MAX_REQUEST_BODY_BYTES,
        max_audio_upload_bytes=int(general.max_audio_upload_mb * 1024 * 1024),
        background_health_checks=general.background_health_checks,
        health_check_interval=general.health_check_interval,
        deployment_defaults=defaults,
        jwt=_jwt_settings(general, env),
        auth_cache_ttl=general.user_api_key_cache_ttl,
        store_prompts_in_spend_logs=general.store_prompts_in_spend_logs,
        log_prompts=(settings.log_prompts or general.log_prompts) and not settings.turn_off_message_logging,
        spend_journal_dir=_journal_dir(env.get("SWITCHYARD_SPEND_JOURNAL_DIR"), general.spend_journal_dir),
        public_metrics=general.public_metrics,
        metrics=general.metrics,
        docs=general.docs,
        ui=general.ui,
        key_metrics=general.metrics and (general.prometheus_key_metrics or settings.prometheus_key_metrics),
        callbacks=_callbacks(settings.callbacks, report),
        webhook=_webhook(settings.callbacks, config.callback_settings.webhook),
        tracing=tracing_settings(settings.callbacks, env),
        verbose_logs=settings.set_verbose,
        json_logs=settings.json_logs,
        responses_retention=_retention(general.responses_retention),
        passthrough_routes=custom_routes(general.pass_through_endpoints, env, report),
        guardrails=guardrail_specs(config.guardrails),
        config_path=source.path,
        secret_store=secrets,
        environment=env,
        ignored=tuple(report.ignored),
        warnings=tuple(report.warnings),
    )


def _callbacks(names: list[str], report: Report) -> tuple[str, ...]:
    """The custom callbacks (dotted paths); the built-in names not served yet are reported."""
    custom = []
    for index, name in enumerate(names):
        if "." in name:
            custom.append(name)
        elif name not in _SERVED_CALLBACKS:
            report.ignore(path_of("litellm_settings", "callbacks", index))
    return tuple(custom)


_SERVED_CALLBACKS = frozenset({"webhook", "otel", "langfuse", "prometheus"})


def _webhook(names: list[str], settings: WebhookSettings | None) -> WebhookSettings | None:
    if "webhook" not in names:
        return None
    if settings is None:
        raise ConfigurationError("callback_settings.webhook.url", "the webhook callback needs a URL")
    return settings


def _retention(text: str) -> timedelta:
    try:
        retention = parse_duration(text)
    except BadRequestError as exc:
        raise ConfigurationError("general_settings.responses_retention", exc.message) from None
    if not retention:
        raise ConfigurationError("general_settings.responses_retention", "must be longer than 0s")
    return retention


def _journal_dir(*candidates: str | None) -> Path | None:
    chosen = _first(*candidates)
    return Path(chosen).expanduser() if chosen else None


def _jwt_settings(general: GeneralSettings, env: Mapping[str, str]) -> JwtAuthSettings | None:
    if not general.enable_jwt_auth:
        if general.litellm_jwtauth is not None:
            raise ConfigurationError(
                "general_settings.litellm_jwtauth", "set, but general_settings.enable_jwt_auth is not true"
            )
        return None
    settings = general.litellm_jwtauth or JwtAuthSettings()
    settings = settings.model_copy(
        update={
            "public_key_url": settings.public_key_url or env.get("JWT_PUBLIC_KEY_URL") or None,
            "audience": settings.audience or env.get("JWT_AUDIENCE") or None,
            "issuer": settings.issuer or env.get("JWT_ISSUER") or None,
        }
    )
    if not settings.public_key_url and not settings.shared_secret:
        raise ConfigurationError(
            "general_settings.litellm_jwtauth",
            "enable_jwt_auth needs public_key_url (or JWT_PUBLIC_KEY_URL) or shared_secret",
        )
    return settings


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml  # imported here: a process started without a config never pays for it

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError("", f"cannot read config file {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigurationError("", f"{where}: invalid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigurationError(
            "", f"{path}: the config must be a mapping (model_list, router_settings, ...)"
        )
    return data


def _include(raw: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """LiteLLM's `include: [models.yaml, ...]`: lists in the included files extend the main config's,
    any other key replaces it. Paths are relative to the main config file."""
    names = raw.pop("include", None)
    if names is None:
        return raw
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ConfigurationError("include", "must be a list of file names")
    for name in names:
        for key, value in _read_yaml(base_dir / name).items():
            if isinstance(value, list) and isinstance(raw.get(key), list):
                raw[key] = [*raw[key], *value]
            else:
                raw[key] = value
    return raw


def _check_entries(model_list: Any) -> None:
    for index, entry in enumerate(model_list if isinstance(model_list, list) else ()):
        if isinstance(entry, Mapping) and "params" in entry and "litellm_params" in entry:
            raise ConfigurationError(
                path_of("model_list", index), "give litellm_params or its alias params, not both"
            )


def _report_unknown_keys(config: ConfigFile, report: Report) -> None:
    report.ignore_unknown("", config.model_extra, _SECTIONS)
    for section, names in _NOT_ACTED_ON_YET.items():
        for name in sorted(getattr(config, section).model_fields_set & names):
            report.ignore(path_of(section, name))
    for name in ("litellm_settings", "router_settings", "general_settings"):
        section = getattr(config, name)
        report.ignore_unknown(name, section.model_extra, type(section).model_fields)
    if config.general_settings.key_management_settings.store_virtual_keys:
        report.ignore("general_settings.key_management_settings.store_virtual_keys")
    cache_params = config.litellm_settings.cache_params
    if cache_params is not None:
        known = type(cache_params).model_fields
        report.ignore_unknown("litellm_settings.cache_params", cache_params.model_extra, known)


def _merged_router_settings(config: ConfigFile) -> RouterSettings:
    """router_settings, with the fallback lists LiteLLM also accepts under litellm_settings filled in
    where router_settings gives none."""
    router, settings = config.router_settings, config.litellm_settings
    update = {
        name: getattr(settings, name)
        for name in _FALLBACK_LISTS
        if getattr(settings, name) is not None and name not in router.model_fields_set
    }
    return router.model_copy(update=update) if update else router


def _deployments(
    config: ConfigFile, raw_list: list[Any], defaults: Defaults, env: Mapping[str, str], report: Report
) -> tuple[Deployment, ...]:
    deployments: list[Deployment] = []
    seen: dict[str, int] = {}
    for index, (entry, raw) in enumerate(zip(config.model_list, raw_list, strict=True)):
        deployment = build_deployment(entry, raw, index=index, defaults=defaults, environ=env, report=report)
        if deployment is None:
            continue
        if deployment.id in seen:
            first = path_of("model_list", seen[deployment.id])
            if entry.model_info.id is not None:
                where, why = path_of("model_list", index, "model_info", "id"), f"'{deployment.id}' is taken"
            else:
                where, why = path_of("model_list", index), "repeats"
            raise ConfigurationError(where, f"{why} by {first}; give each deployment its own model_info.id")
        seen[deployment.id] = index
        deployments.append(deployment)
    return tuple(deployments)


def _check_fallbacks(router: RouterSettings, deployments: tuple[Deployment, ...], report: Report) -> None:
    names = {d.model_name for d in deployments}

    def served(name: str) -> bool:
        return name in names or any(fnmatch.fnmatchcase(name, pattern) for pattern in names if "*" in pattern)

    for kind in _FALLBACK_LISTS[:3]:
        for index, rule in enumerate(getattr(router, kind)):
            for source, targets in rule.items():
                for target in targets:
                    if not served(target):
                        where = path_of("router_settings", kind, index, source)
                        report.warn(where, f"fallback '{target}' is not a configured model_name")
    for index, target in enumerate(router.default_fallbacks):
        if not served(target):
            where = path_of("router_settings", "default_fallbacks", index)
            report.warn(where, f"fallback '{target}' is not a configured model_name")


def _redis_url(config: ConfigFile, router: RouterSettings, env: Mapping[str, str]) -> str | None:
    """REDIS_URL, else the Redis router_settings names, else a Redis cache's, else REDIS_HOST (which
    LiteLLM also reads)."""
    if env.get("REDIS_URL"):
        return env["REDIS_URL"]
    if router.redis_url:
        return router.redis_url
    if router.redis_host:
        return _redis_from_parts(router.redis_host, router.redis_port, router.redis_password, False)
    cache = config.litellm_settings.cache_params
    if config.litellm_settings.cache and cache is not None and cache.type in _REDIS_CACHES:
        if cache.url:
            return cache.url
        host = cache.host or env.get("REDIS_HOST")
        if host:
            password = cache.password or env.get("REDIS_PASSWORD")
            return _redis_from_parts(host, cache.port or _port(env), password, bool(cache.ssl))
    if env.get("REDIS_HOST"):
        return _redis_from_parts(env["REDIS_HOST"], _port(env), env.get("REDIS_PASSWORD"), False)
    return None


def _redis_from_parts(host: str, port: int | None, password: str | None, ssl: bool) -> str:
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"{'rediss' if ssl else 'redis'}://{auth}{host}:{port or 6379}"


def _port(env: Mapping[str, str]) -> int | None:
    value = env.get("REDIS_PORT", "")
    return int(value) if value.isdigit() else None


_DATABASE_SCHEMES = ("sqlite+aiosqlite://", "postgresql+asyncpg://", "memory://")


def _database_url(from_env: str | None, from_config: str | None) -> str | None:
    """The database URL with an async driver; an unknown kind stops startup (the database itself is only
    opened once the server runs)."""
    url = _async_driver(from_env or from_config)
    if url is not None and not url.startswith(_DATABASE_SCHEMES):
        where = "DATABASE_URL" if from_env else "general_settings.database_url"
        scheme = url.partition("://")[0] or url
        raise ConfigurationError(
            where, f"unsupported database '{scheme}'; use postgresql:// or sqlite:///path"
        )
    return url


def _async_driver(url: str | None) -> str | None:
    """LiteLLM configs name plain `postgresql://` URLs; SQLAlchemy's async engine needs the driver."""
    if not url:
        return None
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url.removeprefix(plain)
    return url


def _first(*values: Any) -> Any:
    return next((value for value in values if value is not None and value != ""), None)

"""The config's `guardrails:` list (LiteLLM's shape) as guardrail specs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain.errors import BadRequestError, ConfigurationError
from domain.guardrails import GuardrailMode, GuardrailSpec, StreamCheck

KINDS = frozenset(
    {
        "litellm_content_filter",
        "hide-secrets",
        "hide_secrets",
        "detect_prompt_injection",
        "max_input_tokens",
        "json_schema_validation",
        "openai_moderation",
        "generic_guardrail_api",
        "presidio",
    }
)
"""The guardrails Switchyard has, by LiteLLM's names where LiteLLM has one."""

_RUNNER_KEYS = frozenset(
    {"guardrail", "mode", "default_on", "on_error", "unreachable_fallback", "streaming", "window"}
)
"""What the runner reads of `litellm_params`; the rest is the guardrail's own."""


def guardrail_specs(entries: Any) -> tuple[GuardrailSpec, ...]:
    """Each entry `{guardrail_name, litellm_params: {guardrail, mode, default_on, ...}, guardrail_info}`
    as a spec, in order. ConfigurationError naming the path of the first thing wrong."""
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise ConfigurationError("guardrails", "must be a list of guardrails")
    specs: list[GuardrailSpec] = []
    seen: set[str] = set()
    for position, entry in enumerate(entries):
        base = f"guardrails[{position}]"
        spec = _spec(entry, base)
        if spec.name in seen:
            raise ConfigurationError(f"{base}.guardrail_name", f"'{spec.name}' is already used")
        seen.add(spec.name)
        specs.append(spec)
    return tuple(specs)


def _spec(entry: Any, base: str) -> GuardrailSpec:
    if not isinstance(entry, Mapping):
        raise ConfigurationError(base, "must be a mapping with guardrail_name and litellm_params")
    name = entry.get("guardrail_name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigurationError(f"{base}.guardrail_name", "a non-empty name is required")
    params = entry.get("litellm_params")
    if not isinstance(params, Mapping):
        raise ConfigurationError(f"{base}.litellm_params", "must be a mapping (with guardrail and mode)")
    at = f"{base}.litellm_params"
    kind = params.get("guardrail")
    if kind not in KINDS:
        known = ", ".join(sorted(KINDS))
        raise ConfigurationError(f"{at}.guardrail", f"unknown guardrail {kind!r}; Switchyard has {known}")
    info = entry.get("guardrail_info") if isinstance(entry.get("guardrail_info"), Mapping) else {}
    description = info.get("description") if isinstance(info.get("description"), str) else None
    try:
        return GuardrailSpec(
            name=name.strip(),
            kind="hide-secrets" if kind == "hide_secrets" else kind,
            modes=_modes(params.get("mode"), f"{at}.mode"),
            default_on=_flag(params.get("default_on", False), f"{at}.default_on"),
            stream=_choice(params.get("streaming", "whole"), StreamCheck, f"{at}.streaming"),
            window=_window(params.get("window", 256), f"{at}.window"),
            description=description,
            fail_open=_fail_open(params, at),
            params={k: v for k, v in params.items() if k not in _RUNNER_KEYS},
        )
    except BadRequestError as exc:
        raise ConfigurationError(f"{at}.{exc.param or 'mode'}", exc.message) from None


def _modes(value: Any, path: str) -> tuple[GuardrailMode, ...]:
    if value is None:
        raise ConfigurationError(path, "required: pre_call, during_call, post_call or logging_only")
    named: Sequence[Any] = [value] if isinstance(value, str) else value
    if not isinstance(named, list | tuple) or not named:
        raise ConfigurationError(path, "must be a mode or a list of modes")
    modes = tuple(_choice(mode, GuardrailMode, path) for mode in named)
    return tuple(dict.fromkeys(modes))


def _choice(value: Any, kind: type[Any], path: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise ConfigurationError(path, f"{value!r} is not one of {allowed}") from None


def _flag(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(path, "must be true or false")
    return value


def _window(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(path, "must be a whole number of characters, at least 1")
    return value


def _fail_open(params: Mapping[str, Any], at: str) -> bool:
    """`on_error: allow | block` (Switchyard's), or LiteLLM's `unreachable_fallback: fail_open |
    fail_closed`; a guardrail that cannot decide blocks unless told otherwise."""
    if "on_error" in params:
        value = params["on_error"]
        if value not in ("allow", "block"):
            raise ConfigurationError(f"{at}.on_error", f"{value!r} is not one of allow, block")
        return value == "allow"
    fallback = params.get("unreachable_fallback", "fail_closed")
    if fallback not in ("fail_open", "fail_closed"):
        raise ConfigurationError(
            f"{at}.unreachable_fallback", f"{fallback!r} is not one of fail_open, fail_closed"
        )
    return fallback == "fail_open"

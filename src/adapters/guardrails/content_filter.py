"""The built-in text guardrails: LiteLLM's content filter, hide-secrets and prompt-injection detection."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import yaml

from domain.content_filter import (
    DEFAULT_INJECTION_THRESHOLD,
    KEYWORD_TAG,
    FilterRule,
    ScanResult,
    build_rules,
    gate_of,
    hide_secrets,
    injection_found,
    scan,
)
from domain.errors import BadRequestError
from domain.guardrails import ALLOW, GuardrailSpec, Inspection, Verdict, block, masked
from ports.guardrail import Guardrail


class ContentFilterGuardrail(Guardrail):
    """`litellm_content_filter`: prebuilt and custom regex patterns and blocked words, each blocking the
    call or masking what it finds (`[EMAIL_1]`, `[KEYWORD_REDACTED]`). With `output_parse_pii` the masked
    verdict carries the placeholders' originals, for the reply to be given them back."""

    kind: ClassVar[str] = "litellm_content_filter"
    aliases: ClassVar[tuple[str, ...]] = ("content_filter",)

    def __init__(self, spec: GuardrailSpec) -> None:
        params = spec.params
        words = _list(params, "blocked_words") + _words_file(params.get("blocked_words_file"))
        tag = params.get("keyword_redaction_tag") or KEYWORD_TAG
        if not isinstance(tag, str):
            raise BadRequestError("keyword_redaction_tag must be a string", param="keyword_redaction_tag")
        self._rules: tuple[FilterRule, ...] = build_rules(words, _list(params, "patterns"), keyword_tag=tag)
        self._gate = gate_of(self._rules)
        self._restore = _flag(params, "output_parse_pii")

    async def check(self, inspection: Inspection) -> Verdict:
        if not self._rules:
            return ALLOW
        result = scan(inspection.texts, self._rules, self._gate)
        if result.blocked:
            return block(f"content blocked: {result.blocked}")
        return _masked(result, restore=self._restore)


class HideSecretsGuardrail(Guardrail):
    """`hide-secrets`: API keys, tokens, private keys, a URL's password and `password=...` values are
    replaced by `[REDACTED]` (as LiteLLM's hide-secrets does); it never blocks."""

    kind: ClassVar[str] = "hide-secrets"
    aliases: ClassVar[tuple[str, ...]] = ("hide_secrets",)

    def __init__(self, spec: GuardrailSpec) -> None:
        del spec  # nothing to configure

    async def check(self, inspection: Inspection) -> Verdict:
        return _masked(hide_secrets(inspection.texts), restore=False)


class PromptInjectionGuardrail(Guardrail):
    """`detect_prompt_injection`: blocks a text that reads like a prompt injection by a small set of
    weighted phrase heuristics (instruction override, persona jailbreaks, system prompt extraction,
    developer mode, role-play without limits, fake system delimiters) whose score reaches `threshold`."""

    kind: ClassVar[str] = "detect_prompt_injection"
    aliases: ClassVar[tuple[str, ...]] = ("prompt_injection",)

    def __init__(self, spec: GuardrailSpec) -> None:
        value = spec.params.get("threshold", DEFAULT_INJECTION_THRESHOLD)
        try:
            threshold = float(value)
        except (TypeError, ValueError):
            threshold = -1.0
        if isinstance(value, bool) or not 0 < threshold <= 1:
            raise BadRequestError("threshold must be a number above 0 and at most 1", param="threshold")
        self._threshold = threshold

    async def check(self, inspection: Inspection) -> Verdict:
        found = injection_found(inspection.texts, self._threshold)
        if found:
            return block(f"prompt injection suspected ({', '.join(found)})")
        return ALLOW


def _masked(result: ScanResult, *, restore: bool) -> Verdict:
    if not result.changed:
        return ALLOW
    reason = "masked: " + ", ".join(result.found)
    return masked(result.texts, reason, result.replacements, result.restore if restore else None)


def _list(params: Mapping[str, Any], name: str) -> list[Any]:
    value = params.get(name)
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise BadRequestError(f"{name} must be a list", param=name)
    return list(value)


def _flag(params: Mapping[str, Any], name: str) -> bool:
    value = params.get(name, False)
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes", "on"}
    return bool(value)


def _words_file(path: Any) -> list[Any]:
    """LiteLLM's `blocked_words_file`: a YAML file with a `blocked_words:` list (or the list itself);
    a plain text file is read as one keyword to block per line (`#` starts a comment)."""
    if path is None:
        return []
    param = "blocked_words_file"
    if not isinstance(path, str) or not path:
        raise BadRequestError(f"{param} must be a file path", param=param)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BadRequestError(f"{param}: cannot read {path} ({exc.strerror})", param=param) from None
    if not path.endswith((".yaml", ".yml")):
        lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
        return [line for line in lines if line]
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        raise BadRequestError(f"{param}: {path} is not valid YAML", param=param) from None
    words = data.get("blocked_words") if isinstance(data, Mapping) else data
    if not isinstance(words, list):
        raise BadRequestError(f"{param}: {path} has no blocked_words list", param=param)
    return words

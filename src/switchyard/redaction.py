"""Secrets taken out of every log line: keys, bearer tokens, JWTs and the credentials the config holds,
wherever they appear (an upstream's error body quoted in a message, an exception's text, a header)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "[REDACTED]"
_SHAPES = re.compile(
    r"""
      \bsk-[A-Za-z0-9_\-]{8,}                                   # OpenAI, Anthropic, virtual and master keys
    | \bAIza[0-9A-Za-z_\-]{30,}                                  # Google API keys
    | \b(?:AKIA|ASIA)[0-9A-Z]{16}\b                              # AWS access key ids
    | \beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*  # JWTs
    | \b[Bb]earer\s+[A-Za-z0-9._~+/=\-]{8,}                     # bearer tokens
    | \b(?:xox[abprs]|ghp|gho|github_pat|glpat)[-_][A-Za-z0-9_\-]{10,}  # Slack, GitHub, GitLab tokens
    """,
    re.VERBOSE,
)
_ASSIGNED = re.compile(
    r"""(?ix)
    ((?:api[_-]?key|secret(?:_access_key)?|password|token|authorization|x-api-key|x-goog-api-key)
     ["']?\s*[:=]\s*["']?)
    ([^\s"',;}]{6,})
    """
)
_USERINFO = re.compile(r"(://[^/\s:@]+:)[^@\s/]+@")
"""A password in a URL (`postgresql://user:secret@host`)."""
_HINT = re.compile(
    r"sk-|AIza|AKIA|ASIA|eyJ|bearer|xox|gh[po]_|github_pat|glpat|://|key|secret|password|token|auth",
    re.IGNORECASE,
)
"""What every shape above contains: a text without any of it is left as it is, at the cost of one scan."""
SENSITIVE_KEYS = frozenset(
    {
        "authorization",
        "api-key",
        "api_key",
        "x-api-key",
        "x-goog-api-key",
        "proxy-authorization",
        "master_key",
        "password",
        "aws_secret_access_key",
        "aws_session_token",
        "client_secret",
        "token",
        "key",
    }
)
"""Field names whose values are secret whatever they look like."""
PLAIN_FIELDS = frozenset({"guardrails"})
"""Fields of the access line built only of config names, fixed words and numbers: never redacted (a
line is written per call, and each nested value would cost its scan)."""


class Redactor:
    """A structlog processor: every string in the event (nested mappings and lists included) with its
    secrets masked, and the values of fields named like credentials masked whole. `known` are exact
    secret values (the config's credentials) to mask wherever they show up, whatever their shape."""

    __slots__ = ("_known",)

    def __init__(self, known: Iterable[str] = ()) -> None:
        # Longest first, so that a secret containing another is masked whole; short values would mask
        # ordinary words, and no real credential is that short.
        values = sorted({k for k in known if len(k) >= 8}, key=len, reverse=True)
        self._known = re.compile("|".join(map(re.escape, values))) if values else None

    def __call__(self, logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        for name, value in event.items():
            if type(value) is str and name not in SENSITIVE_KEYS:  # most fields: a plain text
                if len(value) >= 8:
                    event[name] = self.text(value)
            elif value is not None and not isinstance(value, bool | int | float) and name not in PLAIN_FIELDS:
                event[name] = self.cleaned(value, name)
        return event

    def cleaned(self, value: Any, name: str = "") -> Any:
        if name.lower() in SENSITIVE_KEYS and value is not None and not isinstance(value, bool | int):
            return MASK
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {key: self.cleaned(item, str(key)) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.cleaned(item) for item in value]
        return value

    def text(self, text: str) -> str:
        if len(text) < 8:
            return text
        if self._known is not None:
            text = self._known.sub(MASK, text)
        if _HINT.search(text) is None:
            return text
        text = _SHAPES.sub(MASK, text)
        if "://" in text:
            text = _USERINFO.sub(lambda match: match.group(1) + MASK + "@", text)
        return _ASSIGNED.sub(lambda match: match.group(1) + MASK, text)

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
    r"sk-[a-z0-9_\-]{8}|aiza|akia|asia|eyj|bearer|xox|gh[po]_|github_pat|glpat|://|key|secret|password|token|auth"
)
"""What every shape above contains, searched in the text's `casefold()`: a text without any of it is left
as it is, at the cost of one scan. Case-folded rather than matched with IGNORECASE, which defeats the
regex engine's literal prefix search (23 against 3 us over an access line's fields); casefold also folds
the characters IGNORECASE equates with ASCII letters (the long s to s, the Kelvin sign to k), so no text
the shapes would match is let through. `sk-` counts only with the 8 characters its shape needs: a key's
`sk-...abcd` abbreviation, on every keyed call's line, is no hint."""
_SCALARS = frozenset({int, float, bool})
_SEPARATOR = "\x00"
"""Joins a line's fields for one scan of them all: no shape or secret spans it."""
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
_CLEAN_KEPT = 4096
"""Texts remembered as holding no secret before the memory starts afresh."""
_CLEAN_LENGTH = 256
"""Texts longer than this are scanned each time, never remembered (the memory stays small)."""
PLAIN_FIELDS = frozenset({"guardrails"})
"""Fields of the access line built only of config names, fixed words and numbers: never redacted (a
line is written per call, and each nested value would cost its scan)."""


class Redactor:
    """A structlog processor: every string in the event (nested mappings and lists included) with its
    secrets masked, and the values of fields named like credentials masked whole. `known` are exact
    secret values (the config's credentials) to mask wherever they show up, whatever their shape."""

    __slots__ = ("_clean", "_known")

    def __init__(self, known: Iterable[str] = ()) -> None:
        # Longest first, so that a secret containing another is masked whole; short values would mask
        # ordinary words, and no real credential is that short.
        values = sorted({k for k in known if len(k) >= 8}, key=len, reverse=True)
        self._known = re.compile("|".join(map(re.escape, values))) if values else None
        self._clean: set[str] = set()
        """Short texts found to hold nothing (`text` leaves them as they are): a line's model, deployment,
        key alias and the like come back on every call, and are not scanned again."""

    def __call__(self, logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        texts: list[str] = []
        clean = self._clean
        for name, value in event.items():
            kind = type(value)
            if kind is str and name not in SENSITIVE_KEYS:  # most fields: a plain text
                if len(value) >= 8 and value not in clean:
                    texts.append(name)
            elif value is None or kind in _SCALARS:  # the others: numbers, flags, unset
                continue
            elif not isinstance(value, bool | int | float) and name not in PLAIN_FIELDS:
                event[name] = self.cleaned(value, name)
        # The plain texts scanned at once (an access line's ten or so: 5 us instead of 25): one that holds
        # something is in the whole, and only then is each field cleaned on its own. None holds anything
        # when the whole does not (no shape or secret spans the separator), so each is remembered; so is
        # each that its own scan left as it was (a key alias such as `prod-key` holds a hint, "key", and
        # would otherwise send every text of each of its calls' lines through the scan of its own).
        if texts:
            found = [event[name] for name in texts]
            if self._suspect(_SEPARATOR.join(found)):
                for name in texts:
                    event[name] = self.text(event[name])
                found = [text for name, text in zip(texts, found, strict=True) if event[name] == text]
            if len(clean) >= _CLEAN_KEPT:
                clean.clear()
            clean.update([text for text in found if len(text) <= _CLEAN_LENGTH])
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

    def _suspect(self, text: str) -> bool:
        """Whether `text` may hold a secret: a known one, or a hint of a shape."""
        if self._known is not None and self._known.search(text) is not None:
            return True
        return _HINT.search(text.casefold()) is not None

    def text(self, text: str) -> str:
        if len(text) < 8:
            return text
        if self._known is not None:
            text = self._known.sub(MASK, text)
        if _HINT.search(text.casefold()) is None:
            return text
        text = _SHAPES.sub(MASK, text)
        if "://" in text:
            text = _USERINFO.sub(lambda match: match.group(1) + MASK + "@", text)
        return _ASSIGNED.sub(lambda match: match.group(1) + MASK, text)

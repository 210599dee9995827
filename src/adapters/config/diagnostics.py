"""Naming config paths, suggesting near misses, and collecting what the loader has to tell the operator."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from domain.errors import ConfigurationError


def path_of(*loc: str | int) -> str:
    """`model_list[2].litellm_params.model` from ("model_list", 2, "litellm_params", "model")."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part:
            out += f".{part}" if out else part
    return out


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`; did you mean 'x'?` for a near miss among `candidates`, else an empty string."""
    matches = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.8)
    return f"; did you mean '{matches[0]}'?" if matches else ""


class Report:
    """Keys the gateway does not act on (yet) and things worth a warning, in the order met."""

    def __init__(self) -> None:
        self.ignored: list[str] = []
        self.warnings: list[str] = []
        self._warned: set[str] = set()

    def warn(self, path: str, message: str) -> None:
        """One warning per path: the first says what is wrong there, more would only repeat it."""
        if path and path in self._warned:
            return
        self._warned.add(path)
        self.warnings.append(f"{path}: {message}" if path else message)

    def ignore(self, path: str) -> None:
        if path not in self.ignored:
            self.ignored.append(path)

    def ignore_unknown(self, base: str, extra: Mapping[str, Any] | None, known: Iterable[str]) -> None:
        """Reports each key of `extra` as ignored; a near miss of a known key also earns a warning,
        because a typo would otherwise silently turn a setting off."""
        known = tuple(known)
        for key in extra or {}:
            path = path_of(base, key)
            self.ignore(path)
            hint = did_you_mean(key, known)
            if hint:
                self.warn(path, f"unknown key, ignored{hint}")


def from_validation_error(exc: Any) -> ConfigurationError:
    """The first problem of a pydantic ValidationError as a ConfigurationError naming its path; the rest
    follow in the message so that one start-up shows every mistake."""
    problems = [(path_of(*error["loc"]), _message(error)) for error in exc.errors(include_input=False)]
    path, message = problems[0]
    rest = "".join(f"\n{p}: {m}" for p, m in problems[1:])
    return ConfigurationError(path, message + rest)


def _message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "is required"
    message = str(error["msg"])
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return message[:1].lower() + message[1:]

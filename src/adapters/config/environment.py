"""`os.environ/NAME` references, resolved anywhere in the config tree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.config.diagnostics import Report, path_of

PREFIX = "os.environ/"


def resolve(tree: Any, environ: Mapping[str, str], report: Report, *loc: str | int) -> Any:
    """A copy of `tree` with every `os.environ/NAME` string replaced by the variable's value. An unset
    variable becomes None and a warning, so that an optional setting may stay unset."""
    if isinstance(tree, str):
        if not tree.startswith(PREFIX):
            return tree
        name = tree.removeprefix(PREFIX).strip()
        if name in environ:
            return environ[name]
        report.warn(path_of(*loc), f"environment variable {name} is not set")
        return None
    if isinstance(tree, Mapping):
        return {key: resolve(value, environ, report, *loc, str(key)) for key, value in tree.items()}
    if isinstance(tree, list | tuple):
        return [resolve(value, environ, report, *loc, index) for index, value in enumerate(tree)]
    return tree


def effective_environment(environ: Mapping[str, str], declared: Any, report: Report) -> dict[str, str]:
    """`environ` with the config's `environment_variables` laid over it, as LiteLLM does when it copies
    them into os.environ at startup (without touching our own process environment)."""
    merged = dict(environ)
    if not isinstance(declared, Mapping):
        return merged
    for name, value in declared.items():
        value = resolve(value, environ, report, "environment_variables", str(name))
        if value is not None:
            merged[str(name)] = str(value)
    return merged

"""Request fields passed to an upstream as they are: the caller's, over the deployment's presets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.deployments import Deployment


def passthrough(fields: Mapping[str, Any], deployment: Deployment) -> dict[str, Any]:
    """The caller's passthrough fields over the deployment's configured ones (its `extra_body` and
    `top_k` presets); each adapter then renames what its upstream calls otherwise."""
    presets = deployment.extra_params
    extra: dict[str, Any] = {}
    if isinstance(presets.get("extra_body"), Mapping):
        extra.update(presets["extra_body"])
    if presets.get("top_k") is not None:
        extra["top_k"] = presets["top_k"]
    extra.update(fields)
    return extra

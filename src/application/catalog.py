"""The model catalog: public model names and the deployments behind them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from domain.deployments import Deployment, ModelGroup
from domain.errors import NotFoundError

_MAX_RESOLVED_WILDCARDS = 4096


def wildcard_match(pattern: str, model: str) -> str | None:
    """The part of `model` that the one `*` of `pattern` stands for, or None when it does not match."""
    head, star, tail = pattern.partition("*")
    if not star or len(model) < len(head) + len(tail) + 1:
        return None
    if model.startswith(head) and model.endswith(tail):
        return model[len(head) : len(model) - len(tail)]
    return None


class ModelCatalog:
    """Exact names first; then wildcard names (`openai/*`, `*`), longest pattern first, whose
    deployments take the matched part as their upstream model (`openai/*` -> `gpt-4o`).

    `replace` swaps in a new set of deployments at once (models added through the management API), so
    a lookup sees either the old catalog or the new one, never a mix."""

    def __init__(self, *, deployments: Iterable[Deployment], created: int = 0) -> None:
        self.created = created
        self.replace(deployments)

    def replace(self, deployments: Iterable[Deployment]) -> None:
        grouped: dict[str, list[Deployment]] = {}
        for deployment in deployments:
            grouped.setdefault(deployment.model_name, []).append(deployment)
        self._groups = {name: ModelGroup(name, tuple(members)) for name, members in grouped.items()}
        self._wildcards = sorted(
            (group for name, group in self._groups.items() if "*" in name),
            key=lambda group: len(group.name),
            reverse=True,
        )
        self._resolved: dict[str, ModelGroup] = {}
        access_groups: dict[str, set[str]] = {}
        for group in self._groups.values():
            for deployment in group.deployments:
                for name in deployment.access_groups:
                    access_groups.setdefault(name, set()).add(group.name)
        self._access_groups = {name: frozenset(models) for name, models in access_groups.items()}

    def access_groups(self) -> dict[str, frozenset[str]]:
        """Each access group's model names (from the deployments' `model_info.access_groups`)."""
        return self._access_groups

    def group(self, model: str) -> ModelGroup:
        """The group serving `model`; NotFoundError (code model_not_found) when there is none."""
        group = self._groups.get(model) or self._resolved.get(model) or self._resolve_wildcard(model)
        if group is None:
            raise NotFoundError(
                f"The model `{model}` does not exist or you do not have access to it.",
                code="model_not_found",
                param="model",
                model=model,
            )
        return group

    def groups(self) -> list[ModelGroup]:
        return list(self._groups.values())

    def deployments(self) -> list[Deployment]:
        return [d for group in self._groups.values() for d in group.deployments]

    def _resolve_wildcard(self, model: str) -> ModelGroup | None:
        for group in self._wildcards:
            matched = wildcard_match(group.name, model)
            if matched is None:
                continue
            resolved = ModelGroup(
                model,
                tuple(
                    dataclasses.replace(d, upstream_model=d.upstream_model.replace("*", matched))
                    for d in group.deployments
                ),
            )
            if len(self._resolved) < _MAX_RESOLVED_WILDCARDS:
                self._resolved[model] = resolved
            return resolved
        return None

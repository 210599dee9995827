"""The model catalog: public model names and the deployments behind them."""

from __future__ import annotations

from collections.abc import Iterable

from domain.deployments import Deployment, ModelGroup
from domain.errors import NotFoundError


class ModelCatalog:
    def __init__(self, *, deployments: Iterable[Deployment]) -> None:
        grouped: dict[str, list[Deployment]] = {}
        for deployment in deployments:
            grouped.setdefault(deployment.model_name, []).append(deployment)
        self._groups = {name: ModelGroup(name, tuple(members)) for name, members in grouped.items()}
        self._by_id = {d.id: d for group in self._groups.values() for d in group.deployments}

    def group(self, model: str) -> ModelGroup:
        """The group serving `model`; NotFoundError (code model_not_found) when there is none."""
        group = self._groups.get(model)
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

    def deployment(self, deployment_id: str) -> Deployment | None:
        return self._by_id.get(deployment_id)

"""The port that knows what models cost when the config does not say."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

from domain.pricing import ModelPrices

ModelRef = tuple[str, str]
"""(provider, upstream model id) as a deployment names them: ("openai", "gpt-4o-mini")."""


class PriceCatalog(ABC):
    """Published prices of models by provider.

    Contract:
    - `prices` answers for many models at once, from data available offline (a bundled snapshot, or one
      fetched earlier by `switchyard prices update`); it never reaches the network while serving.
    - A model the catalog does not know is absent from the answer (never an error, never a zero price).
    - Prices are USD per token (per call for `per_request`), Decimal, with the long-context tier where
      the model has one.
    - An adapter that cannot read its data raises `CatalogUnavailable`.
    """

    def describe(self) -> str:
        """Where the prices come from and how current they are, for logs and readiness."""
        return type(self).__name__

    @abstractmethod
    async def prices(self, models: Sequence[ModelRef]) -> Mapping[ModelRef, ModelPrices]: ...


class CatalogUnavailable(Exception):
    """The catalog's data cannot be read."""

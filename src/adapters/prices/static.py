"""A price catalog held in memory: a table given at construction (tests, or an operator's own prices)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from domain.pricing import ModelPrices
from ports.price_catalog import ModelRef, PriceCatalog


class StaticPriceCatalog(PriceCatalog):
    def __init__(self, prices: Mapping[ModelRef, ModelPrices], *, source: str = "a static table") -> None:
        self._prices = dict(prices)
        self._source = source

    def describe(self) -> str:
        return f"{type(self).__name__} ({self._source}, {len(self._prices)} models)"

    async def prices(self, models: Sequence[ModelRef]) -> Mapping[ModelRef, ModelPrices]:
        return {ref: self._prices[ref] for ref in models if ref in self._prices}

"""Each deployment's prices: those its config sets, completed from the price catalog."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from decimal import Decimal

from domain.deployments import Deployment
from domain.pricing import ModelPrices
from ports.price_catalog import CatalogUnavailable, ModelRef, PriceCatalog


def model_ref(deployment: Deployment) -> ModelRef:
    return (deployment.provider, deployment.upstream_model)


FREE = ModelPrices(input=Decimal(0), output=Decimal(0))
"""What the built-in mock provider's calls cost: nothing is called, nothing is spent."""
_MERGES_KEPT = 4096


class Pricing:
    """Prices per deployment, cached: config prices over the catalog's, field by field.

    The catalog is asked once for every deployment given to `load` (at start), and once for each model
    first seen later (a model added through the API, a wildcard resolved); concurrent askers share one
    lookup. When the catalog cannot answer, the config's prices stand alone (a model without any costs
    None, never a failed call) and the catalog is asked again after `retry_after` seconds, not on every
    call."""

    def __init__(self, *, catalog: PriceCatalog | None, retry_after: float = 60.0) -> None:
        self._catalog = catalog
        self._retry_after = retry_after
        self._known: dict[ModelRef, ModelPrices | None] = {}
        self._pending: dict[ModelRef, asyncio.Future[None]] = {}
        self._unanswered: dict[ModelRef, float] = {}
        """Models the catalog could not be asked about, and when it may be asked again (loop time)."""
        self._merges: dict[int, tuple[ModelPrices, ModelPrices | None, ModelPrices]] = {}
        """Each deployment's merged prices, by its config prices' id, with what they were merged from:
        a merge builds and validates a ModelPrices of 17 fields (25 us a call on the ledger's path)."""

    async def load(self, deployments: Iterable[Deployment]) -> list[Deployment]:
        """Looks up every deployment's model in the catalog at once; returns the deployments that have
        no price at all (neither config nor catalog)."""
        deployments = list(deployments)
        await self._lookup({model_ref(d) for d in deployments})
        return [d for d in deployments if not self._merged(d).priced]

    async def prices_for(self, deployment: Deployment) -> ModelPrices:
        ref = model_ref(deployment)
        if ref not in self._known and self._unanswered.get(ref, 0.0) <= asyncio.get_running_loop().time():
            await self._lookup({ref})
        return self._merged(deployment)

    def cached(self, deployment: Deployment) -> ModelPrices:
        """The prices known now, without asking the catalog (config prices alone before it answered)."""
        return self._merged(deployment)

    def _merged(self, deployment: Deployment) -> ModelPrices:
        own = deployment.prices
        under = FREE if deployment.provider == "mock" else self._known.get(model_ref(deployment))
        found = self._merges.get(id(own))
        if found is not None and found[0] is own and found[1] is under:
            return found[2]
        if len(self._merges) >= _MERGES_KEPT:  # deployments come and go through the API: stay bounded
            self._merges.clear()
        merged = own.over(under)
        self._merges[id(own)] = (own, under, merged)
        return merged

    async def _lookup(self, refs: set[ModelRef]) -> None:
        waiting = [self._pending[ref] for ref in refs if ref in self._pending]
        wanted = [ref for ref in refs if ref not in self._known and ref not in self._pending]
        if wanted:
            done = asyncio.get_running_loop().create_future()
            for ref in wanted:
                self._pending[ref] = done
            try:
                found = await self._ask(wanted)
                for ref in wanted:
                    if found is None:
                        self._unanswered[ref] = asyncio.get_running_loop().time() + self._retry_after
                    else:
                        self._known[ref] = found.get(ref)
                        self._unanswered.pop(ref, None)
            finally:
                for ref in wanted:
                    self._pending.pop(ref, None)
                done.set_result(None)
        for future in waiting:
            await asyncio.shield(future)

    async def _ask(self, refs: list[ModelRef]) -> dict[ModelRef, ModelPrices] | None:
        """The catalog's answer; None when it could not give one."""
        if self._catalog is None:
            return {}
        try:
            return dict(await self._catalog.prices(refs))
        except CatalogUnavailable:
            return None

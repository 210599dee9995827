"""Budgets on the request path: a call's estimated cost reserved against every budget above it before the
call, settled to its real cost after."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from application.catalog import ModelCatalog
from application.pricing import Pricing
from domain.access import Principal
from domain.budget_policy import budget_lines
from domain.budgets import (
    ZERO,
    BudgetExceededError,
    BudgetLine,
    Standing,
    prompt_token_bound,
    soft_crossed,
)
from domain.completions import CompletionRequest
from domain.embeddings import EmbeddingRequest
from domain.frozen import frozen
from domain.images import ImageRequest
from domain.moderation import ModerationRequest
from domain.pricing import ModelPrices, estimate_at, worst_case
from domain.rerank import RerankRequest
from domain.router_policy import RouterPolicy
from ports.budget_reservations import BudgetReservations, BudgetsUnavailable
from ports.clock import Clock
from ports.spend_ledger import SpendLedger
from ports.unit_of_work import StoreUnavailable

DEFAULT_OUTPUT_TOKENS = 4096
"""Output tokens assumed for a call that sets no `max_tokens` to a model whose output limit is unknown."""
IMAGE_OUTPUT_TOKENS = 6240
"""Output tokens assumed per image of a model priced by the token and not by the image: the most an image
costs on the GPT image models (gpt-image-1, high quality, 1024x1536: OpenAI's image generation
guide, https://platform.openai.com/docs/guides/image-generation), more than Gemini's 1290."""
HOLD_TTL = 900.0
"""Seconds a reservation counts when its call never settles (its process died)."""
_KEPT = 4096
"""Entries of each of the guard's caches (prices, budget lines) before it starts afresh."""
_WINDOW_EDGE = 0.001

SoftBudgetAlert = Callable[[BudgetLine, Decimal], None]
"""Told when a call's spend takes a budget to or past its soft budget (line, spend now)."""


@frozen
class BudgetHold:
    """An admitted call's reservation: settled once, with the call's real cost, however the call ended."""

    lines: tuple[BudgetLine, ...]
    hold: str
    amount: Decimal


class BudgetGuard:
    """Admits a call only while every budget on its path has room (`domain.budgets`), reserving the
    call's estimate against all of them at once so that concurrent calls see each other.

    A budget whose window spend is not counted yet is seeded from the ledger first. While the database
    cannot be reached for that, or the counters themselves cannot, the call goes through unreserved:
    an outage never fails a call, and budgets already counted keep holding."""

    def __init__(
        self,
        *,
        reservations: BudgetReservations,
        ledger: SpendLedger,
        pricing: Pricing,
        catalog: ModelCatalog,
        clock: Clock,
        policy: RouterPolicy,
        on_soft_budget: SoftBudgetAlert | None = None,
        hold_ttl: float = HOLD_TTL,
    ) -> None:
        self._reservations = reservations
        self._ledger = ledger
        self._pricing = pricing
        self._catalog = catalog
        self._clock = clock
        self._policy = policy
        self._on_soft_budget = on_soft_budget
        self._hold_ttl = hold_ttl
        self._seeding: dict[tuple[str, float], asyncio.Future[None]] = {}
        self._worst: dict[int, tuple[ModelPrices, ModelPrices]] = {}
        self._lines: dict[tuple[int, str], tuple[Principal, tuple[BudgetLine, ...], float, float]] = {}

    @property
    def reservations(self) -> BudgetReservations:
        return self._reservations

    async def reserve(
        self,
        principal: Principal,
        request: CompletionRequest | EmbeddingRequest | ModerationRequest | RerankRequest | ImageRequest,
        hold: str,
    ) -> BudgetHold | None:
        """Reserves the call's estimate against every budget above it; None when no budget applies.
        BudgetExceededError (400, code budget_exceeded) naming the first budget without room, or (for a
        call whose cost is known before it is made) the first it would take past its limit."""
        now = self._clock.now()
        lines = self._budget_lines(principal, request.model, now)
        if not lines:
            return None
        amount, exact = await self._estimate(request)
        try:
            for _ in range(3):
                answer = await self._reservations.reserve(
                    lines, amount, hold=hold, ttl=self._hold_ttl, now=now
                )
                if answer.admitted:
                    if exact:
                        await self._release_unless_fits(lines, answer.standings, hold, amount, now)
                    return BudgetHold(lines, hold, amount)
                if answer.refused is not None:
                    raise BudgetExceededError(lines[answer.refused], answer.standings[answer.refused].spent)
                await asyncio.gather(*(self._seed(lines[index], now) for index in answer.unseeded))
        except (BudgetsUnavailable, StoreUnavailable):
            return None
        return None  # counters that will not stay seeded (expiring as fast as they are set): let it go

    async def settle(self, hold: BudgetHold, cost: Decimal | None) -> None:
        """Ends the call's reservation, charging what it really cost (nothing for an unpriced call)."""
        spent = cost if cost is not None and cost > 0 else ZERO
        now = self._clock.now()
        try:
            await self._reservations.settle(hold.lines, spent, hold=hold.hold, now=now)
            soft = [line for line in hold.lines if line.soft is not None]
            if soft and spent > 0 and self._on_soft_budget is not None:
                standings = await self._reservations.standings(soft, now=now)
                for line, standing in zip(soft, standings, strict=True):
                    if standing is not None and soft_crossed(line, standing.spent - spent, standing.spent):
                        self._on_soft_budget(line, standing.spent)
        except BudgetsUnavailable:
            return  # the hold expires by itself; the ledger still has the cost

    async def standings(self, lines: Sequence[BudgetLine]) -> list[Standing | None]:
        try:
            return await self._reservations.standings(lines, now=self._clock.now())
        except BudgetsUnavailable:
            return [None] * len(lines)

    async def _release_unless_fits(
        self,
        lines: Sequence[BudgetLine],
        standings: Sequence[Standing],
        hold: str,
        amount: Decimal,
        now: float,
    ) -> None:
        """A call of known cost (images priced per image) must fit in what its budgets have left: with its
        reservation counted (and every other one in flight), no budget may be past its limit. One that
        would be is released and refused; a budget with room for two images never pays for three."""
        for line, standing in zip(lines, standings, strict=True):
            if line.limit is not None and standing.room(line.limit) < 0:
                await self._reservations.settle(lines, ZERO, hold=hold, now=now)
                raise BudgetExceededError(line, standing.spent, cost=amount)

    async def _seed(self, line: BudgetLine, now: float) -> None:
        key = (line.subject, line.window.start)
        running = self._seeding.get(key)
        if running is not None:
            await asyncio.shield(running)
            return
        done = asyncio.get_running_loop().create_future()
        self._seeding[key] = done
        try:
            since = datetime.fromtimestamp(line.window.start, UTC)
            spent = await self._ledger.spend_since(line.subject, since)
            await self._reservations.seed(line, spent, now=now)
        finally:
            del self._seeding[key]
            done.set_result(None)

    async def _estimate(
        self, request: CompletionRequest | EmbeddingRequest | ModerationRequest | RerankRequest | ImageRequest
    ) -> tuple[Decimal, bool]:
        """The dearest the call could be on any deployment of its model: a bound on its prompt tokens
        (its size in bytes: never short of the real count, and no tokenizer to load), and its
        `max_tokens` (else the model's output limit) of output; for an image call, the `n` images at the
        per-image price, or at IMAGE_OUTPUT_TOKENS each of output for a model priced by the token. And
        whether the amount is a known price rather than a loose bound: images priced per image on every
        deployment, with no price on the prompt."""
        group = self._catalog.group(self._policy.resolve_alias(request.model))
        if not isinstance(request, CompletionRequest):
            inputs = request.inputs
            prompt = sum(len(text.encode()) if isinstance(text, str) else len(text) for text in inputs)
        else:
            prompt = prompt_token_bound(request.messages, request.tools)
        images = request.count if isinstance(request, ImageRequest) else 0
        worst = ZERO
        exact = bool(images)
        for deployment in group.deployments:
            prices = await self._pricing.prices_for(deployment)
            per_image = prices.input_per_image is not None or prices.output_per_image is not None
            exact = exact and per_image and not prices.input
            output = 0
            if isinstance(request, CompletionRequest):
                output = (
                    request.params.output_limit
                    or deployment.capabilities.max_output_tokens
                    or DEFAULT_OUTPUT_TOKENS
                )
            elif images and not per_image:
                output = images * IMAGE_OUTPUT_TOKENS
            estimate = estimate_at(prompt, output, self._worst_case(prices), images=images)
            if estimate is not None and estimate > worst:
                worst = estimate
        return worst, exact

    def _budget_lines(self, principal: Principal, model: str, now: float) -> tuple[BudgetLine, ...]:
        """`budget_lines`, kept per principal object and model while `now` stays inside every line's window
        (the identity cache hands out the same Principal until the caller's records change): the lines,
        their windows and their subjects were built again on every call (5 us). A window's last
        millisecond is worked out afresh, so that no rounding at its end tells it differently."""
        found = self._lines.get((id(principal), model))
        if found is not None and found[0] is principal and found[2] <= now < found[3]:
            return found[1]
        lines = budget_lines(principal, model, now)
        start = max((line.window.start for line in lines), default=-math.inf)
        ends = [line.window.end - _WINDOW_EDGE for line in lines if line.window.end is not None]
        if len(self._lines) >= _KEPT:
            self._lines.clear()
        self._lines[(id(principal), model)] = (principal, lines, start, min(ends, default=math.inf))
        return lines

    def _worst_case(self, prices: ModelPrices) -> ModelPrices:
        """`worst_case(prices)`, kept per prices object (Pricing hands out the same one for a deployment
        until its prices change): building and checking a ModelPrices took 10 us of each call."""
        found = self._worst.get(id(prices))
        if found is None or found[0] is not prices:
            if len(self._worst) >= _KEPT:
                self._worst.clear()
            found = self._worst[id(prices)] = (prices, worst_case(prices))
        return found[1]

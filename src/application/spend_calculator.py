"""What a call would cost or did cost (/spend/calculate) and how many tokens a prompt is
(/utils/token_counter), priced and counted as the gateway prices and counts its own calls."""

from __future__ import annotations

from decimal import Decimal

from application.catalog import ModelCatalog
from application.pricing import Pricing
from domain.access import Principal, require_model
from domain.completions import CompletionRequest, Usage
from domain.deployments import Deployment
from domain.errors import NotFoundError
from domain.frozen import frozen
from domain.pricing import ZERO, cost_of
from domain.router_policy import RouterPolicy
from ports.token_counter import TokenCounter


class SpendCalculator:
    """Prices with the first deployment of the model's group (config prices over the price catalog), for
    a model the caller may use. An unpriced model costs 0, as LiteLLM answers for one."""

    def __init__(
        self, *, catalog: ModelCatalog, pricing: Pricing, counter: TokenCounter, policy: RouterPolicy
    ) -> None:
        self._catalog = catalog
        self._pricing = pricing
        self._counter = counter
        self._policy = policy

    async def of_request(self, principal: Principal, request: CompletionRequest) -> Decimal:
        """Before a call: its prompt, counted with the local tokenizer, and no output."""
        deployment = self._deployment(principal, request.model)
        prompt = self._counter.count_messages(request.messages, deployment.upstream_model, request.tools)
        return await self._cost(deployment, Usage(prompt_tokens=prompt))

    async def of_usage(self, principal: Principal, model: str, usage: Usage) -> Decimal:
        """After a call: the usage its reply reported."""
        return await self._cost(self._deployment(principal, model), usage)

    def _deployment(self, principal: Principal, model: str) -> Deployment:
        group = self._catalog.group(self._policy.resolve_alias(model))
        require_model(principal, model, self._catalog.access_groups())
        return group.deployments[0]

    async def _cost(self, deployment: Deployment, usage: Usage) -> Decimal:
        cost = cost_of(usage, await self._pricing.prices_for(deployment))
        return cost.total if cost is not None else ZERO


@frozen
class TokenCount:
    total_tokens: int
    request_model: str
    model_used: str
    """The upstream model whose tokenizer counted (the name asked, for a model the gateway does not
    serve)."""


class PromptTokens:
    """Counts offline with the local tokenizer, as LiteLLM's /utils/token_counter does by default. A model
    the gateway does not serve is counted by its own name (the tokenizer picks a close encoding)."""

    def __init__(self, *, catalog: ModelCatalog, counter: TokenCounter, policy: RouterPolicy) -> None:
        self._catalog = catalog
        self._counter = counter
        self._policy = policy

    def of_request(self, principal: Principal, request: CompletionRequest) -> TokenCount:
        used = self._upstream(principal, request.model)
        tokens = self._counter.count_messages(request.messages, used, request.tools)
        return TokenCount(tokens, request.model, used)

    def of_text(self, principal: Principal, model: str, text: str) -> TokenCount:
        used = self._upstream(principal, model)
        return TokenCount(self._counter.count_text(text, used), model, used)

    def _upstream(self, principal: Principal, model: str) -> str:
        try:
            group = self._catalog.group(self._policy.resolve_alias(model))
        except NotFoundError:
            return model
        require_model(principal, model, self._catalog.access_groups())
        return group.deployments[0].upstream_model

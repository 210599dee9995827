"""Counting a request's input tokens before sending it (Anthropic's /v1/messages/count_tokens)."""

from __future__ import annotations

from collections.abc import Mapping

from application.catalog import ModelCatalog
from domain.completions import CompletionRequest
from domain.errors import SwitchyardError
from domain.router_policy import RouterPolicy
from ports.llm_provider import LLMProvider
from ports.token_counter import TokenCounter


class TokenCounting:
    """Asks a deployment of the model that counts tokens itself (Anthropic's count_tokens endpoint),
    trying the next one when one fails for a reason another may not have; without one, counts with the
    local tokenizer, as close as an offline count gets."""

    def __init__(
        self,
        *,
        catalog: ModelCatalog,
        providers: Mapping[str, LLMProvider],
        counter: TokenCounter,
        policy: RouterPolicy,
    ) -> None:
        self._catalog = catalog
        self._providers = providers
        self._counter = counter
        self._policy = policy

    async def count(self, request: CompletionRequest) -> int:
        group = self._catalog.group(self._policy.resolve_alias(request.model))
        failure: SwitchyardError | None = None
        for deployment in group.deployments:
            provider = self._providers.get(deployment.id)
            if provider is None or not provider.supports_count_tokens:
                continue
            try:
                return await provider.count_tokens(request, deployment)
            except SwitchyardError as exc:
                if not exc.retryable:
                    raise
                failure = exc
        if failure is not None:
            raise failure
        return self._counter.count_messages(
            request.messages, group.deployments[0].upstream_model, request.tools
        )

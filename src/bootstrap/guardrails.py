"""Wires the config's guardrails: each spec's implementation, built once at startup (imported only when a
config names it)."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from adapters.config.gateway_config import GatewayConfig
from application.guardrails import Configured, Guardrails
from domain.errors import BadRequestError, ConfigurationError
from domain.guardrails import GuardrailSpec
from domain.moderation import ModerationRequest, ModerationResponse
from ports.clock import Clock
from ports.guardrail import Guardrail
from ports.token_counter import TokenCounter

_IMPLEMENTATIONS = {
    "litellm_content_filter": ("adapters.guardrails.content_filter", "ContentFilterGuardrail", ()),
    "hide-secrets": ("adapters.guardrails.content_filter", "HideSecretsGuardrail", ()),
    "detect_prompt_injection": ("adapters.guardrails.content_filter", "PromptInjectionGuardrail", ()),
    "max_input_tokens": ("adapters.guardrails.limits", "MaxInputTokensGuardrail", ("counter",)),
    "json_schema_validation": ("adapters.guardrails.limits", "JsonSchemaGuardrail", ()),
    "openai_moderation": ("application.moderation_guardrail", "ModerationGuardrail", ("moderate",)),
    "generic_guardrail_api": ("adapters.guardrails.generic_api", "GenericGuardrailApi", ("client",)),
    "presidio": ("adapters.guardrails.presidio", "PresidioGuardrail", ("client",)),
}
"""A guardrail kind -> the module and class that implement it, and the collaborators it takes."""


async def open_guardrails(
    config: GatewayConfig, counter: TokenCounter, clock: Clock, completions: Callable[[], Any]
) -> AsyncIterator[Guardrails | None]:
    """The configured guardrails (None without any), for as long as the gateway runs. `completions`
    gives the gateway's own completions use case, through which `openai_moderation` calls a moderation
    deployment. A setting a guardrail refuses stops startup, naming its path."""
    if not config.guardrails:
        yield None
        return
    client: httpx.AsyncClient | None = None

    def shared_client() -> httpx.AsyncClient:
        nonlocal client
        if client is None:
            client = httpx.AsyncClient(timeout=httpx.Timeout(10.0))
        return client

    async def moderate(request: ModerationRequest) -> ModerationResponse:
        served = await completions().moderate(
            request, call_id=str(uuid.uuid4()), call_type="guardrail.moderation"
        )
        return served.value

    collaborators: dict[str, Callable[[], Any]] = {
        "counter": lambda: counter,
        "moderate": lambda: moderate,
        "client": shared_client,
    }
    configured = [
        Configured(spec, _built(spec, position, collaborators))
        for position, spec in enumerate(config.guardrails)
    ]
    guardrails = Guardrails(configured, clock)
    try:
        yield guardrails
    finally:
        await guardrails.close()
        if client is not None:
            await client.aclose()


def _built(spec: GuardrailSpec, position: int, collaborators: dict[str, Callable[[], Any]]) -> Guardrail:
    module, name, needs = _IMPLEMENTATIONS[spec.kind]
    kind = getattr(importlib.import_module(module), name)
    try:
        return kind(spec, **{need: collaborators[need]() for need in needs})
    except BadRequestError as exc:
        path = f"guardrails[{position}].litellm_params"
        raise ConfigurationError(f"{path}.{exc.param}" if exc.param else path, exc.message) from None

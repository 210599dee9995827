"""The `openai_moderation` guardrail: texts judged by a moderation model the gateway itself serves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from domain.errors import BadRequestError, SwitchyardError
from domain.guardrails import ALLOW, GuardrailSpec, Inspection, Verdict, block
from domain.moderation import CATEGORIES, ModerationRequest, ModerationResponse
from ports.guardrail import Guardrail, GuardrailUnavailable

DEFAULT_MODEL = "omni-moderation-latest"
"""LiteLLM's default for this guardrail."""

Moderate = Callable[[ModerationRequest], Awaitable[ModerationResponse]]


class ModerationGuardrail(Guardrail):
    """Sends the inspection's texts, as one moderation request, to `model` (param, LiteLLM's name; default
    omni-moderation-latest) through `moderate` (the gateway's moderation use case, so through a configured
    moderation deployment), and blocks when any is flagged, naming the categories. `categories` (ours;
    LiteLLM has none) narrows the block to those categories, a parent such as `violence` covering its
    subcategories (`violence/graphic`)."""

    kind = "openai_moderation"

    def __init__(self, spec: GuardrailSpec, moderate: Moderate) -> None:
        model = spec.params.get("model", DEFAULT_MODEL)
        if not isinstance(model, str) or not model:
            raise BadRequestError("model must name a moderation model", param="model")
        self._model = model
        self._categories = _categories(spec.params.get("categories"))
        self._moderate = moderate

    async def check(self, inspection: Inspection) -> Verdict:
        inputs = tuple(text for text in inspection.texts if text.strip())
        if not inputs:
            return ALLOW
        try:
            response = await self._moderate(ModerationRequest(model=self._model, inputs=inputs))
        except SwitchyardError as exc:
            raise GuardrailUnavailable(f"{self.kind}: the moderation call failed: {exc.message}") from exc
        if not response.results:
            raise GuardrailUnavailable(f"{self.kind}: the moderation model answered no results")
        flagged = _flagged(response)
        if self._categories is not None:
            flagged = [name for name in flagged if _covered(name, self._categories)]
        elif not flagged and any(result.flagged for result in response.results):
            return block("flagged by the moderation model")
        if flagged:
            return block(f"flagged for {', '.join(flagged)}")
        return ALLOW


def _categories(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not value:
        raise BadRequestError("categories must be a list of moderation categories", param="categories")
    for name in value:
        if name not in CATEGORIES:
            raise BadRequestError(
                f"categories: unknown moderation category {name!r} (known: {', '.join(CATEGORIES)})",
                param="categories",
            )
    return tuple(value)


def _flagged(response: ModerationResponse) -> list[str]:
    """The categories any input was flagged for, once each, in the order the replies name them."""
    names: dict[str, None] = {}
    for result in response.results:
        names.update((name, None) for name, hit in result.categories.items() if hit)
    return list(names)


def _covered(name: str, wanted: Iterable[str]) -> bool:
    return any(name == category or name.startswith(f"{category}/") for category in wanted)

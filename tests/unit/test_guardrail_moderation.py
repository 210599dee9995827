"""The openai_moderation guardrail, over a fake moderation use case."""

from __future__ import annotations

from typing import Any

import pytest

from application.moderation_guardrail import ModerationGuardrail
from domain.errors import BadRequestError, RateLimitError, ServiceUnavailableError
from domain.guardrails import Decision, GuardrailMode, GuardrailSpec, Inspection
from domain.moderation import CATEGORIES, ModerationRequest, ModerationResponse, ModerationResult
from ports.guardrail import GuardrailUnavailable


def result(**scores: float) -> ModerationResult:
    """A result as OpenAI's omni-moderation answers: every category present, flagged above 0.5."""
    names = {name.replace("/", "_").replace("-", "_"): name for name in CATEGORIES}
    all_scores = {name: 0.0001 for name in CATEGORIES} | {names[key]: value for key, value in scores.items()}
    categories = {name: score > 0.5 for name, score in all_scores.items()}
    return ModerationResult(any(categories.values()), categories, all_scores)


CLEAN = result()


class FakeModeration:
    """Answers each input with the next of `answers`, records what it was asked."""

    def __init__(self, *answers: ModerationResult, error: Exception | None = None) -> None:
        self.answers = list(answers)
        self.error = error
        self.requests: list[ModerationRequest] = []

    async def __call__(self, request: ModerationRequest) -> ModerationResponse:
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        results = tuple(self.answers.pop(0) if self.answers else CLEAN for _ in request.inputs)
        return ModerationResponse(id="modr-5021", model=request.model, results=results)


def guardrail(moderate: FakeModeration, **params: Any) -> ModerationGuardrail:
    spec = GuardrailSpec(
        name="moderate-prompts",
        kind="openai_moderation",
        modes=(GuardrailMode.PRE_CALL, GuardrailMode.POST_CALL),
        params=params,
    )
    return ModerationGuardrail(spec, moderate=moderate)


def asking(*texts: str, mode: GuardrailMode = GuardrailMode.PRE_CALL) -> Inspection:
    return Inspection(mode, texts)


async def test_harmless_text_passes():
    moderate = FakeModeration(CLEAN)

    verdict = await guardrail(moderate).check(asking("How do I bake sourdough bread at home?"))

    assert verdict.decision is Decision.ALLOWED


async def test_flagged_text_is_blocked_naming_the_categories_but_not_the_text():
    moderate = FakeModeration(result(violence=0.91, harassment=0.78, harassment_threatening=0.3))

    verdict = await guardrail(moderate).check(asking("I will find where you live and hurt you."))

    assert verdict.blocked
    assert verdict.reason == "flagged for harassment, violence"
    assert "hurt" not in verdict.reason


async def test_the_texts_go_as_one_request_to_the_default_omni_moderation_model():
    moderate = FakeModeration()

    await guardrail(moderate).check(asking("You are a helpful assistant.", "", "  ", "What is 2 + 2?"))

    assert moderate.requests == [
        ModerationRequest(
            model="omni-moderation-latest", inputs=("You are a helpful assistant.", "What is 2 + 2?")
        )
    ]


async def test_the_configured_moderation_model_is_used():
    moderate = FakeModeration()

    await guardrail(moderate, model="text-moderation-latest").check(asking("Good morning!"))

    assert moderate.requests[0].model == "text-moderation-latest"


async def test_any_flagged_input_blocks_the_whole_call():
    moderate = FakeModeration(CLEAN, result(self_harm=0.88, self_harm_intent=0.71))

    verdict = await guardrail(moderate).check(
        asking("Tell me about the weather.", "I don't want to be here anymore, I want to end it.")
    )

    assert verdict.reason == "flagged for self-harm, self-harm/intent"


async def test_a_reply_is_judged_the_same_way():
    moderate = FakeModeration(result(hate=0.93))

    verdict = await guardrail(moderate).check(
        asking("People like them are vermin.", mode=GuardrailMode.POST_CALL)
    )

    assert verdict.reason == "flagged for hate"


async def test_nothing_to_judge_makes_no_moderation_call():
    moderate = FakeModeration()

    verdict = await guardrail(moderate).check(asking("", "   "))

    assert verdict.decision is Decision.ALLOWED
    assert moderate.requests == []


async def test_with_categories_only_those_block():
    moderate = FakeModeration(result(sexual=0.82))

    verdict = await guardrail(moderate, categories=["violence", "hate"]).check(
        asking("A steamy scene from a romance novel.")
    )

    assert verdict.decision is Decision.ALLOWED


async def test_a_chosen_category_that_is_flagged_blocks_and_only_it_is_named():
    moderate = FakeModeration(result(sexual=0.82, violence=0.77))

    verdict = await guardrail(moderate, categories=["violence"]).check(asking("A gory battle scene."))

    assert verdict.reason == "flagged for violence"


async def test_a_chosen_category_covers_its_subcategories():
    moderate = FakeModeration(result(violence_graphic=0.9))

    verdict = await guardrail(moderate, categories=["violence"]).check(asking("A detailed injury report."))

    assert verdict.reason == "flagged for violence/graphic"


async def test_a_flag_without_a_category_still_blocks():
    odd = ModerationResult(True, {name: False for name in CATEGORIES}, {name: 0.4 for name in CATEGORIES})

    verdict = await guardrail(FakeModeration(odd)).check(asking("Something borderline."))

    assert verdict.reason == "flagged by the moderation model"


@pytest.mark.parametrize(
    "error",
    [
        ServiceUnavailableError("no moderation deployment is healthy"),
        RateLimitError("moderation rate limit reached"),
    ],
)
async def test_a_failing_moderation_call_leaves_the_guardrail_unable_to_decide(error):
    with pytest.raises(GuardrailUnavailable) as unavailable:
        await guardrail(FakeModeration(error=error)).check(asking("Hello there."))

    assert unavailable.value.__cause__ is error


async def test_a_moderation_answer_without_results_leaves_the_guardrail_unable_to_decide():
    async def empty(request: ModerationRequest) -> ModerationResponse:
        return ModerationResponse(id="modr-1", model=request.model, results=())

    spec = GuardrailSpec(name="m", kind="openai_moderation", modes=(GuardrailMode.PRE_CALL,))
    with pytest.raises(GuardrailUnavailable):
        await ModerationGuardrail(spec, moderate=empty).check(asking("Hello there."))


@pytest.mark.parametrize("categories", [["violence", "gore"], [], 42])
def test_unknown_or_malformed_categories_are_refused_naming_the_param(categories):
    with pytest.raises(BadRequestError) as refused:
        guardrail(FakeModeration(), categories=categories)

    assert refused.value.param == "categories"


def test_a_blank_model_is_refused_naming_the_param():
    with pytest.raises(BadRequestError) as refused:
        guardrail(FakeModeration(), model="")

    assert refused.value.param == "model"

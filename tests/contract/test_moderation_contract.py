"""The moderation contract (LLMProvider.moderate): every adapter that serves it, the mock and each real
one behind a fake upstream in its wire format, gives one verdict per input in order, flagged when a
category is, scores between 0 and 1; the real ones raise each upstream failure as its domain error."""

from __future__ import annotations

import pytest

from adapters.llm.mock.script import FLAGGED_MARKER
from domain import errors
from domain.moderation import ModerationRequest
from tests.contract.harnesses.base import ProviderHarness
from tests.contract.surfaces import FAILURES, backend_fixture, fail_with

backend = backend_fixture("moderate")
upstream_backend = backend_fixture("moderate", real_only=True)

INPUTS = ("a calm sentence", f"an abusive one {FLAGGED_MARKER}", "another calm one")


def _request(*inputs: str) -> ModerationRequest:
    return ModerationRequest(model="guard", inputs=inputs or INPUTS)


async def test_each_input_gets_one_verdict_in_order(backend: ProviderHarness) -> None:
    reply = await backend.provider.moderate(_request(), backend.deployment)

    assert [result.flagged for result in reply.results] == [False, True, False]
    assert reply.id and reply.model


async def test_a_single_input_gets_a_single_verdict(backend: ProviderHarness) -> None:
    reply = await backend.provider.moderate(_request("just one"), backend.deployment)

    (result,) = reply.results
    assert result.flagged is False


async def test_an_input_is_flagged_exactly_when_one_of_its_categories_is(backend: ProviderHarness) -> None:
    reply = await backend.provider.moderate(_request(), backend.deployment)

    for result in reply.results:
        assert result.categories
        assert all(isinstance(flag, bool) for flag in result.categories.values())
        assert result.flagged is any(result.categories.values())


async def test_every_category_has_a_score_between_0_and_1(backend: ProviderHarness) -> None:
    reply = await backend.provider.moderate(_request(), backend.deployment)

    for result in reply.results:
        assert set(result.category_scores) == set(result.categories)
        assert all(isinstance(score, float) for score in result.category_scores.values())
        assert all(0.0 <= score <= 1.0 for score in result.category_scores.values())
    flagged = reply.results[1]
    assert max(flagged.category_scores.values()) > max(reply.results[0].category_scores.values())


@pytest.mark.parametrize("kind", sorted(FAILURES))
async def test_each_upstream_failure_is_raised_as_its_domain_error(
    upstream_backend: ProviderHarness, kind: str
) -> None:
    fail_with(upstream_backend, kind)

    with pytest.raises(errors.SwitchyardError) as raised:
        await upstream_backend.provider.moderate(_request(), upstream_backend.deployment)

    assert type(raised.value) is FAILURES[kind]
    assert raised.value.message

"""The router in the real server, driven by the official `openai` client: retries on another deployment,
cooldowns, fallbacks by error kind, the upstream's Retry-After and a deployment's rpm limit.

Two gateways, one per `router_settings`, share one scripted upstream; each test has model groups of its
own, so that one test's cooldowns and minute counts never reach another's."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import openai
import pytest

from tests.e2e.conftest import USER, gateway_serving
from tests.e2e.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

COOLDOWN = 3.0
"""The retrying gateway's `cooldown_time`: long enough for a few calls, on a loaded machine too (five took
1.03 s), and short enough to wait out."""
RETRY_AFTER = 3.0
"""What the `rate-limited` upstream model sends as Retry-After."""


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    """This module's own upstream, so that its request counts are this module's alone."""
    with FakeUpstream() as server:
        yield server


@pytest.fixture(autouse=True)
def counted_from_here(upstream: FakeUpstream) -> None:
    """Each test counts the upstream requests it caused, and no others."""
    upstream.requests.clear()


def served_by(headers: Mapping[str, str]) -> tuple[str, str]:
    """From a reply's headers: the deployment that answered, and how many attempts came before its own."""
    return headers["x-switchyard-model-id"], headers["x-switchyard-attempted-retries"]


def deployment(upstream: FakeUpstream, name: str, upstream_model: str, **params: object) -> dict:
    """A deployment of `name` on the scripted upstream's `upstream_model`, with that as its id."""
    return {
        "model_name": name,
        "litellm_params": {
            "model": f"openai/{upstream_model}",
            "api_base": upstream.base_url,
            "api_key": "sk-upstream",
            **params,
        },
        "model_info": {"id": upstream_model},
    }


@pytest.fixture(scope="module")
def retrying(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    """A gateway that retries once and cools a failing deployment down for `COOLDOWN` seconds."""
    model_list = [
        # The broken deployment is in the first `order` tier, so it is tried first whenever it is not
        # cooling down.
        deployment(upstream, "pair", "broken", order=1),
        deployment(upstream, "pair", "pair-ok", order=2),
        deployment(upstream, "limited-retried", "rate-limited"),
    ]
    router_settings = {"num_retries": 1, "cooldown_time": COOLDOWN}
    directory = Path(tmp_path_factory.mktemp("e2e-router-retrying"))
    with gateway_serving(model_list, directory, router_settings=router_settings) as client:
        yield client


@pytest.fixture(scope="module")
def single_shot(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    """A gateway that never retries, so that only its fallbacks decide what a failure leads to."""
    model_list = [
        deployment(upstream, "failing", "broken"),
        deployment(upstream, "dropping", "drop"),
        deployment(upstream, "long", "too-long"),
        deployment(upstream, "bad", "bad-request"),
        deployment(upstream, "backup", "backup"),
        deployment(upstream, "wider", "wider"),
        deployment(upstream, "limited", "rate-limited"),
        deployment(upstream, "capped", "capped", rpm=2),
    ]
    router_settings = {
        "num_retries": 0,
        # `long` has a general rule too: a context window error must take its own rule instead, and a
        # plain bad request must take none.
        "fallbacks": [{name: ["backup"]} for name in ("failing", "dropping", "long", "bad")],
        "context_window_fallbacks": [{"long": ["wider"]}],
    }
    directory = Path(tmp_path_factory.mktemp("e2e-router-single-shot"))
    with gateway_serving(model_list, directory, router_settings=router_settings) as client:
        yield client


def test_a_failing_deployment_is_retried_on_its_sibling_and_then_rests_for_the_cooldown_time(
    retrying: openai.OpenAI, upstream: FakeUpstream
) -> None:
    def ask():  # the client's raw response: its headers, and the reply itself by `parse()`
        return retrying.chat.completions.with_raw_response.create(model="pair", messages=USER)

    first = ask()
    failed_at = upstream.received("broken")[0]["received_at"]
    cooling = [ask() for _ in range(4)]
    asked_while_cooling = time.monotonic() - failed_at
    time.sleep(max(0.0, failed_at + COOLDOWN + 0.2 - time.monotonic()))
    rested = ask()

    assert first.parse().choices[0].message.content == "Hello from upstream!"
    assert served_by(first.headers) == ("pair-ok", "1")
    assert asked_while_cooling < COOLDOWN
    assert [served_by(r.headers) for r in cooling] == [("pair-ok", "0")] * 4
    assert len(upstream.received("pair-ok")) == 1 + 4 + 1
    # Once the cooldown is over, the first tier is tried again: it fails again, and the retry saves the call.
    assert len(upstream.received("broken")) == 2
    assert served_by(rested.headers) == ("pair-ok", "1")


def test_a_server_error_falls_back_to_the_models_fallback(
    single_shot: openai.OpenAI, upstream: FakeUpstream
) -> None:
    raw = single_shot.chat.completions.with_raw_response.create(model="failing", messages=USER)

    assert raw.parse().choices[0].message.content == "Hello from upstream!"
    assert raw.headers["x-switchyard-attempted-fallbacks"] == "1"
    assert raw.headers["x-switchyard-model-id"] == "backup"
    assert (len(upstream.received("broken")), len(upstream.received("backup"))) == (1, 1)


def test_a_context_window_error_takes_the_context_window_fallbacks_over_the_general_ones(
    single_shot: openai.OpenAI, upstream: FakeUpstream
) -> None:
    raw = single_shot.chat.completions.with_raw_response.create(model="long", messages=USER)

    assert raw.parse().choices[0].message.content == "Hello from upstream!"
    assert raw.headers["x-switchyard-attempted-fallbacks"] == "1"
    assert raw.headers["x-switchyard-model-id"] == "wider"
    assert (len(upstream.received("wider")), len(upstream.received("backup"))) == (1, 0)


def test_a_plain_bad_request_comes_back_without_trying_a_fallback(
    single_shot: openai.OpenAI, upstream: FakeUpstream
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        single_shot.chat.completions.create(model="bad", messages=USER)

    assert caught.value.status_code == 400
    assert caught.value.param == "temperature"
    assert (len(upstream.received("bad-request")), len(upstream.received("backup"))) == (1, 0)


def test_a_429_without_retries_comes_back_with_the_upstreams_retry_after(
    single_shot: openai.OpenAI, upstream: FakeUpstream
) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        single_shot.chat.completions.create(model="limited", messages=USER)

    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "3"
    assert len(upstream.received("rate-limited")) == 1


def test_a_429_is_retried_no_sooner_than_the_upstreams_retry_after(
    retrying: openai.OpenAI, upstream: FakeUpstream
) -> None:
    started = time.monotonic()
    with pytest.raises(openai.RateLimitError) as caught:
        retrying.chat.completions.create(model="limited-retried", messages=USER)
    elapsed = time.monotonic() - started

    arrivals = [r["received_at"] for r in upstream.received("rate-limited")]
    assert len(arrivals) == 2
    assert arrivals[1] - arrivals[0] >= RETRY_AFTER
    assert elapsed < RETRY_AFTER + 1.5  # waited for the Retry-After, not for a backoff on top of it
    assert caught.value.response.headers["retry-after"] == "3"


def test_a_deployment_at_its_rpm_answers_the_next_call_429_with_retry_after(
    single_shot: openai.OpenAI, upstream: FakeUpstream
) -> None:
    # rpm counts calls per clock minute: three calls must not straddle one.
    if time.time() % 60 > 58:
        time.sleep(60 - time.time() % 60 + 0.05)

    answered = [single_shot.chat.completions.create(model="capped", messages=USER) for _ in range(2)]
    with pytest.raises(openai.RateLimitError) as caught:
        single_shot.chat.completions.create(model="capped", messages=USER)

    assert [a.choices[0].message.content for a in answered] == ["Hello from upstream!"] * 2
    assert caught.value.status_code == 429
    assert 1 <= int(caught.value.response.headers["retry-after"]) <= 60
    assert len(upstream.received("capped")) == 2


@pytest.mark.parametrize("model", ["failing", "dropping"], ids=["answers-500", "hangs-up"])
def test_a_stream_whose_upstream_fails_before_its_first_byte_streams_from_the_fallback(
    single_shot: openai.OpenAI, upstream: FakeUpstream, model: str
) -> None:
    raw = single_shot.chat.completions.with_raw_response.create(model=model, messages=USER, stream=True)
    chunks = list(raw.parse())

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello from upstream!"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert raw.headers["x-switchyard-attempted-fallbacks"] == "1"
    assert raw.headers["x-switchyard-model-id"] == "backup"
    assert [r["body"].get("stream") for r in upstream.received("backup")] == [True]

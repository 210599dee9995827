"""What the request-shape probes (test_*_outgoing.py) share: a fresh harness per test, and what its
adapter put on the wire."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import httpx
import orjson
import pytest

from domain.completions import CompletionRequest
from tests.contract.harnesses.base import HttpHarness, chat_request

H = TypeVar("H", bound=HttpHarness)


def harness_fixture(harness_class: type[H], name: str = "harness") -> Callable[[], AsyncIterator[H]]:
    """A fixture named `name` that gives each test a new `harness_class` harness and closes it after."""

    @pytest.fixture(name=name)
    async def fixture() -> AsyncIterator[H]:
        harness = harness_class()
        yield harness
        await harness.close()

    return fixture


def sent_json(request: httpx.Request) -> Any:
    """The JSON body of a request the adapter sent."""
    return orjson.loads(request.content)


async def sent_body(harness: HttpHarness, **changes: Any) -> Any:
    """The body the adapter sends for the suite's chat request with `changes`, answered as text."""
    harness.text_reply(stream=False)
    await harness.provider.complete(chat_request(**changes), harness.deployment)
    return sent_json(harness.upstream.sent[-1])


async def sent_chat(harness: HttpHarness, request: CompletionRequest | None = None) -> list[httpx.Request]:
    """What the adapter sent for one chat, `request` or the suite's plain one, answered as text; the
    harness is closed after."""
    harness.text_reply(stream=False)
    await harness.provider.complete(chat_request() if request is None else request, harness.deployment)
    await harness.close()
    return harness.upstream.sent

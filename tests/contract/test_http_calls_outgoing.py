"""What the HTTP adapters put on the wire alike, through their shared calls (adapters/llm/http_calls.py)."""

from __future__ import annotations

import pytest

from tests.contract.harnesses.anthropic import AnthropicHarness
from tests.contract.harnesses.base import HttpHarness, chat_request
from tests.contract.harnesses.gemini import GeminiHarness
from tests.contract.harnesses.openai import OpenAIHarness


@pytest.mark.parametrize("harness_class", [AnthropicHarness, GeminiHarness, OpenAIHarness])
async def test_each_call_carries_its_deployments_timeouts(harness_class: type[HttpHarness]) -> None:
    harness = harness_class()
    harness.text_reply(stream=False)
    await harness.provider.complete(chat_request(), harness.deployment)
    harness.text_reply(stream=True)
    await (await harness.provider.stream(chat_request(stream=True), harness.deployment)).aclose()
    await harness.close()

    chat, stream = (sent.extensions["timeout"] for sent in harness.upstream.sent)
    assert chat == {"connect": 2.0, "read": 30.0, "write": 30.0, "pool": 30.0}
    assert stream == {"connect": 2.0, "read": 5.0, "write": 30.0, "pool": 30.0}

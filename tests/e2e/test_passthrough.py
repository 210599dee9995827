"""The real server's /anthropic pass-through route, driven by the official `anthropic` SDK with a virtual
key, in front of a fake Anthropic Messages API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import pytest

from tests.e2e.anthropic_upstream import FakeAnthropic
from tests.e2e.conftest import MASTER_KEY, running_gateway

pytestmark = pytest.mark.e2e

UPSTREAM_KEY = "sk-ant-passthrough"
BODY = {"model": "claude-ok", "max_tokens": 50, "messages": [{"role": "user", "content": "Hello"}]}


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(upstream: FakeAnthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    config = {
        "model_list": [
            {
                "model_name": "claude",
                "litellm_params": {
                    "model": "anthropic/claude-ok",
                    "api_base": upstream.base_url,
                    "api_key": UPSTREAM_KEY,
                    "use_in_pass_through": True,
                },
                "model_info": {"input_cost_per_token": 0.001, "output_cost_per_token": 0.002},
            }
        ],
        "general_settings": {"master_key": MASTER_KEY},
    }
    with running_gateway(config, Path(tmp_path_factory.mktemp("e2e-passthrough"))) as url:
        yield url


@pytest.fixture(scope="module")
def virtual_key(gateway: str) -> str:
    made = httpx.post(
        f"{gateway}/key/generate",
        json={"key_alias": "passthrough-e2e"},
        headers={"authorization": f"Bearer {MASTER_KEY}"},
    )
    made.raise_for_status()
    return made.json()["key"]


def _ledger(gateway: str, call_id: str) -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = httpx.get(
            f"{gateway}/spend/logs",
            params={"request_id": call_id},
            headers={"authorization": f"Bearer {MASTER_KEY}"},
        ).json()
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no ledger record for {call_id}")


def test_the_sdk_reaches_anthropic_with_the_injected_key_and_the_call_is_priced(
    gateway: str, upstream: FakeAnthropic, virtual_key: str
) -> None:
    client = anthropic.Anthropic(base_url=f"{gateway}/anthropic", api_key=virtual_key, max_retries=0)

    raw = client.messages.with_raw_response.create(**BODY)  # type: ignore[call-overload]
    reply = raw.parse()

    assert "".join(block.text for block in reply.content) == "Hello from Claude!"
    sent = upstream.requests[-1]
    assert sent["path"] == "/v1/messages"
    assert sent["headers"]["x-api-key"] == UPSTREAM_KEY
    assert sent["headers"]["anthropic-version"]  # the SDK's own, kept
    assert all(virtual_key not in value for value in sent["headers"].values())
    record = _ledger(gateway, raw.headers["x-switchyard-call-id"])
    assert record["call_type"] == "passthrough.anthropic"
    assert record["prompt_tokens"] == 12 and record["completion_tokens"] == 5
    assert record["spend"] == pytest.approx(12 * 0.001 + 5 * 0.002)


def test_a_stream_comes_through_byte_for_byte(
    gateway: str, upstream: FakeAnthropic, virtual_key: str
) -> None:
    client = anthropic.Anthropic(base_url=f"{gateway}/anthropic", api_key=virtual_key, max_retries=0)
    with client.messages.stream(**BODY) as stream:  # type: ignore[arg-type]
        text = "".join(stream.text_stream)
    assert text == "Hello from Claude!"
    assert all(virtual_key not in value for value in upstream.requests[-1]["headers"].values())

    def streamed(url: str, key: str) -> tuple[bytes, httpx.Headers]:
        headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
        with httpx.stream("POST", url, json={**BODY, "stream": True}, headers=headers) as reply:
            return b"".join(reply.iter_bytes()), reply.headers

    through, headers = streamed(f"{gateway}/anthropic/v1/messages", virtual_key)
    direct, _ = streamed(f"{upstream.base_url}/v1/messages", UPSTREAM_KEY)
    assert through == direct
    record = _ledger(gateway, headers["x-switchyard-call-id"])
    assert record["completion_tokens"] == 5 and record["spend"] > 0

"""Harnesses of OpenAI-compatible hosts: the OpenAI adapter pointed at a host's row of the hosts table
(its base URL, its quirks), answering in OpenAI's wire format as these hosts do."""

from __future__ import annotations

from typing import Any

from adapters.llm.hosts import HOSTS
from domain.deployments import Credentials, Secret
from tests.contract.harnesses.openai import OpenAIHarness

HOSTS_UNDER_TEST = ("groq", "mistral")
REFUSABLE_SETTINGS: dict[str, Any] = {
    "frequency_penalty": 0.5,
    "presence_penalty": 0.5,
    "logit_bias": {"50256": -100},
    "logprobs": True,
    "top_logprobs": 2,
    "seed": 7,
    "user": "u-1",
    "parallel_tool_calls": False,
}
"""One value of each parameter a hosts-table row may refuse (tools aside), as a client sends it."""


def host_harness(host: str) -> type[OpenAIHarness]:
    """A harness class for `host`, its deployment as the config loader would build it."""

    class HostHarness(OpenAIHarness):
        def settings(self) -> dict[str, Any]:
            return super().settings() | {
                "id": f"{host}-1",
                "provider": host,
                "upstream_model": "test-model",
                "api_base": HOSTS[host].api_base,
                "credentials": Credentials(api_key=Secret(f"{host}-key-123")),
            }

    HostHarness.__name__ = HostHarness.__qualname__ = f"{host.title()}HostHarness"
    return HostHarness


HARNESSES = {host: host_harness(host) for host in HOSTS_UNDER_TEST}

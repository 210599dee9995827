"""Several gateway processes sharing Redis act as one: a deployment's limit holds for the fleet."""

from __future__ import annotations

import os
import uuid
from contextlib import ExitStack

import httpx
import pytest

from tests.e2e.conftest import running_gateway

pytestmark = [pytest.mark.e2e, pytest.mark.redis]
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def test_two_gateways_sharing_redis_enforce_one_rpm_limit_together(tmp_path) -> None:
    config = {
        "model_list": [
            {"model_name": "demo", "litellm_params": {"model": "mock/demo", "rpm": 3}},
        ],
        "router_settings": {"num_retries": 0},
    }
    environment = {"REDIS_URL": REDIS_URL, "SWITCHYARD_REDIS_PREFIX": f"test-{uuid.uuid4().hex}:"}
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    with ExitStack() as stack:
        urls = [
            stack.enter_context(running_gateway(config, tmp_path / name, environment=environment))
            for name in ("a", "b")
        ]
        readiness = httpx.get(f"{urls[0]}/health/readiness").json()
        statuses = [
            httpx.post(
                f"{urls[turn % 2]}/v1/chat/completions",
                json={"model": "demo", "messages": [{"role": "user", "content": "hi"}]},
                timeout=10,
            ).status_code
            for turn in range(6)
        ]

    assert readiness["router_state"] == "redis"
    assert statuses.count(200) == 3
    assert statuses.count(429) == 3

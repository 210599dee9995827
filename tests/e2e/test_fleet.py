"""Several gateway processes sharing Redis act as one: a deployment's limit holds for the fleet."""

from __future__ import annotations

import os
import time
import uuid
from contextlib import ExitStack

import httpx
import pytest

from tests.e2e.conftest import clear_of_a_minute_boundary, running_gateway

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
        clear_of_a_minute_boundary()
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


DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def test_two_gateways_sharing_postgres_and_redis_act_as_one_for_keys_limits_and_models(tmp_path) -> None:
    config = {
        "model_list": [{"model_name": "demo", "litellm_params": {"model": "mock/demo"}}],
        "general_settings": {"master_key": "sk-fleet-master"},
    }
    environment = {
        "REDIS_URL": REDIS_URL,
        "SWITCHYARD_REDIS_PREFIX": f"test-{uuid.uuid4().hex}:",
        "DATABASE_URL": DATABASE_URL,
    }
    master = {"Authorization": "Bearer sk-fleet-master"}
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    with ExitStack() as stack:
        a, b = (
            stack.enter_context(running_gateway(config, tmp_path / name, environment=environment))
            for name in ("a", "b")
        )
        made = httpx.post(f"{a}/key/generate", json={"rpm_limit": 3}, headers=master, timeout=10)
        key = {"Authorization": f"Bearer {made.json()['key']}"}
        chat = {"model": "demo", "messages": [{"role": "user", "content": "hi"}]}
        clear_of_a_minute_boundary()
        statuses = [
            httpx.post(
                f"{(a, b)[turn % 2]}/v1/chat/completions", json=chat, headers=key, timeout=10
            ).status_code
            for turn in range(6)
        ]

        # A key blocked on one instance is refused by the other within seconds.
        other = httpx.post(f"{a}/key/generate", json={}, headers=master, timeout=10).json()["key"]
        other_key = {"Authorization": f"Bearer {other}"}
        assert (
            httpx.post(f"{b}/v1/chat/completions", json=chat, headers=other_key, timeout=10).status_code
            == 200
        )
        httpx.post(f"{a}/key/block", json={"key": other}, headers=master, timeout=10).raise_for_status()
        blocked_on_b = _eventually(
            lambda: (
                httpx.post(f"{b}/v1/chat/completions", json=chat, headers=other_key, timeout=10).status_code
                == 401
            )
        )

        # A model added on one instance is served by the other.
        name = f"added-{uuid.uuid4().hex[:8]}"
        added = httpx.post(
            f"{a}/model/new",
            json={"model_name": name, "litellm_params": {"model": "mock/added"}},
            headers=master,
            timeout=10,
        )
        served_on_b = _eventually(
            lambda: (
                httpx.post(
                    f"{b}/v1/chat/completions", json={**chat, "model": name}, headers=master, timeout=10
                ).status_code
                == 200
            )
        )
        httpx.post(f"{a}/model/delete", json={"id": added.json()["model_id"]}, headers=master, timeout=10)

    assert made.status_code == 200, made.text
    assert statuses.count(200) == 3 and statuses.count(429) == 3, statuses
    assert blocked_on_b
    assert added.status_code == 200, added.text
    assert served_on_b


def _eventually(check, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False

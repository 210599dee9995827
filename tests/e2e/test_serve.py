"""`switchyard serve` as an operator runs it."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import running_gateway

pytestmark = pytest.mark.e2e


def test_several_workers_serve_the_same_config(tmp_path) -> None:
    config = {"model_list": [{"model_name": "demo", "litellm_params": {"model": "mock/demo"}}]}

    with running_gateway(config, tmp_path, "--workers", "2") as url:
        replies = [
            httpx.post(
                f"{url}/v1/chat/completions",
                json={"model": "demo", "messages": [{"role": "user", "content": "hi"}]},
                timeout=10,
            )
            for _ in range(4)
        ]

    assert [reply.status_code for reply in replies] == [200] * 4

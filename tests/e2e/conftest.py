"""End-to-end fixtures: a scripted upstream and the real `switchyard serve` process in front of it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai
import pytest
import yaml

from tests.e2e.upstream import FakeUpstream

MASTER_KEY = "sk-e2e-master"
SCENARIOS = ["ok", "tools", "rate-limited", "too-long", "broken", "drop", "slow-stream"]
USER = [{"role": "user", "content": "Hello"}]
MESSAGES = [{"role": "system", "content": "Be brief."}, *USER]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}: {process.stderr.read()}")
        try:
            if httpx.get(f"{url}/health/liveliness", timeout=0.5).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("the server did not become healthy")


@contextmanager
def running_gateway(
    config: dict, directory: Path, *arguments: str, environment: dict[str, str] | None = None
) -> Iterator[str]:
    """`switchyard serve` on `config` in its own process, as a user starts it; yields its base URL.
    Provider keys from this machine's environment are kept out of it."""
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    # The process gets no provider keys, and shared state (Redis, a database) only when a test asks.
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    for name in ("SWITCHYARD_MASTER_KEY", "REDIS_URL", "DATABASE_URL", "SWITCHYARD_REDIS_PREFIX"):
        env.pop(name, None)
    env.update(environment or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "switchyard.cli", "serve", "--config", str(path), "--host", "127.0.0.1",
         "--port", str(port), *arguments],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def clear_of_a_minute_boundary() -> None:
    """Rate limits count in fixed minutes: a burst that straddled one would be counted in two."""
    if time.time() % 60 > 55:
        time.sleep(60 - time.time() % 60 + 0.1)


def gateway_client(url: str) -> openai.OpenAI:
    """The official client of the gateway at `url`, with the master key; it never retries, so that each
    test sees the gateway's first answer."""
    return openai.OpenAI(base_url=f"{url}/v1", api_key=MASTER_KEY, max_retries=0, timeout=10)


def ledger_record(url: str, call_id: str, master_key: str = MASTER_KEY) -> dict:
    """The ledger's record of call `call_id` (what /spend/logs answers), once it is there: spend is
    written off the request path, so it lands a moment after the reply."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = httpx.get(
            f"{url}/spend/logs",
            params={"request_id": call_id},
            headers={"authorization": f"Bearer {master_key}"},
        ).json()
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"call {call_id} never reached the spend logs")


@contextmanager
def gateway_serving(model_list: list[dict], directory: Path, **settings: object) -> Iterator[openai.OpenAI]:
    """A client of a gateway started in `directory` on `model_list` (and other `settings` of the config),
    with the master key."""
    config = {"model_list": model_list, **settings, "general_settings": {"master_key": MASTER_KEY}}
    with running_gateway(config, directory) as url:
        yield gateway_client(url)


@pytest.fixture(scope="session")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as server:
        yield server


@pytest.fixture(scope="session")
def gateway_url(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    common = {"api_base": upstream.base_url, "api_key": "sk-upstream"}
    model_list = [
        {"model_name": f"e2e-{name}", "litellm_params": {"model": f"openai/{name}", **common}}
        for name in SCENARIOS
    ]
    model_list.append(
        {
            "model_name": "e2e-embed",
            "litellm_params": {"model": "openai/text-embedding-3-small", **common},
            "model_info": {"mode": "embedding"},
        }
    )
    model_list.append({"model_name": "demo", "litellm_params": {"model": "mock/demo"}})
    # Error mapping is what these tests check; retries have their own (tests/e2e/test_router.py).
    config = {
        "model_list": model_list,
        "general_settings": {"master_key": MASTER_KEY},
        "router_settings": {"num_retries": 0},
    }
    with running_gateway(config, tmp_path_factory.mktemp("e2e")) as url:
        yield url

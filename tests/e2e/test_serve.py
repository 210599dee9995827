"""`switchyard serve` as an operator runs it."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import free_port, running_gateway, wait_healthy

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
        scraped = httpx.get(f"{url}/metrics", timeout=10).text

    assert [reply.status_code for reply in replies] == [200] * 4
    # Whichever worker answers the scrape, it shows both workers' figures.
    samples = [sample for family in text_string_to_metric_families(scraped) for sample in family.samples]

    def total(name: str) -> float:
        return sum(sample.value for sample in samples if sample.name == name)

    assert total("switchyard_requests_total") == 4
    assert total("switchyard_overhead_seconds_count") == 4
    assert total("switchyard_in_flight_requests") == 0
    assert {s.labels["deployment"] for s in samples if s.name == "switchyard_deployment_state"} != set()


def test_every_line_the_server_logs_is_a_json_line_third_party_ones_included(tmp_path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("model_list:\n  - model_name: demo\n    litellm_params: {model: mock/demo}\n")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    log = tmp_path / "stdout.log"
    with log.open("w") as stdout:  # a file, not a pipe: a full pipe would stall the server's logging
        process = subprocess.Popen(
            [sys.executable, "-m", "switchyard.cli", "serve", "--config", str(config), "--port", str(port),
             "--host", "127.0.0.1"],
            env=env, stdout=stdout, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, process)
            # Some traffic: nothing it makes the server say may break the format.
            httpx.post(
                f"{url}/v1/chat/completions",
                json={"model": "demo", "messages": [{"role": "user", "content": "hi"}], "stream": True,
                      "mock_response": "litellm.InternalServerError"},
                headers={"x-request-id": "e2e-request-7"},
                timeout=10,
            )  # fmt: skip
        finally:
            process.terminate()
            process.wait(timeout=30)
    out = log.read_text()

    lines = [orjson.loads(line) for line in out.splitlines() if line.strip()]
    assert lines and all({"event", "level", "timestamp"} <= line.keys() for line in lines)
    assert any(line.get("logger", "").startswith("alembic") for line in lines)
    assert any(line["event"] == "switchyard starting" for line in lines)


@pytest.mark.parametrize("log_prompts", [False, True])
def test_a_callback_class_named_in_the_config_gets_every_calls_record(tmp_path, log_prompts) -> None:
    sink = tmp_path / "records.jsonl"
    config = {
        "model_list": [{"model_name": "demo", "litellm_params": {"model": "mock/demo"}}],
        "litellm_settings": {"callbacks": ["tests.e2e.callback_sink.FileSink"], "log_prompts": log_prompts},
    }
    environment = {"SWITCHYARD_TEST_CALLBACK_FILE": str(sink)}

    with running_gateway(config, tmp_path, environment=environment) as url:
        chat = {"model": "demo", "messages": [{"role": "user", "content": "hi"}]}
        answered = httpx.post(f"{url}/v1/chat/completions", json=chat, timeout=10)
        refused = httpx.post(f"{url}/v1/chat/completions", json={**chat, "model": "nope"}, timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(_lines(sink)) < 2:
            time.sleep(0.05)

    outcomes = {line["record"]["request_id"]: line for line in _lines(sink)}
    ok = outcomes[answered.headers["x-switchyard-call-id"]]
    bad = outcomes[refused.headers["x-switchyard-call-id"]]
    assert ok["outcome"] == "success" and ok["record"]["model_group"] == "demo"
    assert ok["record"]["usage"]["completion_tokens"] > 0
    assert bad["outcome"] == "failure" and bad["record"]["status_code"] == 404
    # the prompt's text only with log_prompts
    assert ok["record"]["messages"] == ([{"role": "user", "content": "hi"}] if log_prompts else None)
    assert (ok["record"]["response"] is not None) is log_prompts


def _lines(path) -> list[dict]:  # type: ignore[no-untyped-def]
    return [orjson.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_the_webhook_gets_each_calls_record_in_json_batches(tmp_path) -> None:
    received: list[tuple[str | None, list]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append((self.headers.get("x-token"), orjson.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    config = {
        "model_list": [{"model_name": "demo", "litellm_params": {"model": "mock/demo"}}],
        "litellm_settings": {"callbacks": ["webhook"]},
        "callback_settings": {
            "webhook": {
                "url": f"http://127.0.0.1:{receiver.server_address[1]}/calls",
                "headers": {"x-token": "hook-secret"},
                "flush_interval": 0.2,
            }
        },
    }
    try:
        with running_gateway(config, tmp_path) as url:
            chat = {"model": "demo", "messages": [{"role": "user", "content": "hi"}]}
            answers = [httpx.post(f"{url}/v1/chat/completions", json=chat, timeout=10) for _ in range(3)]
            ids = [answer.headers["x-switchyard-call-id"] for answer in answers]
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and sum(len(batch) for _, batch in received) < 3:
                time.sleep(0.05)
    finally:
        receiver.shutdown()

    assert {token for token, _ in received} == {"hook-secret"}
    assert sorted(record["request_id"] for _, batch in received for record in batch) == sorted(ids)

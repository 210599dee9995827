"""Stored models' credentials end to end: encrypted in the gateway's SQLite file, a gateway started with
another salt key names the model it cannot serve and serves everything else, and
`switchyard db rotate-salt-key` hands the models over to the new key."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest

from tests.e2e.conftest import running_gateway

pytestmark = pytest.mark.e2e

MASTER = {"Authorization": "Bearer sk-master"}
SECRET = "sk-stored-upstream-secret"
CONFIG = {
    "model_list": [{"model_name": "demo", "litellm_params": {"model": "mock/demo"}}],
    "general_settings": {"master_key": "sk-master"},
}
CHAT = {"messages": [{"role": "user", "content": "hi"}]}


def _chat(url: str, model: str) -> int:
    return httpx.post(f"{url}/v1/chat/completions", json={**CHAT, "model": model}, headers=MASTER).status_code


def _ready(url: str, *, stored: bool = True) -> dict[str, object]:
    """The readiness once the database is open and, with `stored`, the stored model either served or
    named as broken (they load just after the database opens, in the background)."""
    for _ in range(100):
        body = httpx.get(f"{url}/health/readiness").json()
        if body["status"] == "healthy" and (
            not stored or "broken_models" in body or _chat(url, "stored") == 200
        ):
            return body
        time.sleep(0.1)
    raise AssertionError(f"never ready: {body}")


def test_a_stored_credential_is_encrypted_survives_a_wrong_key_and_follows_a_rotation(tmp_path) -> None:
    with running_gateway(CONFIG, tmp_path, environment={"SWITCHYARD_SALT_KEY": "key-one"}) as url:
        _ready(url, stored=False)
        added = httpx.post(
            f"{url}/model/new",
            json={"model_name": "stored", "litellm_params": {"model": "mock/stored", "api_key": SECRET}},
            headers=MASTER,
        )
        assert added.status_code == 200 and added.json()["litellm_params"]["api_key"] == "****"
        assert _chat(url, "stored") == 200
    model_id = added.json()["model_id"]
    with sqlite3.connect(tmp_path / "switchyard.db") as db:
        (column,) = db.execute("SELECT litellm_params FROM deployments").fetchone()
    assert SECRET not in column and json.loads(column)["api_key"].startswith("switchyard:v1:")

    with running_gateway(CONFIG, tmp_path, environment={"SWITCHYARD_SALT_KEY": "key-two"}) as url:
        readiness = _ready(url)
        assert _chat(url, "demo") == 200
        assert httpx.get(f"{url}/model/info", headers=MASTER).status_code == 200
    why = readiness["broken_models"][model_id]
    assert "litellm_params.api_key cannot be decrypted" in why and SECRET not in json.dumps(readiness)

    env = {k: v for k, v in os.environ.items() if "SALT_KEY" not in k and k != "DATABASE_URL"}
    command = ["db", "rotate-salt-key", "--config", str(tmp_path / "config.yaml"), "--new-key", "key-two"]
    rotated = subprocess.run(
        [sys.executable, "-m", "switchyard.cli", *command],
        env={**env, "SWITCHYARD_SALT_KEY": "key-one"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rotated.returncode == 0, rotated.stderr

    with running_gateway(CONFIG, tmp_path, environment={"SWITCHYARD_SALT_KEY": "key-two"}) as url:
        assert "broken_models" not in _ready(url)
        assert _chat(url, "stored") == 200

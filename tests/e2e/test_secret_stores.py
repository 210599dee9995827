"""`general_settings.key_management_system`: the real server reads its provider keys from a secret manager
(the fake Vault), serves a rotated key without a restart, rides out a store outage, and refuses to start
when a referenced secret cannot be read."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import yaml

from tests.e2e.conftest import MASTER_KEY, USER, gateway_client, running_gateway
from tests.e2e.secret_store_fakes import VAULT_TOKEN, FakeVault
from tests.e2e.upstream import FakeUpstream

pytestmark = pytest.mark.e2e


def _config(upstream: FakeUpstream) -> dict:
    params = {"model": "openai/ok", "api_base": upstream.base_url, "api_key": "os.environ/UPSTREAM_KEY"}
    return {
        "model_list": [{"model_name": "vaulted", "litellm_params": params}],
        "general_settings": {"master_key": MASTER_KEY, "key_management_system": "hashicorp_vault"},
    }


def _key_upstream_saw(upstream: FakeUpstream, client) -> str:
    client.chat.completions.create(model="vaulted", messages=USER)
    return upstream.received("ok")[-1]["headers"]["authorization"]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_key_rotated_in_vault_reaches_the_upstream_without_a_restart(upstream, tmp_path, workers) -> None:
    with FakeVault() as vault:
        vault.secrets["UPSTREAM_KEY"] = "sk-first"
        environment = {"HCP_VAULT_ADDR": vault.root, "HCP_VAULT_TOKEN": VAULT_TOKEN,
                       "HCP_VAULT_REFRESH_INTERVAL": "0.3"}  # fmt: skip
        with running_gateway(
            _config(upstream), tmp_path, "--workers", workers, environment=environment
        ) as url:
            client = gateway_client(url)
            assert _key_upstream_saw(upstream, client) == "Bearer sk-first"

            vault.secrets["UPSTREAM_KEY"] = "sk-second"
            deadline = time.monotonic() + 10
            seen = set()
            while time.monotonic() < deadline and seen != {"Bearer sk-second"}:
                time.sleep(0.4)
                # Several calls: with two workers, each must have picked the new key up.
                seen = {_key_upstream_saw(upstream, client) for _ in range(4)}
            assert seen == {"Bearer sk-second"}

            vault.down = True
            time.sleep(1.0)  # refreshes fail meanwhile
            assert _key_upstream_saw(upstream, client) == "Bearer sk-second"


@pytest.mark.parametrize("why", ["missing", "store down"])
def test_a_secret_that_cannot_be_read_stops_the_start_naming_the_reference_and_the_store(
    upstream, tmp_path, why
) -> None:
    with FakeVault() as vault:
        vault.secrets["OTHER"] = "sk-never-printed"
        if why == "store down":
            vault.secrets["UPSTREAM_KEY"] = "sk-never-printed-either"
            vault.down = True
        config = _config(upstream)
        config["model_list"][0]["litellm_params"]["organization"] = "os.environ/OTHER"
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "UPSTREAM_KEY"}
        env.update({"HCP_VAULT_ADDR": vault.root, "HCP_VAULT_TOKEN": VAULT_TOKEN})
        done = subprocess.run(
            [sys.executable, "-m", "switchyard.cli", "serve", "--config", str(path), "--port", "0"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert "model_list[0].litellm_params.api_key" in done.stderr
    assert "os.environ/UPSTREAM_KEY" in done.stderr
    assert "hashicorp_vault" in done.stderr
    assert "sk-never-printed" not in done.stderr + done.stdout
    assert ("Vault is sealed" in done.stderr) == (why == "store down")

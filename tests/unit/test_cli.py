"""The `switchyard` command line."""

from __future__ import annotations

import os
import subprocess
import sys


def _switchyard(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "switchyard.cli", *args], capture_output=True, text=True, timeout=30, env=env
    )


def test_version_prints_the_version() -> None:
    result = _switchyard("--version")

    assert result.returncode == 0
    assert result.stdout.startswith("switchyard ")


def test_an_invalid_config_stops_serve_with_the_offending_path(tmp_path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("model_list:\n  - model_name: x\n    litellm_params: {model: antropic/claude}\n")

    result = _switchyard("serve", "--config", str(config), "--port", "1")

    assert result.returncode == 2
    assert "model_list[0].litellm_params.model" in result.stderr
    assert "antropic" in result.stderr


def test_a_missing_config_file_stops_serve_with_a_clear_message(tmp_path) -> None:
    result = _switchyard("serve", "--config", str(tmp_path / "absent.yaml"), "--port", "1")

    assert result.returncode == 2
    assert "absent.yaml" in result.stderr


def test_db_upgrade_migrates_and_db_current_reports_the_revision(tmp_path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/gateway.db"}

    before = _switchyard("db", "current", env=env)
    upgraded = _switchyard("db", "upgrade", env=env)
    after = _switchyard("db", "current", env=env)

    assert before.returncode == 0 and "no schema yet" in before.stdout
    assert upgraded.returncode == 0 and upgraded.stdout.strip() == "0001"
    assert after.returncode == 0 and after.stdout.strip() == "0001"


def test_db_commands_against_an_unreachable_database_fail_with_a_message() -> None:
    env = {**os.environ, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none"}

    result = _switchyard("db", "upgrade", env=env)

    assert result.returncode == 1
    assert "database upgrade failed" in result.stderr and "Traceback" not in result.stderr

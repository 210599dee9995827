"""The `switchyard` command line."""

from __future__ import annotations

import subprocess
import sys


def _switchyard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "switchyard.cli", *args], capture_output=True, text=True, timeout=30
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

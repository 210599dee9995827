"""The `switchyard` command line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from adapters.persistence.migrate import HEAD


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
    assert upgraded.returncode == 0 and upgraded.stdout.strip() == HEAD
    assert after.returncode == 0 and after.stdout.strip() == HEAD


def test_db_commands_against_an_unreachable_database_fail_with_a_message() -> None:
    env = {**os.environ, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none"}

    result = _switchyard("db", "upgrade", env=env)

    assert result.returncode == 1
    assert "database upgrade failed" in result.stderr and "Traceback" not in result.stderr


# --- prices --------------------------------------------------------------------------------------------

NEWER_PRICES = [
    {
        "id": "openai",
        "name": "OpenAI",
        "api_pattern": r"https://api\.openai\.com",
        "models": [{"id": "gpt-4o-mini", "match": {"equals": "gpt-4o-mini"}, "prices": {"input_mtok": 0.1}}],
    }
]


@contextmanager
def _serving(body: bytes) -> Iterator[str]:
    """A local HTTP server answering every GET with `body`; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/data.json"
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_prices_update_saves_newer_prices_that_prices_show_then_uses(tmp_path) -> None:
    saved = tmp_path / "cache" / "prices.json"
    env = {**os.environ, "SWITCHYARD_PRICES_FILE": str(saved)}

    with _serving(json.dumps(NEWER_PRICES).encode()) as url:
        updated = _switchyard("prices", "update", "--url", url, env=env)
    shown = _switchyard("prices", "show", "openai/gpt-4o-mini", env=env)

    assert updated.returncode == 0, updated.stderr
    assert str(saved) in updated.stdout
    assert json.loads(saved.read_text()) == NEWER_PRICES
    assert shown.returncode == 0, shown.stderr
    assert "0.0000001 per token" in shown.stdout and str(saved) in shown.stdout


def test_prices_update_without_a_network_fails_in_one_line_and_keeps_the_saved_prices(tmp_path) -> None:
    saved = tmp_path / "prices.json"
    saved.write_text("[]")
    env = {**os.environ, "SWITCHYARD_PRICES_FILE": str(saved)}

    result = _switchyard("prices", "update", "--url", f"http://127.0.0.1:{_closed_port()}/data.json", env=env)

    assert result.returncode == 1
    assert result.stderr.startswith("switchyard: prices update failed: cannot fetch")
    assert len(result.stderr.strip().splitlines()) == 1
    assert saved.read_text() == "[]"


def test_prices_update_refuses_what_is_not_price_data(tmp_path) -> None:
    saved = tmp_path / "prices.json"
    env = {**os.environ, "SWITCHYARD_PRICES_FILE": str(saved)}

    with _serving(b"<html>rate limited</html>") as url:
        result = _switchyard("prices", "update", "--url", url, env=env)

    assert result.returncode == 1
    assert "did not send genai-prices data" in result.stderr and "Traceback" not in result.stderr
    assert not saved.exists()


def test_prices_show_prints_a_models_published_prices_and_fails_for_an_unknown_one(tmp_path) -> None:
    env = {**os.environ, "SWITCHYARD_PRICES_FILE": str(tmp_path / "absent.json")}

    known = _switchyard("prices", "show", "gemini/gemini-2.5-pro", env=env)
    unknown = _switchyard("prices", "show", "ollama/llama3", env=env)

    assert known.returncode == 0, known.stderr
    assert "input_above_tier" in known.stdout and "200000 prompt tokens" in known.stdout
    assert unknown.returncode == 1 and "ollama has no published prices" in unknown.stderr

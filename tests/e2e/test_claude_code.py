"""Anthropic's Claude Code CLI (`claude -p`, the real program) through the real server's /v1/messages with a
virtual key, in front of Claude on Anthropic, on Bedrock InvokeModel and on Vertex AI, and of an OpenAI
chat model: the model reads a file with Claude Code's Read tool, Claude Code runs it and sends the result
back, the model answers; each upstream gets Claude Code's request in its own wire format."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e import bedrock_upstream
from tests.e2e import claude_code_cli as cli
from tests.e2e.anthropic_upstream import FakeAnthropic
from tests.e2e.claude_code_session import NOTES_FILE, NOTES_READ, NOTES_SECRET, NOTES_TEXT
from tests.e2e.claude_hosts_upstream import FakeBedrockClaude, FakeVertexClaude
from tests.e2e.conftest import MASTER_KEY, running_gateway
from tests.e2e.fake_server import FakeServer
from tests.e2e.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

UPSTREAMS = ["anthropic", "bedrock", "vertex", "openai"]
UPSTREAM_KEYS = {"anthropic": "sk-ant-e2e-upstream", "openai": "sk-e2e-upstream"}
ADMIN = {"Authorization": f"Bearer {MASTER_KEY}"}
FAST_MODEL = "claude-code-fast"
RUN_TIMEOUT = 60
PROMPT = f"What is the secret word in {NOTES_FILE}?"
CLAUDE_CODE_BETA = "claude-code-20250219"


@dataclass
class Fakes:
    anthropic: FakeAnthropic
    bedrock: FakeBedrockClaude
    vertex: FakeVertexClaude
    openai: FakeUpstream


@dataclass
class Session:
    """One Claude Code run through the gateway to one upstream."""

    upstream: str
    key: str
    """The virtual key Claude Code sent."""
    run: cli.ClaudeRun
    calls: list[dict[str, Any]]
    """The model calls the upstream got during the run (path, headers, body...), oldest first."""


@pytest.fixture(scope="module")
def claude_bin() -> Path:
    found = cli.find_or_install_claude_code()
    if found is not None:
        return found
    if shutil.which("npm") is None:
        pytest.skip(
            f"Claude Code {cli.CLAUDE_CODE_VERSION} is not installed and there is no npm to install it"
        )
    pytest.fail(
        f"npm could not install {cli.CLAUDE_CODE_PACKAGE} (see claude_code_cli.find_or_install_claude_code)"
    )


@pytest.fixture(scope="module")
def fakes() -> Iterator[Fakes]:
    with (
        FakeAnthropic() as anthropic,
        FakeBedrockClaude() as bedrock,
        FakeVertexClaude() as vertex,
        FakeUpstream() as openai,
    ):
        yield Fakes(anthropic, bedrock, vertex, openai)


def deployments(fakes: Fakes) -> dict[str, dict[str, Any]]:
    """The litellm_params of each upstream's deployment, all playing the `notes` script."""
    return {
        "anthropic": {"model": "anthropic/claude-notes", "api_base": fakes.anthropic.root,
                      "api_key": UPSTREAM_KEYS["anthropic"]},
        "bedrock": {"model": "bedrock/invoke/us.anthropic.claude-notes-v1:0", "api_base": fakes.bedrock.root,
                    "aws_access_key_id": bedrock_upstream.ACCESS_KEY,
                    "aws_secret_access_key": bedrock_upstream.SECRET_KEY, "aws_region_name": "us-east-1"},
        "vertex": {"model": "vertex_ai/claude-notes@20250929", "api_base": fakes.vertex.root,
                   "vertex_project": "e2e-project", "vertex_location": "us-east5",
                   "vertex_credentials": fakes.vertex.credentials()},
        "openai": {"model": "openai/notes", "api_base": fakes.openai.base_url,
                   "api_key": UPSTREAM_KEYS["openai"]},
    }  # fmt: skip


@pytest.fixture(scope="module")
def gateway(fakes: Fakes, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model_list = [
        {"model_name": f"claude-code-{name}", "litellm_params": params}
        for name, params in deployments(fakes).items()
    ]
    fast = {
        "model": "anthropic/claude-ok",
        "api_base": fakes.anthropic.root,
        "api_key": UPSTREAM_KEYS["anthropic"],
    }
    model_list.append({"model_name": FAST_MODEL, "litellm_params": fast})
    config = {
        "model_list": model_list,
        "general_settings": {"master_key": MASTER_KEY},
        "router_settings": {"num_retries": 0, "allowed_fails": 1000},
    }
    with running_gateway(config, Path(tmp_path_factory.mktemp("e2e-claude-code"))) as url:
        yield url


def virtual_key(gateway: str, model: str) -> str:
    fields = {"models": [model, FAST_MODEL], "key_alias": f"{model}-e2e"}
    answer = httpx.post(f"{gateway}/key/generate", json=fields, headers=ADMIN, timeout=10)
    answer.raise_for_status()
    return answer.json()["key"]


def model_calls(server: FakeServer, since: int) -> list[dict[str, Any]]:
    """The requests `server` got from position `since` on, its OAuth token requests left out."""
    return [request for request in server.requests[since:] if request["path"] != "/token"]


@pytest.fixture(scope="module", params=UPSTREAMS)
def session(
    request: pytest.FixtureRequest,
    claude_bin: Path,
    fakes: Fakes,
    gateway: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Session:
    """Claude Code asked about notes.txt in a fresh working directory and HOME, with a virtual key for the
    upstream's deployment, and no TTY."""
    upstream: str = request.param
    model = f"claude-code-{upstream}"
    home = tmp_path_factory.mktemp(f"claude-home-{upstream}")
    workdir = tmp_path_factory.mktemp(f"claude-work-{upstream}")
    (workdir / NOTES_FILE).write_text(f"the secret word is {NOTES_SECRET}\n")
    key = virtual_key(gateway, model)
    fake: FakeServer = getattr(fakes, upstream)
    since = len(fake.requests)
    done = subprocess.run(
        cli.claude_command(claude_bin, PROMPT, "Read"),
        env=cli.claude_env(home, gateway, key, model, FAST_MODEL),
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    run = cli.parse_result(done.returncode, done.stdout, done.stderr)
    return Session(upstream, key, run, model_calls(fake, since))


def tool_names(session: Session, body: dict[str, Any]) -> set[str]:
    if session.upstream == "openai":
        return {tool["function"]["name"] for tool in body["tools"]}
    return {tool["name"] for tool in body["tools"]}


def system_prompt(session: Session, body: dict[str, Any]) -> str:
    if session.upstream == "openai":
        return " ".join(json.dumps(m["content"]) for m in body["messages"] if m["role"] == "system")
    return json.dumps(body["system"])


def betas(session: Session, call: dict[str, Any]) -> list[str]:
    """The betas the upstream got: Bedrock takes them in the body, Anthropic and Vertex as a header."""
    if session.upstream == "bedrock":
        return list(call["body"].get("anthropic_beta", []))
    return call["headers"].get("anthropic-beta", "").split(",")


def tool_result(session: Session, body: dict[str, Any]) -> str:
    """What the last request carried back as the Read call's result."""
    if session.upstream == "openai":
        (result,) = [m for m in body["messages"] if m["role"] == "tool"]
        assert result["tool_call_id"]
        return json.dumps(result["content"])
    last_user = next(m for m in reversed(body["messages"]) if m["role"] == "user")
    (result,) = [b for b in last_user["content"] if b.get("type") == "tool_result"]
    assert result["tool_use_id"] == NOTES_READ["id"]
    return json.dumps(result["content"])


def test_claude_code_runs_the_read_the_model_calls_and_prints_the_models_final_answer(
    session: Session,
) -> None:
    run = session.run

    assert (run.exit_code, run.result.get("is_error")) == (0, False), (run.result, run.stderr)
    assert run.result["result"] == NOTES_TEXT
    first, last = session.calls[0]["body"], session.calls[-1]["body"]
    assert len(session.calls) == 2
    assert PROMPT in json.dumps(first)
    assert NOTES_SECRET in tool_result(session, last)


def test_the_upstream_gets_claude_codes_tools_and_system_prompt_in_its_own_wire_format(
    session: Session,
) -> None:
    call = session.calls[0]
    body = call["body"]

    assert {"Read", "Bash", "Edit", "Write"} <= tool_names(session, body)
    assert "Claude" in system_prompt(session, body)
    if session.upstream == "openai":
        assert call["path"] == "/v1/chat/completions"
        return
    assert CLAUDE_CODE_BETA in betas(session, call)
    if session.upstream == "bedrock":
        assert call["operation"] == "invoke-with-response-stream"
        assert body["anthropic_version"] == "bedrock-2023-05-31"
    elif session.upstream == "vertex":
        assert call["method"] == "streamRawPredict"
        assert body["anthropic_version"] == "vertex-2023-10-16"
    else:
        assert (call["path"], body["stream"]) == ("/v1/messages", True)
        assert call["headers"]["x-api-key"] == UPSTREAM_KEYS["anthropic"]


def test_the_virtual_key_claude_code_sent_never_reaches_the_upstream(session: Session) -> None:
    assert session.calls
    assert session.key not in json.dumps(session.calls)


def test_the_spend_ledger_holds_claude_codes_calls_under_its_key(session: Session, gateway: str) -> None:
    deadline = time.monotonic() + 5
    while True:
        answer = httpx.get(
            f"{gateway}/spend/logs", params={"api_key": session.key}, headers=ADMIN, timeout=10
        )
        logs = answer.json()
        if len(logs) >= len(session.calls) or time.monotonic() > deadline:
            break
        time.sleep(0.1)

    assert answer.status_code == 200
    assert len(logs) == len(session.calls)
    assert {log["model_group"] for log in logs} == {f"claude-code-{session.upstream}"}

"""OpenAI's Codex CLI (`codex exec`, the real binary) through the real server's /v1/responses, in its default
configuration for a custom provider, in front of fake OpenAI chat-completions, Anthropic and Gemini
upstreams playing scripted models: a plain answer, a shell command Codex runs, a patch Codex applies."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e import codex_session as codex
from tests.e2e import codex_turns as turns
from tests.e2e.conftest import MASTER_KEY, running_gateway
from tests.e2e.fake_server import FakeHandler, FakeServer
from tests.e2e.gemini_upstream import SIGNATURE as GEMINI_SIGNATURE
from tests.e2e.gemini_upstream import GeminiUpstream
from tests.e2e.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

FORMATS = ["openai", "anthropic", "gemini"]
UPSTREAM_KEYS = {"openai": "sk-upstream", "anthropic": "sk-ant-e2e", "gemini": "AIza-e2e-key"}
CHAT_ONLY = {"supported_endpoints": ["/v1/chat/completions"]}
"""An `openai/` deployment's model_info that sends it chat completions, not the Responses API."""
CATALOG_MODEL = "gpt-5.5"
"""A model of Codex's built-in catalog: Codex offers it apply_patch, tool_search and web_search and asks for
reasoning at medium effort. Served here by the Anthropic fake's `codex-patch` script."""
RUN_TIMEOUT = 60
"""Seconds a Codex run may take: it retries a refused connection forever."""
HOP_HEADERS = frozenset({"host", "content-length", "connection", "accept-encoding"})


class _ForwardingHandler(FakeHandler):
    server: RecordingProxy

    def do_POST(self) -> None:
        raw = self.read_body()
        request = self.record(json.loads(raw))
        headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_HEADERS}
        url = f"{self.server.target}{self.path}"
        with httpx.stream("POST", url, content=raw, headers=headers, timeout=30) as answer:
            request["answer_headers"] = dict(answer.headers)
            self.send_response(answer.status_code)
            self.send_header("content-type", answer.headers.get("content-type", "application/json"))
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for piece in answer.iter_bytes():
                self.send_chunk(piece)
            self.send_chunk(b"")


class RecordingProxy(FakeServer):
    """Passes Codex's requests on to the gateway at `target` and its answers back, keeping each request
    (`body`, `headers`) with the headers the gateway answered (`answer_headers`)."""

    handler = _ForwardingHandler

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target


@dataclass
class Upstreams:
    openai: FakeUpstream
    anthropic: turns.ThinkingAnthropic
    gemini: GeminiUpstream

    def received(self, fmt: str, script: str) -> list[dict[str, Any]]:
        """The bodies the upstream of format `fmt` received for `script`, oldest first."""
        model = turns.upstream_model(fmt, script)
        return [
            request["body"]
            for request in getattr(self, fmt).requests
            if request["body"].get("model") == model or f"/models/{model}:" in request["path"]
        ]


@dataclass
class CodexRun:
    exit_code: int
    events: list[dict[str, Any]]
    sent: list[dict[str, Any]]
    """Codex's requests as the proxy recorded them."""
    workdir: Path
    stderr: str

    def messages(self) -> list[str]:
        return [item["text"] for item in codex.completed_items(self.events, "agent_message")]


@pytest.fixture(scope="module")
def codex_bin() -> Path:
    found = codex.find_or_install_codex()
    if found is not None:
        return found
    if shutil.which("npm") is None:
        pytest.skip(f"Codex {codex.CODEX_VERSION} is not installed and there is no npm to install it with")
    pytest.fail(f"npm could not install {codex.CODEX_PACKAGE} (see codex_session.find_or_install_codex)")


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    with (
        FakeUpstream() as openai_fake,
        turns.ThinkingAnthropic() as anthropic_fake,
        GeminiUpstream() as gemini,
    ):
        yield Upstreams(openai_fake, anthropic_fake, gemini)


def deployment(name: str, fmt: str, script: str, upstreams: Upstreams) -> dict[str, Any]:
    params = {
        "model": f"{fmt}/{turns.upstream_model(fmt, script)}",
        "api_base": getattr(upstreams, fmt).base_url,
        "api_key": UPSTREAM_KEYS[fmt],
    }
    entry: dict[str, Any] = {"model_name": name, "litellm_params": params}
    if fmt == "openai":
        entry["model_info"] = CHAT_ONLY
    return entry


@pytest.fixture(scope="module")
def gateway(upstreams: Upstreams, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model_list = [
        deployment(f"{script}-via-{fmt}", fmt, script, upstreams)
        for script in ("codex-hello", "codex-shell")
        for fmt in FORMATS
    ]
    model_list.append(deployment(CATALOG_MODEL, "anthropic", "codex-patch", upstreams))
    config = {
        "model_list": model_list,
        "general_settings": {"master_key": MASTER_KEY},
        "router_settings": {"num_retries": 0, "allowed_fails": 1000},
    }
    with running_gateway(config, Path(tmp_path_factory.mktemp("e2e-codex"))) as url:
        yield url


@pytest.fixture
def proxy(gateway: str) -> Iterator[RecordingProxy]:
    with RecordingProxy(gateway) as server:
        yield server


def run_codex(codex_bin: Path, proxy: RecordingProxy, model: str, prompt: str, tmp_path: Path) -> CodexRun:
    """`codex exec --json` on `prompt` in a fresh work directory and CODEX_HOME, through the proxy, without
    retries (a failure shows at once)."""
    workdir, home = tmp_path / "work", tmp_path / "codex-home"
    workdir.mkdir()
    home.mkdir()
    command = codex.codex_command(codex_bin, f"{proxy.root}/v1", model, prompt, workdir, retries=(0, 0))
    done = subprocess.run(
        command,
        env=codex.codex_env(home, MASTER_KEY),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    events = codex.exec_events(done.stdout)
    return CodexRun(done.returncode, events, [r["body"] for r in proxy.requests], workdir, done.stderr)


def assert_succeeded(run: CodexRun) -> None:
    assert (run.exit_code, codex.turn_error(run.events)) == (0, None), (run.events, run.stderr)
    assert run.events[-1]["type"] == "turn.completed"


def items_of(body: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [item for item in body["input"] if item.get("type") == kind]


@pytest.mark.parametrize("fmt", FORMATS)
def test_codex_prints_the_models_answer_to_a_plain_question_whatever_the_upstream(
    codex_bin: Path, proxy: RecordingProxy, upstreams: Upstreams, tmp_path: Path, fmt: str
) -> None:
    run = run_codex(codex_bin, proxy, f"codex-hello-via-{fmt}", "Say hello.", tmp_path)

    assert_succeeded(run)
    assert run.messages() == [turns.HELLO_TEXT]
    (sent,) = run.sent
    assert (sent["stream"], sent["store"]) == (True, False)
    (received,) = upstreams.received(fmt, "codex-hello")
    assert "Say hello." in json.dumps(received)


@pytest.mark.parametrize("fmt", FORMATS)
def test_codex_runs_the_shell_command_the_model_calls_and_the_model_gets_its_output(
    codex_bin: Path, proxy: RecordingProxy, upstreams: Upstreams, tmp_path: Path, fmt: str
) -> None:
    run = run_codex(codex_bin, proxy, f"codex-shell-via-{fmt}", "Write shell.txt.", tmp_path)

    assert_succeeded(run)
    assert (run.workdir / turns.SHELL_FILE).read_text() == turns.SHELL_FILE_TEXT
    (command,) = codex.completed_items(run.events, "command_execution")
    assert (command["exit_code"], command["aggregated_output"]) == (0, "done\n")
    assert run.messages() == [turns.SHELL_TEXT]
    # Codex got the call as a function_call (with the upstream's id, where it gives one) and answered it.
    _, second = run.sent
    (call,) = items_of(second, "function_call")
    (output,) = items_of(second, "function_call_output")
    assert (call["name"], json.loads(call["arguments"])) == (codex.SHELL_TOOL, turns.SHELL_CALL["input"])
    assert output["call_id"] == call["call_id"]
    if fmt != "gemini":  # Gemini gives its calls no id: the gateway makes one up
        assert call["call_id"] == turns.upstream_call_id(fmt, turns.SHELL_CALL)
    assert "Process exited with code 0" in output["output"]
    # The upstream got the result in its own format, tied to its call.
    _, answered = upstreams.received(fmt, "codex-shell")
    if fmt == "openai":
        assistant, told = answered["messages"][-2:]
        (sent_call,) = assistant["tool_calls"]
        assert (sent_call["id"], sent_call["function"]["name"]) == (call["call_id"], codex.SHELL_TOOL)
        assert told == {"role": "tool", "tool_call_id": call["call_id"], "content": output["output"]}
    elif fmt == "anthropic":
        assistant, told = answered["messages"][-2:]
        assert assistant["content"] == [{"type": "tool_use", **turns.SHELL_CALL}]
        assert told == {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call["call_id"], "content": output["output"]}],
        }
    else:
        model_turn, told = answered["contents"][-2:]
        function = {"name": codex.SHELL_TOOL, "args": turns.SHELL_CALL["input"]}
        assert model_turn["parts"] == [{"functionCall": function, "thoughtSignature": GEMINI_SIGNATURE}]
        response = {"name": codex.SHELL_TOOL, "response": {"output": output["output"]}}
        assert told == {"role": "user", "parts": [{"functionResponse": response}]}


def test_codex_applies_the_patch_a_catalog_model_writes_with_its_custom_tool_through_anthropic(
    codex_bin: Path, proxy: RecordingProxy, upstreams: Upstreams, tmp_path: Path
) -> None:
    run = run_codex(codex_bin, proxy, CATALOG_MODEL, "Create hello.txt saying hello.", tmp_path)

    assert_succeeded(run)
    assert (run.workdir / turns.PATCH_FILE).read_text() == turns.PATCH_FILE_TEXT
    (change,) = codex.completed_items(run.events, "file_change")
    assert [entry["kind"] for entry in change["changes"]] == ["add"]
    assert run.messages() == [turns.PATCH_PREAMBLE, turns.PATCH_TEXT_ANSWER]
    first, second = run.sent
    # Codex offered its custom and hosted tools; the hosted ones went nowhere, and the gateway said so.
    offered = {tool["type"]: tool for tool in first["tools"]}
    assert offered["custom"]["name"] == codex.APPLY_PATCH_TOOL
    assert {"web_search", "tool_search"} <= set(offered)
    dropped = proxy.requests[0]["answer_headers"]["x-switchyard-dropped-params"].split(",")
    assert {"tools.web_search", "tools.tool_search"} <= set(dropped)
    asked, answered = upstreams.received("anthropic", "codex-patch")
    for body in (asked, answered):
        names = [tool["name"] for tool in body["tools"]]
        assert codex.APPLY_PATCH_TOOL in names
        assert not {"web_search", "tool_search"} & {*names, *(tool.get("type") for tool in body["tools"])}
    patch_tool = next(tool for tool in asked["tools"] if tool["name"] == codex.APPLY_PATCH_TOOL)
    assert patch_tool["input_schema"]["properties"].keys() == {"input"}
    # The call came back to Codex as a custom tool call, the thinking before it as reasoning it echoed.
    (call,) = items_of(second, "custom_tool_call")
    (output,) = items_of(second, "custom_tool_call_output")
    assert (call["name"], call["input"], call["call_id"]) == (
        codex.APPLY_PATCH_TOOL,
        codex.PATCH_TEXT,
        turns.PATCH_CALL["id"],
    )
    assert output["call_id"] == call["call_id"]
    (reasoning,) = items_of(second, "reasoning")
    assert reasoning["encrypted_content"] == turns.SIGNATURE
    # Anthropic got its own tool_use back after the signed thinking block, then the patch's result.
    assistant, told = answered["messages"][-2:]
    assert assistant["content"] == [
        {"type": "thinking", "thinking": turns.THINKING, "signature": turns.SIGNATURE},
        {"type": "text", "text": turns.PATCH_PREAMBLE},
        {"type": "tool_use", **turns.PATCH_CALL},
    ]
    (result,) = told["content"]
    assert (result["type"], result["tool_use_id"]) == ("tool_result", turns.PATCH_CALL["id"])
    assert f"A {turns.PATCH_FILE}" in result["content"]
    assert answered["thinking"] == {"type": "enabled", "budget_tokens": 8192}

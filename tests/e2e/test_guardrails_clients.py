"""Guardrails in front of the real clients: Anthropic's Claude Code CLI on /v1/messages (to an Anthropic and
an OpenAI upstream), OpenAI's Codex CLI and the `openai` client on /v1/responses, through one gateway whose
guardrails are set as LiteLLM writes them: hide-secrets on by default, and a virtual key carrying a PII
content filter on the prompt and a keyword check on the reply that reads each stream by window. The window
check makes the gateway render every streamed reply from what it says, never pass the upstream's bytes on:
the clients' tool round trips still have to work on that re-rendered stream."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.e2e import claude_code_cli as cli
from tests.e2e import codex_session as codex
from tests.e2e import codex_turns as turns
from tests.e2e.anthropic_upstream import FakeAnthropic
from tests.e2e.claude_code_session import NOTES_FILE, NOTES_SECRET, NOTES_TEXT
from tests.e2e.conftest import MASTER_KEY, ledger_record, running_gateway
from tests.e2e.test_claude_code import claude_bin, tool_result  # noqa: F401  (claude_bin: a fixture)
from tests.e2e.test_codex import CHAT_ONLY, codex_bin  # noqa: F401  (a fixture)
from tests.e2e.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

ADMIN = {"Authorization": f"Bearer {MASTER_KEY}"}
EMAIL = "grace.hopper@example.com"
TOKEN = "sk-proj-" + "Zx81QwErTyUiOp4AsDfGhJkL5ZxCvBnM7890qwerty"
"""An OpenAI project key, as a user pastes one into a prompt by mistake."""
CARD = "4111 1111 1111 1111"
"""A Luhn-valid card number (Visa's test number)."""
CODENAME = "nightingale"
"""The word the `clean` guardrail blocks in a reply: the scripted sessions never say it."""
WINDOW = 32
FAST_MODEL = "claude-code-fast"
RUN_TIMEOUT = 60
CLAUDE_UPSTREAMS = ["anthropic", "openai"]
CODEX_MODEL = "codex-shell-guarded"
GUARDED = ["pii", "clean"]
"""The guardrails the clients' virtual keys carry (`secrets` is on for every call)."""


def guardrails_config() -> list[dict[str, Any]]:
    email = {"pattern_type": "prebuilt", "pattern_name": "email", "action": "MASK"}
    card = {"pattern_type": "prebuilt", "pattern_name": "credit_card", "action": "BLOCK"}
    codename = {"keyword": CODENAME, "action": "BLOCK", "description": "an unreleased project's codename"}
    entries = {
        "secrets": {"guardrail": "hide-secrets", "mode": "pre_call", "default_on": True},
        "pii": {"guardrail": "litellm_content_filter", "mode": "pre_call", "patterns": [email, card],
                "output_parse_pii": True},
        "clean": {"guardrail": "litellm_content_filter", "mode": "post_call", "streaming": "window",
                  "window": WINDOW, "blocked_words": [codename]},
    }  # fmt: skip
    return [{"guardrail_name": name, "litellm_params": params} for name, params in entries.items()]


@dataclass
class Setup:
    url: str
    anthropic: FakeAnthropic
    openai: FakeUpstream

    def key(self, *models: str) -> str:
        """A virtual key for `models` carrying the GUARDED guardrails."""
        fields = {"models": list(models), "guardrails": GUARDED, "key_alias": f"{models[0]}-guarded"}
        answer = httpx.post(f"{self.url}/key/generate", json=fields, headers=ADMIN, timeout=10)
        answer.raise_for_status()
        return answer.json()["key"]

    def logs(self, key: str, count: int) -> list[dict[str, Any]]:
        """The ledger's records of `key`'s calls, once all `count` of them are there (oldest first)."""
        deadline = time.monotonic() + 10
        while True:
            found = httpx.get(f"{self.url}/spend/logs", params={"api_key": key}, headers=ADMIN, timeout=10)
            logs = found.json()
            if len(logs) >= count or time.monotonic() > deadline:
                return sorted(logs, key=lambda log: log["startTime"])
            time.sleep(0.1)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    with FakeAnthropic() as claude, FakeUpstream() as chat:
        anthropic_params = {"api_base": claude.root, "api_key": "sk-ant-e2e-upstream"}
        openai_params = {"api_base": chat.base_url, "api_key": "sk-e2e-upstream"}
        model_list = [
            {"model_name": "claude-code-anthropic",
             "litellm_params": {"model": "anthropic/claude-notes", **anthropic_params}},
            {"model_name": "claude-code-openai",
             "litellm_params": {"model": "openai/notes", **openai_params}},
            {"model_name": FAST_MODEL,
             "litellm_params": {"model": "anthropic/claude-ok", **anthropic_params}},
            {"model_name": CODEX_MODEL, "model_info": CHAT_ONLY,
             "litellm_params": {"model": f"openai/{turns.upstream_model('openai', 'codex-shell')}",
                                **openai_params}},
            {"model_name": "echo", "model_info": CHAT_ONLY,
             "litellm_params": {"model": "openai/echo", **openai_params}},
        ]  # fmt: skip
        config = {
            "model_list": model_list,
            "guardrails": guardrails_config(),
            "general_settings": {"master_key": MASTER_KEY},
            "router_settings": {"num_retries": 0, "allowed_fails": 1000},
        }
        with running_gateway(config, Path(tmp_path_factory.mktemp("e2e-guardrails-clients"))) as url:
            yield Setup(url, claude, chat)


def assert_guarded(record: dict[str, Any], *, masked: bool) -> None:
    """The ledger `record` shows the three guardrails ran and passed the call, `pii` masking when
    `masked`; it never shows what they found."""
    runs = record["metadata"]["guardrail_information"]
    seen = {(r["guardrail_name"], r["guardrail_mode"]) for r in runs}
    assert seen == {("secrets", "pre_call"), ("pii", "pre_call"), ("clean", "post_call")}, runs
    status = {r["guardrail_name"]: r["guardrail_status"] for r in runs}
    assert status["clean"] == "allowed"
    if masked:
        assert status["pii"] == "masked"
    assert EMAIL not in json.dumps(runs) and TOKEN not in json.dumps(runs)


# Claude Code on /v1/messages


@dataclass
class ClaudeSession:
    upstream: str
    key: str
    run: cli.ClaudeRun
    calls: list[dict[str, Any]]
    """The model calls the upstream got during the run, oldest first."""


CLAUDE_PROMPT = f"What is the secret word in {NOTES_FILE}? (The deploy script uses {TOKEN}; ignore it.)"
NOTES = f"the secret word is {NOTES_SECRET}\nquestions about it go to {EMAIL}\n"


@pytest.fixture(scope="module", params=CLAUDE_UPSTREAMS)
def claude_session(
    request: pytest.FixtureRequest,
    claude_bin: Path,  # noqa: F811
    setup: Setup,
    tmp_path_factory: pytest.TempPathFactory,
) -> ClaudeSession:
    """Claude Code asked about notes.txt (which holds an e-mail address) with a key that carries the
    guardrails, its prompt holding an API key."""
    upstream: str = request.param
    model = f"claude-code-{upstream}"
    home = tmp_path_factory.mktemp(f"claude-home-{upstream}")
    workdir = tmp_path_factory.mktemp(f"claude-work-{upstream}")
    (workdir / NOTES_FILE).write_text(NOTES)
    key = setup.key(model, FAST_MODEL)
    fake = setup.anthropic if upstream == "anthropic" else setup.openai
    since = len(fake.requests)
    done = subprocess.run(
        cli.claude_command(claude_bin, CLAUDE_PROMPT, "Read"),
        env=cli.claude_env(home, setup.url, key, model, FAST_MODEL),
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    run = cli.parse_result(done.returncode, done.stdout, done.stderr)
    return ClaudeSession(upstream, key, run, fake.requests[since:])


def test_claude_code_completes_its_read_round_trip_on_streams_the_window_guardrail_re_renders(
    claude_session: ClaudeSession,
) -> None:
    run = claude_session.run

    assert (run.exit_code, run.result.get("is_error")) == (0, False), (run.result, run.stderr)
    assert run.result["result"] == NOTES_TEXT
    assert len(claude_session.calls) == 2
    first, last = (call["body"] for call in claude_session.calls)
    assert first["stream"] is True
    assert NOTES_SECRET in tool_result(claude_session, last)


def test_the_upstream_gets_claude_codes_prompt_and_the_file_it_read_masked(
    claude_session: ClaudeSession,
) -> None:
    sent = json.dumps([call["body"] for call in claude_session.calls])

    assert TOKEN not in sent and EMAIL not in sent
    assert "[REDACTED]" in json.dumps(claude_session.calls[0]["body"])
    result = tool_result(claude_session, claude_session.calls[-1]["body"])
    assert "[EMAIL_" in result and NOTES_SECRET in result


def test_the_ledger_records_the_guardrails_that_ran_on_each_of_claude_codes_calls(
    claude_session: ClaudeSession, setup: Setup
) -> None:
    logs = setup.logs(claude_session.key, len(claude_session.calls))

    assert len(logs) == len(claude_session.calls)
    first, second = (ledger_record(setup.url, log["request_id"]) for log in logs)
    assert_guarded(first, masked=False)
    assert_guarded(second, masked=True)  # the file it read went back with the address masked
    assert {first["status"], second["status"]} == {"success"}


# Codex on /v1/responses


def test_codex_runs_the_shell_command_and_answers_through_the_window_guardrail(
    codex_bin: Path,  # noqa: F811
    setup: Setup,
    tmp_path: Path,
) -> None:
    key = setup.key(CODEX_MODEL)
    workdir, home = tmp_path / "work", tmp_path / "codex-home"
    workdir.mkdir()
    home.mkdir()
    prompt = f"Write {turns.SHELL_FILE}, then tell {EMAIL} it is done."
    command = codex.codex_command(codex_bin, f"{setup.url}/v1", CODEX_MODEL, prompt, workdir, retries=(0, 0))
    done = subprocess.run(
        command,
        env=codex.codex_env(home, key),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    events = codex.exec_events(done.stdout)

    assert (done.returncode, codex.turn_error(events)) == (0, None), (events, done.stderr)
    assert (workdir / turns.SHELL_FILE).read_text() == turns.SHELL_FILE_TEXT
    (command_run,) = codex.completed_items(events, "command_execution")
    assert (command_run["exit_code"], command_run["aggregated_output"]) == (0, "done\n")
    assert [item["text"] for item in codex.completed_items(events, "agent_message")] == [turns.SHELL_TEXT]
    asked, answered = (
        r["body"] for r in setup.openai.received(turns.upstream_model("openai", "codex-shell"))
    )
    assert EMAIL not in json.dumps([asked, answered])
    assert "[EMAIL_1]" in json.dumps(asked["messages"])
    (told,) = [m for m in answered["messages"] if m["role"] == "tool"]
    assert "Process exited with code 0" in told["content"]
    for log in setup.logs(key, 2):
        assert_guarded(ledger_record(setup.url, log["request_id"]), masked=True)


# The openai client on /v1/responses


def client(setup: Setup, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{setup.url}/v1", api_key=key, max_retries=0, timeout=10)


@pytest.fixture(scope="module")
def echo_key(setup: Setup) -> str:
    return setup.key("echo")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_a_card_number_on_v1_responses_is_refused_with_400_before_the_upstream_sees_it(
    setup: Setup, echo_key: str, stream: bool
) -> None:
    text = f"Charge {CARD} for the renewal of subscription {int(stream) + 4410}."
    with pytest.raises(openai.BadRequestError) as refused:
        client(setup, echo_key).responses.create(model="echo", input=text, stream=stream)

    assert refused.value.code == "guardrail_violation"
    assert "pii" in refused.value.message
    assert CARD not in refused.value.response.text
    assert not [r for r in setup.openai.received("echo") if f"subscription {int(stream) + 4410}" in str(r)]


def test_an_email_on_v1_responses_reaches_the_upstream_masked_and_comes_back_restored(
    setup: Setup, echo_key: str
) -> None:
    text = f"Send the Q3 figures to {EMAIL} before the board meeting."
    raw = client(setup, echo_key).responses.with_raw_response.create(model="echo", input=text)

    assert raw.parse().output_text == text
    (sent,) = [r["body"] for r in setup.openai.received("echo") if "Q3 figures" in json.dumps(r["body"])]
    assert sent["messages"][-1]["content"] == "Send the Q3 figures to [EMAIL_1] before the board meeting."
    assert_guarded(ledger_record(setup.url, raw.headers["x-switchyard-call-id"]), masked=True)


def test_a_stream_on_v1_responses_that_passes_the_window_check_arrives_whole(
    setup: Setup, echo_key: str
) -> None:
    text = (
        f"Please forward the minutes to {EMAIL}; the quarterly review went well and the budget for the "
        "next two releases was approved without changes."
    )
    events = list(client(setup, echo_key).responses.create(model="echo", input=text, stream=True))

    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == text
    assert len([e for e in events if e.type == "response.output_text.delta"]) > 1, "released as it streams"
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == text


def test_a_window_block_mid_stream_on_v1_responses_ends_it_with_response_failed_and_never_the_word(
    setup: Setup, echo_key: str
) -> None:
    text = (
        "The quarterly review went well, the budget was approved, the launch date holds, and the "
        f"next milestone is {CODENAME} as agreed with the board last week."
    )
    events = list(client(setup, echo_key).responses.create(model="echo", input=text, stream=True))

    said = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert said, "the text well before the codename was released as it streamed"
    assert text.startswith(said) and len(said) <= text.index(CODENAME)
    assert "nightin" not in said
    last = events[-1]
    assert last.type == "response.failed"
    assert last.response.error is not None
    # A block is no failure another try would mend: Codex, for one, does not retry `invalid_prompt`.
    assert last.response.error.code == "invalid_prompt"
    assert "Blocked by guardrail 'clean'" in last.response.error.message
    assert CODENAME not in json.dumps([e.model_dump() for e in events])
    assert not [e for e in events if e.type == "response.completed"]

"""The turns the fake upstreams play as the model behind Codex, in the format-neutral shape of
`claude_code_session.SCRIPTS` and registered there on import, so each fake serves a script by its upstream
model id (`codex-shell` for the OpenAI one, `claude-codex-shell` for Anthropic's, `gemini-codex-shell` for
Gemini's) with no change to it; and `ThinkingAnthropic`, the Anthropic fake answering a request that turns
thinking on as the real API does, with a signed thinking block first."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e import anthropic_upstream
from tests.e2e.anthropic_upstream import FakeAnthropic
from tests.e2e.claude_code_session import SCRIPTS
from tests.e2e.codex_session import APPLY_PATCH_TOOL, PATCH_TEXT, SHELL_TOOL

HELLO_TEXT = "Hello from the scripted model behind the gateway."
SHELL_FILE = "shell.txt"
SHELL_FILE_TEXT = "written by exec_command"
SHELL_CALL = {
    "id": "toolu_01CodexShellCall",
    "name": SHELL_TOOL,
    "input": {"cmd": f"printf '{SHELL_FILE_TEXT}' > {SHELL_FILE} && echo done"},
}
SHELL_TEXT = f"I wrote {SHELL_FILE}."
PATCH_FILE = "hello.txt"
PATCH_FILE_TEXT = "hello from apply_patch\n"
PATCH_CALL = {"id": "toolu_01CodexPatchCall", "name": APPLY_PATCH_TOOL, "input": {"input": PATCH_TEXT}}
"""A call of the custom tool as the gateway offers it to a chat upstream: a function whose one string
argument, `input`, is the patch."""
PATCH_PREAMBLE = "Adding the file."
PATCH_TEXT_ANSWER = f"I created {PATCH_FILE}."

CODEX_SCRIPTS: dict[str, list[dict[str, Any]]] = {
    "codex-hello": [{"text": HELLO_TEXT}],
    "codex-shell": [{"tool_use": SHELL_CALL}, {"text": SHELL_TEXT}],
    "codex-patch": [{"text": PATCH_PREAMBLE, "tool_use": PATCH_CALL}, {"text": PATCH_TEXT_ANSWER}],
}
UPSTREAM_MODELS = {
    "openai": "{script}",
    "anthropic": "claude-{script}",
    "gemini": "gemini-{script}",
}
"""The upstream model id under which each fake serves a script."""

SCRIPTS.update(CODEX_SCRIPTS)


def upstream_model(fmt: str, script: str) -> str:
    """The model id the fake upstream of format `fmt` serves `script` under."""
    return UPSTREAM_MODELS[fmt].format(script=script)


def upstream_call_id(fmt: str, call: dict[str, Any]) -> str | None:
    """The id the fake upstream of format `fmt` gives `call` (OpenAI's writes call_..., Gemini's none)."""
    if fmt == "openai":
        return call["id"].replace("toolu_", "call_")
    return call["id"] if fmt == "anthropic" else None


THINKING = "The user wants a file; a patch adds it."
SIGNATURE = "EqQBCgIYAhIMCodexTurnSignatureOfThinkingBlockAAAAaGgxBdjrkzLoky3dl1pk"


def with_thinking(events: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """A fake Anthropic stream's `events` with a signed thinking block before the other blocks (their
    indexes moved up one), as the real API starts its reply when the request turns thinking on."""
    shifted = [
        (name, {**data, "index": data["index"] + 1} if "index" in data else data) for name, data in events
    ]
    start = {"type": "thinking", "thinking": "", "signature": ""}
    thinking = [
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": start}),
        *(
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
            for delta in (
                {"type": "thinking_delta", "thinking": THINKING},
                {"type": "signature_delta", "signature": SIGNATURE},
            )
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ]
    return [shifted[0], *thinking, *shifted[1:]]


class _ThinkingHandler(anthropic_upstream._Handler):
    def _stream(self, model: str, body: dict) -> None:
        events = anthropic_upstream.stream_events(model, body)
        if (body.get("thinking") or {}).get("type") in ("enabled", "adaptive"):
            events = with_thinking(events)
        self.start_chunks("text/event-stream; charset=utf-8", {"cache-control": "no-cache"})
        for name, data in events:
            self.send_chunk(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        self.send_chunk(b"")


class ThinkingAnthropic(FakeAnthropic):
    """The fake Anthropic upstream, whose streamed replies start with a signed thinking block (THINKING,
    SIGNATURE) when the request turns thinking on: what Codex's reasoning effort for a catalog model
    becomes. Like the real API, it refuses a tool loop whose assistant turn lost that block."""

    handler = _ThinkingHandler

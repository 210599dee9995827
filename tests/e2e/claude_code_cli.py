"""Running Anthropic's Claude Code CLI (npm `@anthropic-ai/claude-code`) offline against the gateway's
/v1/messages, and what it sends there.

Captured from Claude Code 2.1.332 (`claude -p ... --output-format json`, ANTHROPIC_BASE_URL at a local
recording server, ANTHROPIC_API_KEY set, no login):

- Requests: `POST {base}/v1/messages?beta=true`, streamed (`stream: true`), one per sampling step; in
  print mode no count_tokens call and no call of the small fast model. When the stream fails it retries once
  without streaming (`stream: false`), then gives up (`x-stainless-retry-count` counts the retries).
- Headers: `x-api-key: <ANTHROPIC_API_KEY>`, `anthropic-version: 2023-06-01`, `anthropic-beta:
  claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,...`, `x-app: cli`,
  `user-agent: claude-cli/2.1.332 (external, sdk-cli)`, `x-claude-code-session-id`, the Stainless
  `x-stainless-*` headers of the bundled TypeScript SDK, `anthropic-dangerous-direct-browser-access`.
- Body keys, in order: `model`, `messages`, `system` (text blocks: a billing line, "You are a Claude
  agent, built on Anthropic's Claude Agent SDK.", the long prompt; cache_control marks), `tools` (Agent,
  Bash, Edit, Read, Write, Skill, ToolSearch... zod's JSON Schemas), `metadata.user_id` (a JSON string of
  device and session ids), `max_tokens: 32000`, `thinking: {"type": "adaptive", ...}` (even for a model
  name it does not know), `context_management`, `output_config: {"effort": "high"}`, `stream`. The user's
  prompt is the last text block of the first user message, after `<system-reminder>` blocks. A later turn
  may hold a `{"role": "system"}` message (the `mid-conversation-tool-changes` beta) after tool results.
- With thinking on, an assistant turn that calls a tool must start with a signed thinking block, as the
  real API demands of it; the scripted fakes answer without thinking, so CLAUDE_ENV sets
  MAX_THINKING_TOKENS=0, which drops `thinking` from the requests.
- Read takes a path relative to the working directory; `--allowedTools Read` lets it run unattended.
- A model name it does not know only logs `[claude-code:unrecognized_model]` on stderr.

Offline: https://code.claude.com/docs/en/env-vars (CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC stands for
DISABLE_AUTOUPDATER, DISABLE_BUG_COMMAND, DISABLE_ERROR_REPORTING and DISABLE_TELEMETRY together; all are
set), with every proxy variable closed as for Codex.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e import npm_cli

CLAUDE_CODE_VERSION = "2.1.332"
CLAUDE_CODE_PACKAGE = f"@anthropic-ai/claude-code@{CLAUDE_CODE_VERSION}"
CLAUDE_ENV = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_BUG_COMMAND": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_TELEMETRY": "1",
    "CLAUDE_CODE_DISABLE_AUTO_MEMORY": "1",
    "MAX_THINKING_TOKENS": "0",
}
"""What keeps Claude Code quiet and on this machine, and its requests free of thinking (see above)."""


def find_or_install_claude_code() -> Path | None:
    """A `claude` executable: $SWITCHYARD_CLAUDE_CODE_BIN, else CLAUDE_CODE_PACKAGE under
    ~/.cache/switchyard/claude-code-<version> ($SWITCHYARD_CLAUDE_CODE_CACHE), installed there with npm
    when it is missing (about 384 MB). None when there is neither."""
    directory = npm_cli.cache_dir(f"claude-code-{CLAUDE_CODE_VERSION}", "SWITCHYARD_CLAUDE_CODE_CACHE")
    configured = os.environ.get("SWITCHYARD_CLAUDE_CODE_BIN")
    return npm_cli.find_or_install(CLAUDE_CODE_PACKAGE, "claude", directory, "Claude Code", configured)


def claude_env(home: str | Path, base_url: str, api_key: str, model: str, fast_model: str) -> dict[str, str]:
    """Claude Code's environment against the gateway at `base_url`: `api_key` as ANTHROPIC_API_KEY (print
    mode uses it without asking), `model` as the main model and `fast_model` as the small one."""
    return {
        **npm_cli.sealed_env(home),
        **CLAUDE_ENV,
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": api_key,
        "ANTHROPIC_MODEL": model,
        "ANTHROPIC_SMALL_FAST_MODEL": fast_model,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": fast_model,
    }


def claude_command(claude_bin: str | Path, prompt: str, *allowed_tools: str) -> list[str]:
    """`claude -p` on `prompt`: one JSON result on stdout, `allowed_tools` run without asking."""
    command = [str(claude_bin), "-p", "--output-format", "json"]
    if allowed_tools:
        command += ["--allowedTools", ",".join(allowed_tools)]
    return [*command, "--", prompt]


@dataclass
class ClaudeRun:
    exit_code: int
    result: dict[str, Any]
    """The JSON result `--output-format json` printed (`result`, `is_error`, `usage`...), {} if none."""
    stderr: str


def parse_result(exit_code: int, stdout: str, stderr: str) -> ClaudeRun:
    try:
        result = json.loads(stdout)
    except json.JSONDecodeError:
        result = {}
    return ClaudeRun(exit_code, result, stderr)

"""Running OpenAI's Codex CLI (npm `@openai/codex`) offline against the gateway's /v1/responses, and what
it sends there.

Captured from Codex 0.171.0 (`codex exec`, a custom provider with `wire_api = "responses"`, API key from
`env_key`, no login), against a local recording server:

- Requests: only `POST {base_url}/responses`, streamed (`stream: true`, `accept: text/event-stream`), one
  per sampling step. Codex never sends `previous_response_id`: every request carries the whole history
  in `input` (`store: false`). It makes no `/models` call in any configuration tried (exec and the TUI,
  custom provider and built-in `openai` provider with an API key): model metadata comes from a catalog
  built into the binary. A model name outside that catalog works, with a warning ("Model metadata for
  `X` not found. Defaulting to fallback metadata"), which `--json` prints as an item of type `error`.
- Headers: `authorization: Bearer <key>`, `originator: codex_exec`, `user-agent: codex_exec/0.171.0
  (<os>; <arch>) unknown (codex_exec; 0.171.0)`, `session-id` and `thread-id` (the session's UUIDv7),
  `x-client-request-id` (the same), `x-codex-window-id` (`<session>:0`), `x-codex-turn-metadata` (JSON:
  installation, session, turn ids, sandbox, `request_kind` `turn` or `compaction`, model...),
  `x-codex-beta-features: remote_compaction_v2`, `accept-encoding: zstd,gzip`. A custom provider gets no
  `version`, `openai-beta` or `chatgpt-account-id` (the built-in provider adds `version: 0.171.0`).
- Body keys, in order: `model`, `stream`, `input`, `tools`, `tool_choice: "auto"`,
  `parallel_tool_calls: true`, `reasoning`, `store: false`, `include: ["reasoning.encrypted_content"]`,
  `prompt_cache_key` (the session id), `text` (catalog models only), `client_metadata` (string values:
  the turn metadata again, ids). No `instructions`, `temperature`, `max_output_tokens` or `metadata`:
  the system prompt is the first `developer` message of `input`. `reasoning` is `{"summary": "auto"}`
  for a model outside the catalog and `{"effort": "medium"}` for e.g. `gpt-5.5` (`-c
  model_reasoning_effort=...`, `-c model_reasoning_summary=...` add `effort`/`summary`); `text` is
  `{"verbosity": "low"}` for catalog models, plus `format: {type: json_schema, strict: true, name:
  codex_output_schema, schema}` with `--output-schema`.
- `input` items carry ids: messages `{"type": "message", "id": "msg_<uuid>", "role":
  "developer"|"user", "content": [{"type": "input_text"}...]}` (images as `input_image` with a data: URL
  and `detail: "high"`); the model's own items come back as it sent them (`id`, `status`), assistant
  messages as `output_text` parts with `annotations` and `logprobs`, reasoning items as `{"type":
  "reasoning", "id", "summary": [...], "content": null, "encrypted_content"}`; tool results are
  `{"type": "function_call_output", "id": "fco_<uuid>", "call_id", "output": "<text>"}` and
  `{"type": "custom_tool_call_output", "id": "ctco_<uuid>", "call_id", "output"}`. Parallel calls are
  echoed all calls first, then the outputs in the same order.
- `tools` for a model outside the catalog: functions `exec_command` (the shell: `{"cmd": "..."}`, plus
  optional `workdir`, `yield_time_ms`, `tty`...), `write_stdin`, `request_user_input`, `view_image`,
  `get_goal`, `create_goal`, `update_goal`, all `strict: false`; a `namespace` tool `multi_agent_v1`
  holding five functions (a call to one comes as a `function_call` with `namespace`); hosted
  `{"type": "web_search", "external_web_access": false}`. For a catalog model (`gpt-5.5`, see the fixture)
  also the custom tool `apply_patch` (`format: {type: grammar, syntax: lark, definition}`: the model's
  call is a `custom_tool_call` whose `input` is the patch text) and `{"type": "tool_search", "execution":
  "client", ...}`, whose `tool_search_call` Codex answers with a `tool_search_output` holding the
  deferred tools (the namespace moves there); `web_search` adds `search_content_types`.
- Compaction (`-c model_auto_compact_token_limit=N`, when usage passes N): with a custom provider it is
  an ordinary streamed request with `tools: []`, `parallel_tool_calls: false` and a last user message
  asking for a handoff summary; the next turn's input is the summary.

The stream Codex needs: each output item's `response.output_item.done` (that is what it keeps: deltas
only drive the display, and a delta for an item never `added` is logged as an error and dropped; the
`output` of `response.completed` is ignored), then `response.completed` with `response.id` (`usage`
is optional: turn usage is zero without it). Unknown event types are ignored. A stream that closes
without `response.completed` (or ends with an `error` event) is retried: the items already shown stay,
so text is duplicated. `response.failed` is retried unless its `error.code` is
`context_length_exceeded`, `insufficient_quota`, `server_is_overloaded` or `invalid_prompt`, which end
the turn with their own message; `response.incomplete` ends the turn ("Incomplete response returned,
reason: max_output_tokens"). HTTP errors: 400 is not retried (the turn fails with the body as message);
5xx is retried with backoff (`request_max_retries`, default 4) inside each of the stream retries
(`stream_max_retries`, default 5): 30 requests over ~25 s; 401, 404 and 413 (the 4xx tried) go through the
stream retries only (6 requests); 429 without `Retry-After` fails at once ("exceeded retry limit, last
status: 429"), with `Retry-After: 1` it is retried each second, 6 requests. A refused connection is
retried whatever the retry settings ("Reconnecting... waiting for network", still at it after 5 minutes
with both counts 0): run Codex under a timeout. Concurrent runs need a CODEX_HOME each.

Offline: with analytics on, Codex posts to ab.chatgpt.com; with plugins on, it clones
github.com/openai/plugins and calls api.github.com and chatgpt.com. `analytics.enabled=false` and
`features.plugins=false` stop all of it (checked with strace: only loopback connections are made);
`check_for_update_on_startup=false` is for the TUI. The TUI also starts an app-server daemon that
outlives it: use `codex exec`, which does not.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from tests.e2e import npm_cli

CODEX_VERSION = "0.171.0"
CODEX_PACKAGE = f"@openai/codex@{CODEX_VERSION}"
PROVIDER_ID = "switchyard"
API_KEY_ENV = "SWITCHYARD_API_KEY"
FIXTURE = Path(__file__).parent / "fixtures" / "codex_request.json"
"""The last request of a captured `codex exec -m gpt-5.5` session whose model ran a shell command (after a
reasoning item), an apply_patch, a tool_search and a namespaced function; paths and ids made neutral, the
long prompt texts cut short."""

CONFIG_TOML = """\
model = "{model}"
model_provider = "{provider}"
approval_policy = "never"
check_for_update_on_startup = false

[model_providers.{provider}]
name = "Switchyard"
base_url = "{base_url}"
env_key = "{api_key_env}"
wire_api = "responses"
request_max_retries = {request_max_retries}
stream_max_retries = {stream_max_retries}

[analytics]
enabled = false

[features]
plugins = false
"""
"""`$CODEX_HOME/config.toml` for Codex against the gateway; `codex_command` passes the same settings as
`-c` overrides, so it needs no file."""

OFFLINE_OVERRIDES = ("analytics.enabled=false", "features.plugins=false", "check_for_update_on_startup=false")

SHELL_TOOL = "exec_command"
APPLY_PATCH_TOOL = "apply_patch"
SHELL_CALL = {"id": "call_codex_shell_1", "name": SHELL_TOOL, "input": {"cmd": "echo hi-from-codex"}}
SHELL_OUTPUT = "hi-from-codex"
FINAL_TEXT = "The command printed hi-from-codex."
SHELL_TURNS = [{"tool_use": SHELL_CALL}, {"text": FINAL_TEXT}]
"""A scripted conversation in the format-neutral shape of `claude_code_session.SCRIPTS`: the model runs
`echo hi-from-codex` with Codex's shell tool, then answers. Codex sends back a `function_call_output`
whose `output` holds `hi-from-codex` after a header ("Chunk ID: ...\\nWall time: ...\\nProcess exited with
code 0\\n...Output:\\n")."""
PATCH_TEXT = "*** Begin Patch\n*** Add File: hello.txt\n+hello from apply_patch\n*** End Patch\n"
"""An `apply_patch` input (the custom tool's freeform text) that creates hello.txt in the workdir."""

HEADERS = {
    "authorization": "Bearer <key>",
    "originator": "codex_exec",
    "user-agent": f"codex_exec/{CODEX_VERSION} (Debian 12.0.0; x86_64) unknown (codex_exec; {CODEX_VERSION})",
    "session-id": "00000000-0000-7000-8000-000000000009",
    "thread-id": "00000000-0000-7000-8000-000000000009",
    "x-client-request-id": "00000000-0000-7000-8000-000000000009",
    "x-codex-window-id": "00000000-0000-7000-8000-000000000009:0",
    "x-codex-beta-features": "remote_compaction_v2",
    "accept": "text/event-stream",
    "accept-encoding": "zstd,gzip",
    "content-type": "application/json",
}
"""The headers of a captured request (`x-codex-turn-metadata` left out; ids neutral)."""


def config_toml(
    base_url: str, model: str, *, request_max_retries: int = 4, stream_max_retries: int = 5
) -> str:
    """CONFIG_TOML filled in (the retry counts are Codex's defaults; 0 and 0 make error tests fast)."""
    return CONFIG_TOML.format(
        model=model,
        provider=PROVIDER_ID,
        base_url=base_url,
        api_key_env=API_KEY_ENV,
        request_max_retries=request_max_retries,
        stream_max_retries=stream_max_retries,
    )


def codex_command(
    codex_bin: str | Path,
    base_url: str,
    model: str,
    prompt: str,
    workdir: str | Path,
    *,
    sandbox: str = "workspace-write",
    retries: tuple[int, int] | None = None,
    extra: tuple[str, ...] = (),
) -> list[str]:
    """`codex exec` against the gateway at `base_url` (ending in `/v1`): non-interactive, JSON lines on
    stdout (`thread.started`, `turn.started`, `item.started`/`item.completed`, `turn.completed` or
    `turn.failed`), no session files, no approval prompts, in `workdir`. `retries` sets
    (request_max_retries, stream_max_retries); run it with `codex_env` and stdin from /dev/null."""
    provider = (
        f'model_providers.{PROVIDER_ID}={{name="Switchyard", base_url="{base_url}", '
        f'env_key="{API_KEY_ENV}", wire_api="responses"}}'
    )
    overrides = [f'model_provider="{PROVIDER_ID}"', provider, 'approval_policy="never"', *OFFLINE_OVERRIDES]
    if retries is not None:
        overrides += [
            f"model_providers.{PROVIDER_ID}.request_max_retries={retries[0]}",
            f"model_providers.{PROVIDER_ID}.stream_max_retries={retries[1]}",
        ]
    command = [str(codex_bin), "exec", "--skip-git-repo-check", "--ephemeral", "--ignore-rules", "--json",
               "--color", "never", "--sandbox", sandbox, "-C", str(workdir), "-m", model]  # fmt: skip
    for override in overrides:
        command += ["-c", override]
    return [*command, *extra, "--", prompt]


def codex_env(home: str | Path, api_key: str) -> dict[str, str]:
    """The environment for `codex_command`: `npm_cli.sealed_env` with `home` as CODEX_HOME too, and the
    key in API_KEY_ENV."""
    return {**npm_cli.sealed_env(home), "CODEX_HOME": str(home), API_KEY_ENV: api_key}


def find_or_install_codex() -> Path | None:
    """A Codex binary: $SWITCHYARD_CODEX_BIN, else CODEX_PACKAGE under the cache directory
    ($SWITCHYARD_CODEX_CACHE, or ~/.cache/switchyard/codex-<version>: the install is about 424 MB),
    installed there with npm when it is missing. None when there is neither."""
    directory = npm_cli.cache_dir(f"codex-{CODEX_VERSION}", "SWITCHYARD_CODEX_CACHE")
    return npm_cli.find_or_install(
        CODEX_PACKAGE, "codex", directory, "codex", os.environ.get("SWITCHYARD_CODEX_BIN")
    )


def exec_events(stdout: str) -> list[dict[str, Any]]:
    """The JSON events `codex exec --json` printed (other lines, if any, skipped)."""
    events = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    return events


def completed_items(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The completed items of one type: `agent_message` (`text`), `command_execution` (`command`,
    `aggregated_output`, `exit_code`), `file_change`, `reasoning`, or `error` (which includes the
    harmless "Model metadata ... not found" warning)."""
    return [
        event["item"]
        for event in events
        if event.get("type") == "item.completed" and event["item"].get("type") == kind
    ]


def turn_error(events: list[dict[str, Any]]) -> str | None:
    """The message of `turn.failed`, if the turn failed."""
    for event in events:
        if event.get("type") == "turn.failed":
            return event["error"]["message"]
    return None


def fixture_request(model: str | None = None) -> dict[str, Any]:
    """The captured request body (a fresh copy), with `model` replaced when given."""
    body = json.loads(FIXTURE.read_text())
    if model is not None:
        body["model"] = model
    return copy.deepcopy(body)

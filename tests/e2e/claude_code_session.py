"""Scripted conversations for the /v1/messages end-to-end tests: a session in the shape Claude Code sends,
and the turns the fake upstreams play as the model.

Claude Code's requests, as captured in public write-ups of its traffic (and code.claude.com's "LLM gateway"
page, which asks gateways to forward `anthropic-beta` and `anthropic-version`): `POST /v1/messages?beta=true`
with `x-api-key`, `anthropic-beta: claude-code-20250219,interleaved-thinking-2025-05-14,...`, `x-app: cli`;
a body with the system prompt as text blocks marked `cache_control: ephemeral`, some fifteen tools whose
schemas are zod's JSON Schema (draft-07, `additionalProperties: false`), `metadata.user_id`,
`max_tokens: 32000`, `temperature: 1`, `stream: true`, and the newest user block marked for caching.

A scripted turn is format-neutral (`text` and/or one `tool_use` with `id`, `name` and `input`); each fake
upstream renders it in its wire format, picking the turn by how many tool results the request carries.
"""

from __future__ import annotations

import copy
import json
from typing import Any

BETAS = "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14"
SESSION_ID = "6f1c2e0a-3b7d-4d2e-9a41-0c5e8b7f1d23"
HEADERS = {
    "anthropic-beta": BETAS,
    "anthropic-version": "2023-06-01",
    "anthropic-dangerous-direct-browser-access": "true",
    "x-app": "cli",
    "x-claude-code-session-id": SESSION_ID,
    "user-agent": "claude-cli/2.0.36 (external, cli)",
}
QUERY = {"beta": "true"}
METADATA = {"user_id": f"user_{'5e0c' * 16}_account__session_{SESSION_ID}"}
EPHEMERAL = {"type": "ephemeral"}
SYSTEM = [
    {
        "type": "text",
        "text": "You are Claude Code, Anthropic's official CLI for Claude.",
        "cache_control": EPHEMERAL,
    },
    {
        "type": "text",
        "text": "You are an interactive CLI tool that helps users with software engineering tasks. Use the "
        "tools available to you; read a file before you edit it; keep answers short.\n\n<env>\nWorking "
        "directory: /home/dev/app\nIs directory a git repo: Yes\nPlatform: linux\n</env>",
        "cache_control": EPHEMERAL,
    },
]


def _tool(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
        "$schema": "http://json-schema.org/draft-07/schema#",
    }
    return {"name": name, "description": description, "input_schema": schema}


def _string(description: str) -> dict[str, str]:
    return {"type": "string", "description": description}


_PATH = _string("The absolute path to the file")
_TODO = {
    "type": "object",
    "properties": {
        "content": {"type": "string", "minLength": 1},
        "status": {"type": "string", "enum": ["pending", "in_progress", "completed"]},
        "activeForm": {"type": "string", "minLength": 1},
    },
    "required": ["content", "status", "activeForm"],
    "additionalProperties": False,
}
_EDIT = {
    "type": "object",
    "properties": {
        "old_string": _string("The text to replace"),
        "new_string": _string("The text to replace it with"),
        "replace_all": {"type": "boolean", "default": False},
    },
    "required": ["old_string", "new_string"],
    "additionalProperties": False,
}
TOOLS = [
    _tool("Task", "Launch a new agent for a complex, multi-step task.",
          {"description": _string("A short description of the task"), "prompt": _string("The task"),
           "subagent_type": _string("The type of agent to use")}, ["description", "prompt", "subagent_type"]),
    _tool("Bash", "Executes a bash command in a persistent shell session.",
          {"command": _string("The command to execute"),
           "timeout": {"type": "number", "description": "Optional timeout in milliseconds (max 600000)"},
           "description": _string("What this command does in 5-10 words"),
           "run_in_background": {"type": "boolean"}}, ["command"]),
    _tool("Glob", "Fast file pattern matching.",
          {"pattern": _string("The glob pattern"), "path": _string("The directory to search in")},
          ["pattern"]),
    _tool("Grep", "Searches file contents with ripgrep.",
          {"pattern": _string("The regular expression"), "path": _string("File or directory"),
           "glob": _string("Glob to filter files"),
           "output_mode": {"type": "string", "enum": ["content", "files_with_matches", "count"]},
           "-B": {"type": "number"}, "-A": {"type": "number"}, "-C": {"type": "number"},
           "-n": {"type": "boolean"}, "-i": {"type": "boolean"}, "type": _string("File type"),
           "head_limit": {"type": "number"}, "multiline": {"type": "boolean"}}, ["pattern"]),
    _tool("ExitPlanMode", "Ends plan mode with a plan for the user to approve.",
          {"plan": _string("The plan, in markdown")}, ["plan"]),
    _tool("Read", "Reads a file from the local filesystem.",
          {"file_path": _PATH, "offset": {"type": "number"}, "limit": {"type": "number"}}, ["file_path"]),
    _tool("Edit", "Performs exact string replacements in a file.",
          {"file_path": _PATH, **_EDIT["properties"]}, ["file_path", "old_string", "new_string"]),
    _tool("MultiEdit", "Several edits to one file in one operation.",
          {"file_path": _PATH, "edits": {"type": "array", "items": _EDIT, "minItems": 1}},
          ["file_path", "edits"]),
    _tool("Write", "Writes a file to the local filesystem.",
          {"file_path": _PATH, "content": _string("The content to write")}, ["file_path", "content"]),
    _tool("NotebookEdit", "Replaces the contents of a cell in a Jupyter notebook.",
          {"notebook_path": _PATH, "cell_id": _string("The cell's id"), "new_source": _string("New source"),
           "cell_type": {"type": "string", "enum": ["code", "markdown"]},
           "edit_mode": {"type": "string", "enum": ["replace", "insert", "delete"]}},
          ["notebook_path", "new_source"]),
    _tool("WebFetch", "Fetches a URL and answers a prompt about its content.",
          {"url": {"type": "string", "format": "uri"}, "prompt": _string("What to look for")},
          ["url", "prompt"]),
    _tool("TodoWrite", "Creates and updates the session's task list.",
          {"todos": {"type": "array", "items": _TODO, "description": "The updated todo list"}}, ["todos"]),
    _tool("WebSearch", "Searches the web.",
          {"query": {"type": "string", "minLength": 2},
           "allowed_domains": {"type": "array", "items": {"type": "string"}},
           "blocked_domains": {"type": "array", "items": {"type": "string"}}}, ["query"]),
    _tool("BashOutput", "Reads the output of a background shell.",
          {"bash_id": _string("The shell's id"), "filter": _string("A regular expression")}, ["bash_id"]),
    _tool("KillShell", "Kills a background shell.", {"shell_id": _string("The shell's id")}, ["shell_id"]),
    _tool("SlashCommand", "Runs a slash command.", {"command": _string("The command")}, ["command"]),
]  # fmt: skip

FILE = "/home/dev/app/src/greet.py"
FILE_TEXT = '     1\tdef greet(name: str) -> str:\n     2\t    return "Hello!"\n'
READ = {"id": "toolu_01SessionReadGreet", "name": "Read", "input": {"file_path": FILE}}
EDIT = {
    "id": "toolu_01SessionEditGreet",
    "name": "Edit",
    "input": {"file_path": FILE, "old_string": 'return "Hello!"', "new_string": 'return f"Hello, {name}!"'},
}
FINAL_TEXT = "greet() now says hello to the name it is given."
SESSION_TURNS = [
    {"text": "I'll read the file first.", "tool_use": READ},
    {"tool_use": EDIT},
    {"text": FINAL_TEXT},
]
"""What the model answers: a Read (after a line of text), then an Edit, then its summary."""
TOOL_OUTPUTS = {
    "Read": FILE_TEXT,
    "Edit": f"The file {FILE} has been updated. Here's the result of running `cat -n` on a snippet of the "
    'edited file:\n     2\t    return f"Hello, {name}!"',
}

# The same call and answer as the fake Anthropic upstream's `claude-tools`.
WEATHER = {"id": "toolu_01E2EWeatherCall", "name": "get_weather", "input": {"city": "Paris"}}
WEATHER_TEXT = "It is 15 degrees in Paris."
WEATHER_TURNS = [{"tool_use": WEATHER}, {"text": WEATHER_TEXT}]
"""A plain tool round trip: the model calls get_weather, then answers with the tool's result."""

NOTES_FILE, NOTES_SECRET = "notes.txt", "pelican"
NOTES_READ = {"id": "toolu_01CliReadNotes", "name": "Read", "input": {"file_path": NOTES_FILE}}
NOTES_TEXT = f"The notes say the secret word is {NOTES_SECRET}."
NOTES_TURNS = [{"tool_use": NOTES_READ}, {"text": NOTES_TEXT}]
"""What the model answers the real Claude Code (test_claude_code.py): a Read of notes.txt in the working
directory (a relative path, which Claude Code resolves there), then its answer."""

SCRIPTS = {"weather": WEATHER_TURNS, "coder": SESSION_TURNS, "notes": NOTES_TURNS}


def scripted_turn(script: str, tool_results: int) -> dict[str, Any]:
    """The turn of `script` that answers a conversation holding `tool_results` tool results."""
    turns = SCRIPTS[script]
    return turns[min(tool_results, len(turns) - 1)]


def anthropic_blocks(script: str, body: dict[str, Any]) -> tuple[list[tuple[dict, list[str]]], str, None]:
    """The turn of `script` answering `body` as the fake Anthropic upstream's `reply_blocks` gives a
    reply: (blocks, each whole and in the pieces its stream sends; stop_reason; stop_sequence)."""
    results = sum(
        block.get("type") == "tool_result"
        for message in body.get("messages", [])
        if isinstance(message.get("content"), list)
        for block in message["content"]
    )
    turn = scripted_turn(script, results)
    blocks: list[tuple[dict, list[str]]] = []
    if turn.get("text"):
        words = turn["text"].split(" ")
        blocks.append(
            ({"type": "text", "text": turn["text"]}, [f" {w}" if i else w for i, w in enumerate(words)])
        )
    if call := turn.get("tool_use"):
        arguments = json.dumps(call["input"])
        pieces = ["", *(arguments[i : i + 12] for i in range(0, len(arguments), 12))]
        blocks.append(({"type": "tool_use", **call}, pieces))
    return blocks, ("tool_use" if turn.get("tool_use") else "end_turn"), None


def first_request(model: str) -> dict[str, Any]:
    """The body of the session's first call, as Claude Code sends it."""
    ask = "Make greet() in src/greet.py say hello to the name it is given."
    reminder = (
        "<system-reminder>\nAs you answer, use the TodoWrite tool when a task has several steps.\n"
        "</system-reminder>"
    )
    messages = [
        {"role": "user", "content": [{"type": "text", "text": reminder},
                                     {"type": "text", "text": ask, "cache_control": EPHEMERAL}]},
    ]  # fmt: skip
    return {
        "model": model,
        "messages": messages,
        "temperature": 1,
        "system": copy.deepcopy(SYSTEM),
        "tools": copy.deepcopy(TOOLS),
        "metadata": METADATA,
        "max_tokens": 32000,
        "stream": True,
    }


def next_request(previous: dict[str, Any], reply_content: list[dict[str, Any]]) -> dict[str, Any]:
    """The next call after the model answered `reply_content` (blocks as the client got them): the
    assistant turn as it came, then the results of its tool calls, the newest block marked for caching
    (and the older marks removed, as Claude Code keeps a few breakpoints only)."""
    body = copy.deepcopy(previous)
    for message in body["messages"]:
        if isinstance(message["content"], list):
            for block in message["content"]:
                block.pop("cache_control", None)
    calls = [block for block in reply_content if block["type"] == "tool_use"]
    results: list[dict[str, Any]] = [
        {"type": "tool_result", "tool_use_id": call["id"], "content": TOOL_OUTPUTS[call["name"]]}
        for call in calls
    ]
    results[-1]["cache_control"] = EPHEMERAL
    body["messages"] += [
        {"role": "assistant", "content": reply_content},
        {"role": "user", "content": results},
    ]
    return body

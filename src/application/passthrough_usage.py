"""What a pass-through call used, read from the provider's native request and reply: the model from the
body (or a Gemini path), the usage from a JSON reply or from a stream's final events (OpenAI's usage
chunk, Anthropic's message_start and message_delta)."""

from __future__ import annotations

import json
import re
from typing import Any

from domain.completions import Usage

_GEMINI_MODEL = re.compile(r"/models/([^/:]+):")
_MAX_JSON = 8 * 1024 * 1024
"""A JSON reply longer than this is relayed without reading its usage."""


def model_of(path: str, body: bytes) -> str | None:
    """The model a call names: its JSON body's `model`, else a `models/<m>:<method>` path's."""
    if body[:1] == b"{" and b'"model"' in body:
        try:
            found = json.loads(body).get("model")
        except ValueError:
            found = None
        if isinstance(found, str) and found:
            return found
    match = _GEMINI_MODEL.search(path)
    return match.group(1) if match else None


class UsageTap:
    """Fed the reply's bytes as they pass; `usage()` once they all passed (None when the reply stated
    none that this reads)."""

    __slots__ = ("_buffer", "_fields", "_stream")

    def __init__(self, content_type: str) -> None:
        self._stream = content_type.startswith("text/event-stream")
        self._buffer = bytearray()
        self._fields: dict[str, int] = {}

    def feed(self, chunk: bytes) -> None:
        if not self._stream:
            if len(self._buffer) + len(chunk) <= _MAX_JSON:
                self._buffer += chunk
            return
        self._buffer += chunk
        # Only whole lines are read; the rest waits for the next chunk.
        end = self._buffer.rfind(b"\n")
        if end < 0:
            return
        lines, self._buffer = bytes(self._buffer[: end + 1]), self._buffer[end + 1 :]
        for line in lines.splitlines():
            if line.startswith(b"data:") and b'"usage"' in line:
                self._read(line[5:])

    def usage(self) -> Usage | None:
        if not self._stream and self._buffer:
            self._read(bytes(self._buffer))
        return _usage(self._fields) if self._fields else None

    def _read(self, text: bytes) -> None:
        try:
            event = json.loads(text)
        except ValueError:
            return
        if not isinstance(event, dict):
            return
        message = event.get("message")
        used = message.get("usage") if isinstance(message, dict) else event.get("usage")
        if isinstance(used, dict):
            _merge(self._fields, used)


def _merge(fields: dict[str, int], used: dict[str, Any]) -> None:
    # A later event states the final count of whatever it names (Anthropic's message_delta).
    for name, value in used.items():
        if isinstance(value, int) and not isinstance(value, bool):
            fields[name] = value
        elif isinstance(value, dict):
            for inner, count in value.items():
                if isinstance(count, int) and not isinstance(count, bool):
                    fields[f"{name}.{inner}"] = count


def _usage(fields: dict[str, int]) -> Usage:
    if "input_tokens" in fields or "output_tokens" in fields:  # Anthropic's messages
        cache_read = fields.get("cache_read_input_tokens", 0)
        cache_write = fields.get("cache_creation_input_tokens", 0)
        return Usage(
            prompt_tokens=fields.get("input_tokens", 0) + cache_read + cache_write,
            completion_tokens=fields.get("output_tokens", 0),
            cached_tokens=cache_read,
            cache_creation_tokens=cache_write,
        )
    return Usage(  # OpenAI's chat completions and embeddings
        prompt_tokens=fields.get("prompt_tokens", 0),
        completion_tokens=fields.get("completion_tokens", 0),
        cached_tokens=fields.get("prompt_tokens_details.cached_tokens", 0),
        reasoning_tokens=fields.get("completion_tokens_details.reasoning_tokens", 0),
    )

"""What a pass-through call used, read from the provider's native request and reply: the model from the
body (or a Gemini path), the usage from a JSON reply or from a stream's final events (OpenAI's usage
chunk, the Responses API's response.completed, Anthropic's message_start and message_delta, Gemini's
usageMetadata, Cohere's message-end, Bedrock's metadata event and invocation metrics, read through a
`ReplyFraming` when the stream is binary), Bedrock's token-count headers, else the cost the upstream states
in a header."""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote

from domain.completions import Usage
from domain.passthrough import Headers, header
from ports.passthrough import ReplyFraming

_GEMINI_MODEL = re.compile(r"/models/([^/:]+):")
_BEDROCK_MODEL = re.compile(r"^/model/([^/]+)/")
_MAX_JSON = 8 * 1024 * 1024
"""A JSON reply longer than this is relayed without reading its usage."""
STATED_COST_HEADER = "x-switchyard-response-cost"
_INVOCATION_METRICS = "amazon-bedrock-invocationMetrics"
_INVOCATION_METRICS_BYTES = _INVOCATION_METRICS.encode()
_BEDROCK_COUNT_HEADERS = (
    "x-amzn-bedrock-input-token-count",
    "x-amzn-bedrock-output-token-count",
    "x-amzn-bedrock-cache-read-input-token-count",
    "x-amzn-bedrock-cache-write-input-token-count",
)


def model_of(path: str, body: bytes) -> str | None:
    """The model a call names: its JSON body's `model`, else a `models/<m>:<method>` path's (Gemini,
    Vertex AI), else a `/model/<id>/<operation>` path's (Bedrock)."""
    if body[:1] == b"{" and b'"model"' in body:
        try:
            found = json.loads(body).get("model")
        except ValueError:
            found = None
        if isinstance(found, str) and found:
            return found
    match = _GEMINI_MODEL.search(path) or _BEDROCK_MODEL.match(path)
    return unquote(match.group(1)) if match else None


class UsageTap:
    """Fed the reply's bytes as they pass; `usage()` once they all passed (None when the reply stated
    none that this reads). A binary stream is read through its `framing`; one that breaks its framing is
    relayed on unread."""

    __slots__ = ("_buffer", "_fields", "_framing", "_stream")

    def __init__(self, content_type: str, framing: ReplyFraming | None = None) -> None:
        self._framing = framing
        self._stream = framing is not None or content_type.startswith("text/event-stream")
        self._buffer = bytearray()
        self._fields: dict[str, int] = {}

    def feed(self, chunk: bytes) -> None:
        if not self._stream:
            if len(self._buffer) + len(chunk) <= _MAX_JSON:
                self._buffer += chunk
            return
        if self._framing is not None:
            self._feed_framed(self._framing, chunk)
            return
        buffer = self._buffer
        buffer += chunk
        # Only whole lines are read; the rest waits for the next chunk.
        end = buffer.rfind(b"\n")
        if end < 0:
            return
        if buffer.find(b'"usage', 0, end) < 0:  # most reads state none (a stream's text deltas)
            del buffer[: end + 1]
            return
        lines = bytes(buffer[: end + 1])
        del buffer[: end + 1]
        if b"\r" in lines:  # CR or CRLF line ends: read line by line
            for line in lines.splitlines():
                if line.startswith(b"data:") and b'"usage' in line:  # also Gemini's "usageMetadata"
                    self._read(line[5:])
            return
        # Only the lines that name usage are looked at, found with searches in C: most lines of a
        # stream are text deltas, and splitting them all cost ~1 us an event.
        at = lines.find(b'"usage')
        while at >= 0:
            start = lines.rfind(b"\n", 0, at) + 1
            stop = lines.find(b"\n", at)
            if lines.startswith(b"data:", start):
                self._read(lines[start + 5 : stop])
            at = lines.find(b'"usage', stop)

    def usage(self) -> Usage | None:
        if not self._stream and self._buffer:
            self._read(bytes(self._buffer))
        return _usage(self._fields) if self._fields else None

    def _feed_framed(self, framing: ReplyFraming, chunk: bytes) -> None:
        try:
            documents = framing.events(chunk)
        except ValueError:
            self._framing, self._stream = None, False  # nothing more is read; what was read stands
            return
        for document in documents:
            if b'"usage' in document or _INVOCATION_METRICS_BYTES in document:
                self._read(document)

    def _read(self, text: bytes) -> None:
        try:
            parsed = json.loads(text)
        except ValueError:
            return
        # Gemini's streamGenerateContent without alt=sse answers one JSON array of its events.
        for event in parsed if isinstance(parsed, list) else (parsed,):
            used = _usage_in(event) if isinstance(event, dict) else None
            if used is not None:
                _merge(self._fields, used)


def header_usage(headers: Headers) -> Usage | None:
    """The counts Bedrock's InvokeModel states in its reply headers, whatever the model's body says."""
    counts = [header(headers, name).strip() for name in _BEDROCK_COUNT_HEADERS]
    if not all(text.isdigit() for text in counts[:2]):
        return None
    fresh, output, read, written = (int(text) if text.isdigit() else 0 for text in counts)
    return _cached_apart(fresh, read, written, output)


def stated_cost(headers: Headers) -> Decimal | None:
    """The cost an upstream states for its own reply, in USD."""
    text = header(headers, STATED_COST_HEADER).strip()
    try:
        cost = Decimal(text) if text else None
    except InvalidOperation:
        return None
    return cost if cost is not None and cost.is_finite() and cost >= 0 else None


def _usage_in(event: dict[str, Any]) -> dict[str, Any] | None:
    """Where each format puts its counts: in Anthropic's message_start `message`, the Responses API's
    `response` (its stream's response.completed), Cohere's message-end `delta`, else at the top
    (`usage`, Gemini's `usageMetadata`, Bedrock's invocation metrics in an invoked model's last event)."""
    for outer in ("message", "response", "delta"):
        inner = event.get(outer)
        if isinstance(inner, dict) and isinstance(inner.get("usage"), dict):
            return inner["usage"]
    used = event.get("usage", event.get("usageMetadata", event.get(_INVOCATION_METRICS)))
    return used if isinstance(used, dict) else None


def _merge(fields: dict[str, int], used: dict[str, Any]) -> None:
    # A later event states the final count of whatever it names (Anthropic's message_delta, Gemini's
    # running totals).
    for name, value in used.items():
        if isinstance(value, dict):
            for inner, count in value.items():
                if _is_count(count):
                    fields[f"{name}.{inner}"] = int(count)
        elif _is_count(value):
            fields[name] = int(value)


def _is_count(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _usage(fields: dict[str, int]) -> Usage:
    count = fields.get
    if "promptTokenCount" in fields or "candidatesTokenCount" in fields:  # Gemini's usageMetadata
        return Usage(
            prompt_tokens=count("promptTokenCount", 0) + count("toolUsePromptTokenCount", 0),
            completion_tokens=count("candidatesTokenCount", 0) + count("thoughtsTokenCount", 0),
            cached_tokens=count("cachedContentTokenCount", 0),
            reasoning_tokens=count("thoughtsTokenCount", 0),
        )
    if any(name.startswith(("billed_units.", "tokens.")) for name in fields):  # Cohere's v2 chat
        # What Cohere bills is what the spend must match; the raw counts include its prompt template.
        prompt = count("billed_units.input_tokens", count("tokens.input_tokens", 0))
        return Usage(
            prompt_tokens=prompt,
            completion_tokens=count("billed_units.output_tokens", count("tokens.output_tokens", 0)),
            cached_tokens=min(count("cached_tokens", 0), prompt),
        )
    if "inputTokens" in fields or "outputTokens" in fields:  # Bedrock's converse
        return _cached_apart(
            count("inputTokens", 0),
            count("cacheReadInputTokens", 0),
            count("cacheWriteInputTokens", 0),
            count("outputTokens", 0),
        )
    if "input_tokens_details.cached_tokens" in fields or "output_tokens_details.reasoning_tokens" in fields:
        return Usage(  # the Responses API's: its input_tokens already hold the cached ones
            prompt_tokens=count("input_tokens", 0),
            completion_tokens=count("output_tokens", 0),
            cached_tokens=count("input_tokens_details.cached_tokens", 0),
            reasoning_tokens=count("output_tokens_details.reasoning_tokens", 0),
        )
    if "input_tokens" in fields or "output_tokens" in fields:  # Anthropic's messages
        return _cached_apart(
            count("input_tokens", 0),
            count("cache_read_input_tokens", 0),
            count("cache_creation_input_tokens", 0),
            count("output_tokens", 0),
        )
    if "inputTokenCount" in fields or "outputTokenCount" in fields:  # Bedrock's invocation metrics
        return _cached_apart(
            count("inputTokenCount", 0),
            count("cacheReadInputTokenCount", 0),
            count("cacheWriteInputTokenCount", 0),
            count("outputTokenCount", 0),
        )
    return Usage(  # OpenAI's chat completions and embeddings
        prompt_tokens=count("prompt_tokens", 0),
        completion_tokens=count("completion_tokens", 0),
        cached_tokens=count("prompt_tokens_details.cached_tokens", 0),
        reasoning_tokens=count("completion_tokens_details.reasoning_tokens", 0),
    )


def _cached_apart(fresh: int, read: int, written: int, output: int) -> Usage:
    """A prompt counted apart from its cache reads and writes (Anthropic's, Bedrock's): the domain's
    prompt holds them all."""
    return Usage(
        prompt_tokens=fresh + read + written,
        completion_tokens=output,
        cached_tokens=read,
        cache_creation_tokens=written,
    )

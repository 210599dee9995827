"""Cache entries to bytes and back, exactly: a whole reply, or a vector as base64 of little-endian
float64s (exact, and about a third of the size of JSON numbers)."""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
import structlog

from domain.caching import CachedEntry, CachedReply, CachedVector
from domain.completions import Choice, CompletionResponse, FinishReason, Usage
from domain.errors import BadRequestError
from domain.messages import (
    Content,
    ContentPart,
    DocumentPart,
    ImageDetail,
    ImagePart,
    Message,
    Role,
    TextPart,
    ThinkingBlock,
    ToolCall,
)

VERSION = 1
"""Written as `"v"`. Data of any other version is unreadable, so a reader simply misses it (and the
entry is answered afresh and stored again) rather than misread it."""

_log = structlog.get_logger("switchyard.cache")
_USAGE_FIELDS = tuple(Usage.__dataclass_fields__)
_BIG_ENDIAN = sys.byteorder == "big"


class UnreadableEntry(ValueError):
    """Bytes that are not a cache entry of this version (corrupt, foreign, or written by another
    version); a cache treats them as a miss."""


class UnstorableEntry(ValueError):
    """An entry that cannot be written (a provider's `native` body or logprobs holding what JSON cannot)."""


def encode_entry(entry: CachedEntry) -> bytes:
    if isinstance(entry, CachedReply):
        row: dict[str, Any] = {"v": VERSION, "kind": "reply", "response": _response(entry.response)}
    elif isinstance(entry, CachedVector):
        row = {"v": VERSION, "kind": "vector", "vector": _vector(entry.vector)}
    else:
        raise UnstorableEntry(f"not a cache entry: {type(entry).__name__}")
    row["stored_at"] = entry.stored_at
    if entry.deployment_id is not None:
        row["deployment_id"] = entry.deployment_id
    try:
        return orjson.dumps(row, default=_plain)
    except TypeError as exc:  # orjson.JSONEncodeError is one
        raise UnstorableEntry(f"cache entry cannot be encoded: {exc}") from exc


def encode_or_skip(key: str, entry: CachedEntry) -> bytes | None:
    """The entry's bytes, or None (logged) when it cannot be written: a cache then keeps nothing under
    the key, as if the call had asked not to be stored, rather than fail it."""
    try:
        return encode_entry(entry)
    except UnstorableEntry as exc:
        _log.warning("cache entry not stored", key=key, error=str(exc))
        return None


def decode_entry(data: bytes) -> CachedEntry:
    """The entry `encode_entry` wrote; `UnreadableEntry` for anything else."""
    try:
        row = orjson.loads(data)
        if not isinstance(row, dict) or row.get("v") != VERSION:
            raise UnreadableEntry(f"not a version {VERSION} cache entry")
        stored_at = float(row["stored_at"])
        deployment_id = row.get("deployment_id")
        if row["kind"] == "reply":
            return CachedReply(_read_response(row["response"]), stored_at, deployment_id)
        if row["kind"] == "vector":
            return CachedVector(_read_vector(row["vector"]), stored_at, deployment_id)
        raise UnreadableEntry(f"unknown cache entry kind {row['kind']!r}")
    except UnreadableEntry:
        raise
    except (
        orjson.JSONDecodeError,
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
        InvalidOperation,
        BadRequestError,
    ) as exc:
        raise UnreadableEntry(f"not a cache entry: {exc!r}") from exc


def decode_or_miss(data: bytes | None) -> CachedEntry | None:
    """The entry stored bytes spell; None (a miss) for no bytes or bytes that are not an entry."""
    if data is None:
        return None
    try:
        return decode_entry(data)
    except UnreadableEntry:
        return None


# Writing: fields at their defaults are left out, and reading defaults them back.


def _response(response: CompletionResponse) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": response.id,
        "created": response.created,
        "model": response.model,
        "choices": [_choice(choice) for choice in response.choices],
    }
    if response.usage is not None:
        row["usage"] = [getattr(response.usage, name) for name in _USAGE_FIELDS]
    if response.cost is not None:
        row["cost"] = str(response.cost)
    _put(row, "system_fingerprint", response.system_fingerprint)
    _put(row, "service_tier", response.service_tier)
    _put(row, "native", response.native)
    return row


def _choice(choice: Choice) -> dict[str, Any]:
    row: dict[str, Any] = {"index": choice.index, "message": _message(choice.message)}
    _put(row, "finish_reason", choice.finish_reason and choice.finish_reason.value)
    _put(row, "logprobs", choice.logprobs)
    _put(row, "stop_sequence", choice.stop_sequence)
    return row


def _message(message: Message) -> dict[str, Any]:
    row: dict[str, Any] = {"role": message.role.value}
    content = message.content
    _put(row, "content", content if content is None or isinstance(content, str) else _parts(content))
    _put(row, "name", message.name)
    if message.tool_calls:
        row["tool_calls"] = [[call.id, call.name, call.arguments] for call in message.tool_calls]
    _put(row, "tool_call_id", message.tool_call_id)
    _put(row, "reasoning_content", message.reasoning_content)
    _put(row, "refusal", message.refusal)
    if message.thinking_blocks:
        row["thinking_blocks"] = [[b.text, b.signature, b.redacted] for b in message.thinking_blocks]
    if message.tool_error:
        row["tool_error"] = True
    return row


def _parts(parts: tuple[ContentPart, ...]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, TextPart):
            found.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            found.append({"type": "image", "url": part.url, "detail": part.detail and part.detail.value})
        elif isinstance(part, DocumentPart):
            found.append({"type": "document", "url": part.url, "title": part.title, "context": part.context})
        else:
            raise UnstorableEntry(f"unknown content part {type(part).__name__}")
    return found


def _vector(vector: tuple[float, ...]) -> str:
    floats = array("d", vector)
    if _BIG_ENDIAN:
        floats.byteswap()
    return base64.b64encode(floats.tobytes()).decode("ascii")


def _plain(value: Any) -> Any:
    """What orjson does not write itself: mappings other than dicts (a `native` body held read-only)."""
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _put(row: dict[str, Any], name: str, value: Any) -> None:
    if value is not None:
        row[name] = value


# Reading.


def _read_response(row: Mapping[str, Any]) -> CompletionResponse:
    usage = row.get("usage")
    cost = row.get("cost")
    return CompletionResponse(
        id=_text(row["id"]),
        created=int(row["created"]),
        model=_text(row["model"]),
        choices=tuple(_read_choice(choice) for choice in row["choices"]),
        usage=None if usage is None else Usage(*(int(n) for n in usage)),
        system_fingerprint=row.get("system_fingerprint"),
        service_tier=row.get("service_tier"),
        native=row.get("native"),
        cost=None if cost is None else Decimal(_text(cost)),
    )


def _read_choice(row: Mapping[str, Any]) -> Choice:
    finish = row.get("finish_reason")
    return Choice(
        index=int(row["index"]),
        message=_read_message(row["message"]),
        finish_reason=None if finish is None else FinishReason(finish),
        logprobs=row.get("logprobs"),
        stop_sequence=row.get("stop_sequence"),
    )


def _read_message(row: Mapping[str, Any]) -> Message:
    content = row.get("content")
    return Message(
        role=Role(row["role"]),
        content=content if content is None or isinstance(content, str) else _read_parts(content),
        name=row.get("name"),
        tool_calls=tuple(ToolCall(*map(_text, call)) for call in row.get("tool_calls", ())),
        tool_call_id=row.get("tool_call_id"),
        reasoning_content=row.get("reasoning_content"),
        refusal=row.get("refusal"),
        thinking_blocks=tuple(ThinkingBlock(*block) for block in row.get("thinking_blocks", ())),
        tool_error=bool(row.get("tool_error", False)),
    )


def _read_parts(rows: list[Mapping[str, Any]]) -> Content:
    parts: list[ContentPart] = []
    for row in rows:
        kind = row["type"]
        if kind == "text":
            parts.append(TextPart(_text(row["text"])))
        elif kind == "image":
            detail = row.get("detail")
            parts.append(ImagePart(_text(row["url"]), None if detail is None else ImageDetail(detail)))
        elif kind == "document":
            parts.append(DocumentPart(_text(row["url"]), row.get("title"), row.get("context")))
        else:
            raise UnreadableEntry(f"unknown content part type {kind!r}")
    return tuple(parts)


def _read_vector(text: str) -> tuple[float, ...]:
    floats = array("d")
    floats.frombytes(base64.b64decode(text, validate=True))
    if _BIG_ENDIAN:
        floats.byteswap()
    return tuple(floats)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, not {type(value).__name__}")
    return value

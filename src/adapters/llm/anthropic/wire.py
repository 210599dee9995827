"""Private pydantic models of what the Messages API answers (lenient: unknown fields and block types are
ignored, so a new block type or field never breaks a reply). Shapes from the official anthropic SDK's
`types/message.py`, `types/usage.py` and `types/shared/error_response.py`.

Stream events are read as plain dicts on the hot path (see replies.StreamTranslator); their shapes are the
SDK's `types/raw_*_event.py`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Lenient(BaseModel):
    # Validators built on the first reply parsed, not at import: a start loads every configured
    # provider's adapter, and building them cost it ~2 ms of CPU a provider.
    model_config = ConfigDict(extra="ignore", defer_build=True)


class OutputTokensDetails(_Lenient):
    thinking_tokens: int | None = None


class Usage(_Lenient):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    output_tokens_details: OutputTokensDetails | None = None


class ContentBlock(_Lenient):
    """Any block; which fields are set depends on `type` (text, thinking, redacted_thinking, tool_use,
    server_tool_use, ...)."""

    type: str
    text: str | None = None
    thinking: str | None = None
    signature: str | None = None
    data: str | None = None
    """A redacted_thinking block's opaque content."""
    id: str | None = None
    name: str | None = None
    input: Any = None


class Message(_Lenient):
    id: str
    type: str | None = None
    role: str | None = None
    model: str | None = None
    content: list[ContentBlock]
    stop_reason: str | None = None
    stop_sequence: str | None = None
    usage: Usage | None = None


class ErrorObject(_Lenient):
    type: str | None = None
    message: str | None = None


class ErrorResponse(_Lenient):
    type: str | None = None
    error: ErrorObject | None = None
    request_id: str | None = None

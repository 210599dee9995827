"""Cohere's v2 reply shapes, as the official SDK types them (cohere-python `types/`, `v2/types/`):
lenient, so that fields Cohere adds later pass unseen."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)


class ToolCallFunction(_Lenient):
    name: str | None = None
    arguments: str | None = None


class ToolCall(_Lenient):
    id: str | None = None
    function: ToolCallFunction | None = None


class ContentItem(_Lenient):
    """A text or thinking item of a reply (whole, or the piece a content event carries)."""

    type: str | None = None
    text: str | None = None
    thinking: str | None = None


class AssistantMessage(_Lenient):
    role: str | None = None
    content: list[ContentItem] | None = None
    tool_plan: str | None = None
    tool_calls: list[ToolCall] | None = None


class Tokens(_Lenient):
    input_tokens: float | None = None
    output_tokens: float | None = None


class Usage(_Lenient):
    billed_units: Tokens | None = None
    tokens: Tokens | None = None
    cached_tokens: float | None = None


class ChatResponse(_Lenient):
    id: str | None = None
    finish_reason: str | None = None
    message: AssistantMessage
    usage: Usage | None = None
    meta: Usage | None = None
    """Where early v2 replies put the counts."""


class DeltaMessage(_Lenient):
    """`delta.message` of a stream event: content and tool_calls are one object on content and tool-call
    events, lists on message-start."""

    role: str | None = None
    content: ContentItem | list[Any] | None = None
    tool_plan: str | None = None
    tool_calls: ToolCall | list[Any] | None = None


class StreamDelta(_Lenient):
    message: DeltaMessage | None = None
    finish_reason: str | None = None
    usage: Usage | None = None
    error: str | None = None


class StreamEvent(_Lenient):
    type: str
    id: str | None = None
    index: int | None = None
    delta: StreamDelta | None = None


class FloatEmbeddings(_Lenient):
    float_: list[list[float]] | None = Field(default=None, alias="float")


class EmbedMeta(_Lenient):
    billed_units: Tokens | None = None
    tokens: Tokens | None = None


class EmbedResponse(_Lenient):
    id: str | None = None
    embeddings: FloatEmbeddings
    meta: EmbedMeta | None = None

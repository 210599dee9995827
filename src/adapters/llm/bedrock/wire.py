"""Private pydantic models of what Bedrock answers: the Converse reply, the ConverseStream events, error
bodies and the embedding models' InvokeModel replies. Lenient: unknown fields (the stream's `p` padding,
metrics, traces) are ignored and most fields may be missing. Field names are the wire's camelCase."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Lenient(BaseModel):
    # Validators built on the first reply parsed, not at import: a start loads every configured
    # provider's adapter, and building them cost it ~2 ms of CPU a provider.
    model_config = ConfigDict(extra="ignore", defer_build=True)


class TokenUsage(_Lenient):
    inputTokens: int | None = None
    outputTokens: int | None = None
    totalTokens: int | None = None
    cacheReadInputTokens: int | None = None
    cacheWriteInputTokens: int | None = None


class ToolUse(_Lenient):
    toolUseId: str | None = None
    name: str | None = None
    input: Any = None


class ReasoningText(_Lenient):
    text: str | None = None
    signature: str | None = None


class ReasoningContent(_Lenient):
    reasoningText: ReasoningText | None = None
    redactedContent: str | None = None
    """Claude's encrypted reasoning, base64 as the JSON protocol carries blobs."""


class ContentBlock(_Lenient):
    text: str | None = None
    toolUse: ToolUse | None = None
    reasoningContent: ReasoningContent | None = None


class OutputMessage(_Lenient):
    role: str | None = None
    content: list[ContentBlock] = []


class Output(_Lenient):
    message: OutputMessage | None = None


class ConverseResponse(_Lenient):
    output: Output
    stopReason: str | None = None
    usage: TokenUsage | None = None
    additionalModelResponseFields: dict[str, Any] | None = None
    """The model's own fields the request asked for (`additionalModelResponseFieldPaths`)."""


# ConverseStream: one model per `:event-type`; contentBlockDelta, most of a stream, is read by hand
# from orjson's dicts (replies.StreamReader), with the same leniency.


class MessageStart(_Lenient):
    role: str | None = None


class ToolUseStart(_Lenient):
    toolUseId: str | None = None
    name: str | None = None


class BlockStart(_Lenient):
    toolUse: ToolUseStart | None = None


class ContentBlockStart(_Lenient):
    contentBlockIndex: int = 0
    start: BlockStart | None = None


class ContentBlockStop(_Lenient):
    contentBlockIndex: int = 0


class MessageStop(_Lenient):
    stopReason: str | None = None
    additionalModelResponseFields: dict[str, Any] | None = None


class Metadata(_Lenient):
    usage: TokenUsage | None = None


# Errors: `{"message": ...}` (some services capitalise it); model errors say what the model answered.


class ErrorBody(_Lenient):
    message: str | None = None
    Message: str | None = None
    originalStatusCode: int | None = None
    originalMessage: str | None = None


# InvokeModel replies of the embedding models.


class TitanEmbedding(_Lenient):
    embedding: list[float]
    inputTextTokenCount: int | None = None


class CohereEmbeddings(_Lenient):
    embeddings: list[list[float]] | dict[str, list[list[float]]]
    """`embeddings_floats`: a list of vectors; `embeddings_by_type`: vectors by type (`float`, ...)."""
    response_type: str | None = None

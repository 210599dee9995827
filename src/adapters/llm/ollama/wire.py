"""Ollama's native reply shapes (ollama/ollama `api/types.go`: ChatResponse, Message, ToolCall, Metrics,
EmbedResponse): lenient, so that fields Ollama adds later pass unseen."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)


class ToolCallFunction(_Lenient):
    index: int | None = None
    name: str | None = None
    arguments: dict[str, Any] | str | None = None


class ToolCall(_Lenient):
    id: str | None = None
    function: ToolCallFunction | None = None


class Message(_Lenient):
    role: str | None = None
    content: str | None = None
    thinking: str | None = None
    tool_calls: list[ToolCall] | None = None


class ChatResponse(_Lenient):
    """A whole reply, or one line of a stream (the last with `done: true` and the counts)."""

    model: str | None = None
    created_at: str | None = None
    message: Message | None = None
    done: bool = False
    done_reason: str | None = None
    prompt_eval_count: int | None = None
    eval_count: int | None = None


class EmbedResponse(_Lenient):
    model: str | None = None
    embeddings: list[list[float]]
    prompt_eval_count: int | None = None

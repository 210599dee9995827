"""Chat completion requests, replies and stream chunks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from domain.errors import BadRequestError
from domain.frozen import frozen
from domain.messages import FunctionTool, Message, ResponseFormat, Role, ThinkingBlock, ToolCall, ToolChoice


class ReasoningEffort(StrEnum):
    NONE = "none"
    MINIMAL = "minimal"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    XHIGH = "xhigh"


@frozen
class SamplingParams:
    """Generation controls; None means "not sent", so the upstream default applies."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stop: tuple[str, ...] | None = None
    n: int | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: Mapping[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    user: str | None = None
    parallel_tool_calls: bool | None = None
    reasoning_effort: ReasoningEffort | None = None
    top_k: int | None = None
    thinking_budget: int | None = None
    """Tokens the model may spend reasoning before it answers (Anthropic's `thinking.budget_tokens`)."""

    def __post_init__(self) -> None:
        if self.temperature is not None and not 0 <= self.temperature <= 2:
            raise BadRequestError("temperature must be between 0 and 2", param="temperature")
        if self.top_p is not None and not 0 <= self.top_p <= 1:
            raise BadRequestError("top_p must be between 0 and 1", param="top_p")
        for name in ("max_tokens", "max_completion_tokens", "n", "top_k"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise BadRequestError(f"{name} must be at least 1", param=name)
        for name in ("presence_penalty", "frequency_penalty"):
            value = getattr(self, name)
            if value is not None and not -2 <= value <= 2:
                raise BadRequestError(f"{name} must be between -2 and 2", param=name)

    @property
    def output_limit(self) -> int | None:
        """The cap on generated tokens, whichever of the two names the caller used."""
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens


@frozen
class NativeRequest:
    """The request as the client sent it in a provider's own wire format (`format`: "anthropic"), kept so
    that a deployment speaking that format gets it exactly as sent, fields we do not model included,
    instead of a translation of the parsed request."""

    format: str
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)
    """The format's own request headers the client sent (`anthropic-beta`, `anthropic-version`)."""
    untranslated: tuple[str, ...] = ()
    """Paths of what only a deployment of this format can serve (server tools, say: `tools.3`); any
    other deployment refuses them by these names (or drops them under drop_params)."""
    left_out: tuple[str, ...] = ()
    """Names of what only a deployment of this format can serve and any other simply goes without
    (the Responses API's hosted tools, `tools.web_search`): the translated request never holds them, and
    they are reported as dropped, never refused."""


@frozen
class CompletionRequest:
    model: str
    messages: tuple[Message, ...]
    params: SamplingParams = SamplingParams()
    tools: tuple[FunctionTool, ...] = ()
    tool_choice: ToolChoice | None = None
    response_format: ResponseFormat | None = None
    stream: bool = False
    include_usage: bool = False
    mock_response: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    controls: Mapping[str, Any] = field(default_factory=dict)
    """Gateway controls the caller sent (cache, fallbacks, num_retries, ...); never sent upstream."""
    extra_body: Mapping[str, Any] = field(default_factory=dict)
    """Provider-specific fields the caller sent that we do not model; passed through as they are."""
    native: NativeRequest | None = None
    """The request in its original wire format, for a deployment that speaks it (see NativeRequest)."""

    def __post_init__(self) -> None:
        if not self.model:
            raise BadRequestError("model is required", param="model")
        if not self.messages:
            raise BadRequestError("messages must hold at least one message", param="messages")


class FinishReason(StrEnum):
    STOP = "stop"
    LENGTH = "length"
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"
    FUNCTION_CALL = "function_call"


@frozen
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    """Prompt tokens read from the provider's prompt cache (a part of prompt_tokens)."""
    cache_creation_tokens: int = 0
    """Prompt tokens written to the provider's prompt cache (a part of prompt_tokens)."""
    reasoning_tokens: int = 0
    """Hidden reasoning tokens (a part of completion_tokens)."""
    queries: int = 0
    """Search units a rerank was billed (priced per query, apart from tokens)."""
    audio_seconds: float = 0.0
    """Seconds of audio a transcription was billed (priced per second)."""
    characters: int = 0
    """Characters of text a speech call was billed (priced per character)."""
    images: int = 0
    """Images an image generation made (priced per image, apart from tokens)."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cached_tokens + other.cached_tokens,
            self.cache_creation_tokens + other.cache_creation_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            self.queries + other.queries,
            self.audio_seconds + other.audio_seconds,
            self.characters + other.characters,
            self.images + other.images,
        )


@frozen
class Choice:
    index: int
    message: Message
    finish_reason: FinishReason | None
    logprobs: Mapping[str, Any] | None = None
    stop_sequence: str | None = None
    """Which of the request's stop sequences ended the reply, when the provider says."""


@frozen
class CompletionResponse:
    id: str
    created: int
    model: str
    choices: tuple[Choice, ...]
    usage: Usage | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None
    native: Mapping[str, Any] | None = None
    """The upstream's reply body exactly as received, when the request was native to its format."""
    cost: Decimal | None = None
    """What the call cost in USD, set by the gateway (None: the model has no known price)."""


@frozen
class ToolCallDelta:
    """A piece of a streamed tool call: id and name come on its first delta, argument fragments after."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str | None = None


@frozen
class Delta:
    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None
    refusal: str | None = None
    tool_calls: tuple[ToolCallDelta, ...] = ()
    thinking_signature: str | None = None
    """The signature closing the current thinking block (it arrives after the block's text)."""
    redacted_thinking: str | None = None
    """A whole redacted thinking block's opaque data."""


@frozen
class ChunkChoice:
    index: int
    delta: Delta
    finish_reason: FinishReason | None = None
    logprobs: Mapping[str, Any] | None = None
    stop_sequence: str | None = None


@frozen
class CompletionChunk:
    id: str
    created: int
    model: str
    choices: tuple[ChunkChoice, ...] = ()
    usage: Usage | None = None
    """Set on the final chunk only, when the caller asked for stream usage."""
    system_fingerprint: str | None = None
    service_tier: str | None = None
    native: bytes | None = None
    """When the request was native to the upstream's format: the upstream's stream bytes (whole SSE
    events) read since the previous chunk, exactly as received. A chunk with no choices may carry only
    this (events such as `ping` that mean nothing in the domain)."""


def assemble(chunks: list[CompletionChunk]) -> CompletionResponse:
    """Folds a whole stream into the reply it spells: tool-call argument fragments joined in order, and
    reasoning into thinking blocks (a signature closes the open block; a redacted block stands alone)."""
    if not chunks:
        raise ValueError("cannot assemble an empty stream")
    folds: dict[int, _Fold] = {}
    usage: Usage | None = None
    for chunk in chunks:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            fold = folds.get(choice.index)
            if fold is None:
                fold = folds[choice.index] = _Fold()
            fold.add(choice)
    first = chunks[0]
    choices = tuple(folds[index].choice(index) for index in sorted(folds))
    return CompletionResponse(
        id=first.id, created=first.created, model=first.model, choices=choices, usage=usage
    )


class _Fold:
    """One choice of a stream, as it accumulates."""

    __slots__ = ("calls", "finish", "open_thinking", "reasoning", "stop_sequence", "texts", "thinking")

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.reasoning: list[str] = []
        self.thinking: list[ThinkingBlock] = []
        self.open_thinking: list[str] | None = None
        self.calls: dict[int, list[str]] = {}
        self.finish: FinishReason | None = None
        self.stop_sequence: str | None = None

    def add(self, choice: ChunkChoice) -> None:
        delta = choice.delta
        if delta.content:
            self.texts.append(delta.content)
        if delta.reasoning_content:
            self.reasoning.append(delta.reasoning_content)
            if self.open_thinking is None:
                self.open_thinking = []
            self.open_thinking.append(delta.reasoning_content)
        if delta.thinking_signature is not None:
            self.thinking.append(ThinkingBlock("".join(self.open_thinking or ()), delta.thinking_signature))
            self.open_thinking = None
        if delta.redacted_thinking is not None:
            self.thinking.append(ThinkingBlock(redacted=delta.redacted_thinking))
        for call in delta.tool_calls:
            parts = self.calls.setdefault(call.index, ["", ""])
            parts[0] = call.id or parts[0]
            parts[1] = call.name or parts[1]
            parts.append(call.arguments or "")
        if choice.finish_reason is not None:
            self.finish = choice.finish_reason
            self.stop_sequence = choice.stop_sequence
        elif choice.stop_sequence is not None:
            self.stop_sequence = choice.stop_sequence

    def choice(self, index: int) -> Choice:
        tool_calls = tuple(
            ToolCall(id=parts[0], name=parts[1], arguments="".join(parts[2:]))
            for _, parts in sorted(self.calls.items())
        )
        # Reasoning no signature closed (a provider that signs nothing) is a block of its own still.
        thinking = tuple(self.thinking)
        if self.open_thinking is not None and self.thinking:
            thinking += (ThinkingBlock("".join(self.open_thinking)),)
        message = Message(
            role=Role.ASSISTANT,
            content="".join(self.texts) or None,
            tool_calls=tool_calls,
            reasoning_content="".join(self.reasoning) if self.reasoning else None,
            thinking_blocks=thinking,
        )
        return Choice(
            index=index, message=message, finish_reason=self.finish, stop_sequence=self.stop_sequence
        )

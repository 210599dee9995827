"""What an OpenAI-format upstream answered, read into domain replies: tolerant of extra fields, nulls
and the small liberties OpenAI-compatible hosts take, strict about a body that is not a reply at all."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import msgspec
from pydantic import ValidationError

from adapters.openai_format import chunk_wire, wire
from adapters.openai_format.plain_reply import read_plain_response
from adapters.openai_format.validation import param_name
from adapters.openai_format.vectors import decode_vector
from domain.completions import (
    Choice,
    ChunkChoice,
    CompletionChunk,
    CompletionResponse,
    Delta,
    FinishReason,
    ToolCallDelta,
    Usage,
)
from domain.embeddings import Embedding, EmbeddingResponse
from domain.errors import BadGatewayError
from domain.messages import Message, Role, ThinkingBlock, ToolCall

# OpenAI's five reasons, and what some compatible hosts say instead. Any other reason reads as `stop`:
# the generation ended, and clients only know these five.
_FINISH = {reason.value: reason for reason in FinishReason} | {
    "eos": FinishReason.STOP,
    "end_turn": FinishReason.STOP,
    "max_tokens": FinishReason.LENGTH,
    "tool_use": FinishReason.TOOL_CALLS,
}
_EMPTY_DELTA = Delta()


def read_response(body: object) -> CompletionResponse:
    """A decoded `chat.completion` body; BadGatewayError when it is not one."""
    plain = read_plain_response(body, _FINISH)
    if plain is not None:
        return plain
    try:
        reply = wire.Completion.model_validate(body)
    except ValidationError as exc:
        raise _malformed("chat.completion", exc) from exc
    return CompletionResponse(
        id=reply.id or "",
        created=reply.created or 0,
        model=reply.model or "",
        choices=tuple(_choice(choice, position) for position, choice in enumerate(reply.choices)),
        usage=_usage(reply.usage),
        system_fingerprint=reply.system_fingerprint,
        service_tier=reply.service_tier,
    )


def read_chunk(body: object) -> CompletionChunk:
    """A decoded `chat.completion.chunk`; BadGatewayError when it is not one."""
    try:
        reply = msgspec.convert(body, chunk_wire.Chunk, strict=False)
    except msgspec.ValidationError as exc:
        raise _malformed_chunk(exc) from exc
    return _chunk(reply)


def read_chunk_event(data: bytes) -> CompletionChunk | None:
    """The `chat.completion.chunk` an SSE event's data spells, decoded from its bytes in one pass; None
    when the upstream sent an error in its place (read it from the data); BadGatewayError when the data
    is not JSON or not a chunk."""
    try:
        reply = chunk_wire.DECODER.decode(data)
    except msgspec.ValidationError as exc:
        raise _malformed_chunk(exc) from exc
    except msgspec.DecodeError as exc:
        shown = data[:200].decode("utf-8", "replace")
        raise BadGatewayError(f"The upstream sent a body that is not JSON: {shown!r}") from exc
    return None if reply.error else _chunk(reply)


def _chunk(reply: chunk_wire.Chunk) -> CompletionChunk:
    # Positional arguments, no generator, one choice read without a loop: a chunk is read ~20 times a
    # call, and each of these shaved a few percent off it.
    choices = reply.choices
    if not choices:
        read: tuple[ChunkChoice, ...] = ()
    elif len(choices) == 1:
        read = (_chunk_choice(choices[0], 0),)
    else:
        read = tuple([_chunk_choice(choice, position) for position, choice in enumerate(choices)])
    return CompletionChunk(
        reply.id or "",
        reply.created or 0,
        reply.model or "",
        read,
        None if reply.usage is None else _usage(reply.usage),
        reply.system_fingerprint,
        reply.service_tier,
    )


def read_embeddings(body: object) -> EmbeddingResponse:
    """A decoded embeddings list, vectors as floats or base64; BadGatewayError when it is not one."""
    try:
        reply = wire.Embeddings.model_validate(body)
        data = tuple(
            Embedding(
                index=position if item.index is None else item.index,
                vector=decode_vector(item.embedding) if isinstance(item.embedding, str) else item.embedding,
            )
            for position, item in enumerate(reply.data)
        )
    except ValidationError as exc:
        raise _malformed("embeddings list", exc) from exc
    except ValueError as exc:
        raise BadGatewayError(f"The upstream sent an embedding that is not base64 float32: {exc}") from exc
    return EmbeddingResponse(model=reply.model or "", data=data, usage=_usage(reply.usage) or Usage())


def _malformed_chunk(exc: msgspec.ValidationError) -> BadGatewayError:
    # msgspec says "Expected `int | null`, got `str` - at `$.choices[0].index`": named as _malformed does.
    message, _, where = str(exc).partition(" - at `$")
    where = where.rstrip("`").replace("[", ".").replace("]", "").lstrip(".")
    detail = f" ({where}: {message})" if where else f" ({message})"
    return BadGatewayError(f"The upstream sent a malformed chat.completion.chunk{detail}.")


def _malformed(what: str, exc: ValidationError) -> BadGatewayError:
    error = exc.errors(include_url=False, include_input=False)[0]
    where = param_name(error["loc"])
    detail = f" ({where}: {error['msg']})" if where else ""
    return BadGatewayError(f"The upstream sent a malformed {what}{detail}.")


def _choice(choice: wire.ReplyChoice, position: int) -> Choice:
    message = choice.message or wire.ReplyMessage()
    return Choice(
        index=position if choice.index is None else choice.index,
        message=Message(
            role=Role.ASSISTANT,
            content=_text(message.content),
            tool_calls=_tool_calls(message),
            reasoning_content=message.reasoning_content or message.reasoning,
            refusal=message.refusal,
            thinking_blocks=_thinking_blocks(message.thinking_blocks),
        ),
        finish_reason=_finish(choice.finish_reason),
        logprobs=choice.logprobs,
        stop_sequence=choice.stop_reason if isinstance(choice.stop_reason, str) else None,
    )


def _thinking_blocks(blocks: Sequence[dict[str, Any]] | None) -> tuple[ThinkingBlock, ...]:
    found = []
    for block in blocks or ():
        if block.get("type") == "redacted_thinking" and isinstance(block.get("data"), str):
            found.append(ThinkingBlock(redacted=block["data"]))
        elif isinstance(block.get("thinking"), str):
            signature = block.get("signature")
            found.append(ThinkingBlock(block["thinking"], signature if isinstance(signature, str) else None))
    return tuple(found)


def _chunk_choice(choice: chunk_wire.Choice, position: int) -> ChunkChoice:
    delta = choice.delta
    if delta is None or delta == chunk_wire.EMPTY_DELTA:
        read = _EMPTY_DELTA  # the finish chunk's; domain objects are immutable, one serves them all
    else:
        calls = delta.tool_calls
        content = delta.content
        read = Delta(
            delta.role,
            content if content is None or content.__class__ is str else _text(content),
            delta.reasoning_content or delta.reasoning,
            delta.refusal,
            _tool_call_deltas(calls) if calls else (),
        )
    reason = choice.finish_reason
    stop = choice.stop_reason
    return ChunkChoice(
        position if choice.index is None else choice.index,
        read,
        None if reason is None else _FINISH.get(reason, FinishReason.STOP),
        choice.logprobs,
        stop if isinstance(stop, str) else None,
    )


def _tool_call_deltas(calls: list[chunk_wire.ToolCall]) -> tuple[ToolCallDelta, ...]:
    return tuple(
        ToolCallDelta(
            position if call.index is None else call.index,
            call.id,
            call.function.name if call.function else None,
            _arguments(call.function.arguments) if call.function else None,
        )
        for position, call in enumerate(calls)
    )


def _text(content: str | Sequence[dict[str, Any]] | None) -> str | None:
    if content is None or isinstance(content, str):
        return content
    # Some hosts answer with content parts; the reply's text is what their text parts spell.
    return "".join(text for part in content if isinstance(text := part.get("text"), str))


def _tool_calls(message: wire.ReplyMessage) -> tuple[ToolCall, ...]:
    calls = tuple(
        ToolCall(
            id=call.id or f"call_{position}",
            name=(call.function.name if call.function else None) or "",
            arguments=(_arguments(call.function.arguments) if call.function else None) or "",
        )
        for position, call in enumerate(message.tool_calls or ())
    )
    legacy = message.function_call
    if legacy is not None and legacy.name:
        arguments = _arguments(legacy.arguments) or ""
        calls += (ToolCall(id=f"call_{legacy.name}", name=legacy.name, arguments=arguments),)
    return calls


def _arguments(arguments: str | dict[str, Any] | None) -> str | None:
    # A few hosts send the arguments as an object rather than the JSON text of one.
    return json.dumps(arguments) if isinstance(arguments, dict) else arguments


def _finish(reason: str | None) -> FinishReason | None:
    return None if reason is None else _FINISH.get(reason, FinishReason.STOP)


def _usage(usage: wire.ReplyUsage | chunk_wire.Usage | None) -> Usage | None:
    if usage is None:
        return None
    prompt = usage.prompt_tokens_details
    completion = usage.completion_tokens_details
    return Usage(
        prompt_tokens=usage.prompt_tokens or 0,
        completion_tokens=usage.completion_tokens or 0,
        cached_tokens=(prompt.cached_tokens or 0) if prompt else 0,
        cache_creation_tokens=(prompt.cache_write_tokens or 0) if prompt else 0,
        reasoning_tokens=(completion.reasoning_tokens or 0) if completion else 0,
    )

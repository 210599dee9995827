"""Domain replies and errors rendered as the OpenAI JSON a client expects."""

from __future__ import annotations

from typing import Any

import orjson

from adapters.openai_format.vectors import encode_vector
from domain.completions import Choice, ChunkChoice, CompletionChunk, CompletionResponse, Usage
from domain.embeddings import EmbeddingResponse, EncodingFormat
from domain.errors import SwitchyardError


def render_response(response: CompletionResponse) -> dict[str, Any]:
    """A `chat.completion` object."""
    out: dict[str, Any] = {
        "id": response.id,
        "object": "chat.completion",
        "created": response.created,
        "model": response.model,
        "choices": [_choice(choice) for choice in response.choices],
        "system_fingerprint": response.system_fingerprint,
    }
    if response.usage is not None:
        out["usage"] = _usage(response.usage)
    if response.service_tier is not None:
        out["service_tier"] = response.service_tier
    return out


def render_chunk(chunk: CompletionChunk) -> dict[str, Any]:
    """A `chat.completion.chunk` object; `usage` only on the chunk that carries it."""
    out: dict[str, Any] = {
        "id": chunk.id,
        "object": "chat.completion.chunk",
        "created": chunk.created,
        "model": chunk.model,
        "choices": [_chunk_choice(choice) for choice in chunk.choices],
    }
    if chunk.system_fingerprint is not None:
        out["system_fingerprint"] = chunk.system_fingerprint
    if chunk.service_tier is not None:
        out["service_tier"] = chunk.service_tier
    if chunk.usage is not None:
        out["usage"] = _usage(chunk.usage)
    return out


class ChunkWriter:
    """One stream's chunks as the JSON of `render_chunk`, byte for byte as orjson writes it. A chunk of
    one choice whose delta is only text (all of a reply's chunks but its first and last few) is written
    around its text, from a head and tail kept while the stream's id, model and choice stay the same:
    building the object and having orjson walk it cost a chunk ~1.2 us more (bench `stream`: 20 of its
    22 chunks). Any other chunk goes through `render_chunk`."""

    __slots__ = ("_head", "_key", "_tail")

    def __init__(self) -> None:
        self._key: tuple[object, ...] | None = None
        self._head = self._tail = b""

    def __call__(self, chunk: CompletionChunk) -> bytes:
        choices = chunk.choices
        if len(choices) == 1 and chunk.usage is None:
            choice = choices[0]
            delta = choice.delta
            text = delta.content
            if (
                text is not None
                and choice.finish_reason is None
                and choice.logprobs is None
                and delta.role is None
                and delta.reasoning_content is None
                and delta.refusal is None
                and not delta.tool_calls
            ):
                key = (chunk.id, chunk.created, chunk.model, choice.index, chunk.system_fingerprint,
                       chunk.service_tier)  # fmt: skip
                if key != self._key:
                    self._key = key
                    self._head, self._tail = _text_frame(chunk, choice.index)
                return self._head + orjson.dumps(text) + self._tail
        return orjson.dumps(render_chunk(chunk))


def _text_frame(chunk: CompletionChunk, index: int) -> tuple[bytes, bytes]:
    """What `render_chunk` writes before and after the text of a chunk whose one choice carries only
    text, in the order it writes the fields."""
    head = orjson.dumps({"id": chunk.id, "object": "chat.completion.chunk", "created": chunk.created,
                         "model": chunk.model})  # fmt: skip
    head = head[:-1] + b',"choices":[{"index":' + orjson.dumps(index) + b',"delta":{"content":'
    tail = b'},"logprobs":null,"finish_reason":null}]'
    if chunk.system_fingerprint is not None:
        tail += b',"system_fingerprint":' + orjson.dumps(chunk.system_fingerprint)
    if chunk.service_tier is not None:
        tail += b',"service_tier":' + orjson.dumps(chunk.service_tier)
    return head, tail + b"}"


def render_embeddings(response: EmbeddingResponse, encoding_format: EncodingFormat) -> dict[str, Any]:
    """An embeddings `list` object, each vector a float list or base64 of little-endian float32."""
    as_base64 = encoding_format is EncodingFormat.BASE64
    return {
        "object": "list",
        "data": [
            {
                "object": "embedding",
                "index": item.index,
                "embedding": encode_vector(item.vector) if as_base64 else _floats(item.vector),
            }
            for item in response.data
        ],
        "model": response.model,
        "usage": {"prompt_tokens": response.usage.prompt_tokens, "total_tokens": response.usage.total_tokens},
    }


def render_error(error: SwitchyardError) -> dict[str, Any]:
    """OpenAI's error envelope; `code` is a string or null."""
    return {
        "error": {
            "message": error.message,
            "type": error.error_type,
            "param": error.param,
            "code": None if error.code is None else str(error.code),
        }
    }


def _choice(choice: Choice) -> dict[str, Any]:
    message = choice.message
    content = message.content
    out: dict[str, Any] = {
        "role": message.role.value,
        "content": content if content is None or isinstance(content, str) else message.text,
        "refusal": message.refusal,
    }
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in message.tool_calls
        ]
    if message.reasoning_content is not None:
        out["reasoning_content"] = message.reasoning_content
    return {
        "index": choice.index,
        "message": out,
        "logprobs": choice.logprobs,
        "finish_reason": None if choice.finish_reason is None else choice.finish_reason.value,
    }


def _chunk_choice(choice: ChunkChoice) -> dict[str, Any]:
    delta = choice.delta
    out: dict[str, Any] = {}
    if delta.role is not None:
        out["role"] = delta.role
    if delta.content is not None:
        out["content"] = delta.content
    if delta.reasoning_content is not None:
        out["reasoning_content"] = delta.reasoning_content
    if delta.refusal is not None:
        out["refusal"] = delta.refusal
    if delta.tool_calls:
        calls = []
        for call in delta.tool_calls:
            rendered: dict[str, Any] = {"index": call.index}
            if call.id is not None:
                rendered["id"] = call.id
                rendered["type"] = "function"
            function = {}
            if call.name is not None:
                function["name"] = call.name
            if call.arguments is not None:
                function["arguments"] = call.arguments
            rendered["function"] = function
            calls.append(rendered)
        out["tool_calls"] = calls
    return {
        "index": choice.index,
        "delta": out,
        "logprobs": choice.logprobs,
        "finish_reason": None if choice.finish_reason is None else choice.finish_reason.value,
    }


def _usage(usage: Usage) -> dict[str, Any]:
    prompt_details: dict[str, int] = {"cached_tokens": usage.cached_tokens}
    if usage.cache_creation_tokens:
        prompt_details["cache_write_tokens"] = usage.cache_creation_tokens
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def _floats(vector: Any) -> list[float]:
    if isinstance(vector, list):
        return vector
    return vector.tolist() if hasattr(vector, "tolist") else list(vector)

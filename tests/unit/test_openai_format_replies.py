"""The OpenAI wire codec, reply side: what upstreams answer read into domain replies, and domain replies
and errors rendered for clients. Round trips hold: render(read(x)) says what x said."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path
from typing import Any

import pytest

from adapters.openai_format import (
    chunk_wire,
    read_chunk,
    read_embeddings,
    read_response,
    render_chunk,
    render_embeddings,
    render_error,
    render_response,
    wire,
)
from adapters.openai_format.replies import read_chunk_event
from domain import errors
from domain.completions import FinishReason, Usage
from domain.embeddings import Embedding, EmbeddingResponse, EncodingFormat

FIXTURES = Path(__file__).parents[1] / "contract" / "fixtures" / "openai"
# Fields the gateway does not model: each is empty or zero in the fixtures, or carries no meaning.
UNMODELLED = {
    "annotations",
    "audio_tokens",
    "accepted_prediction_tokens",
    "rejected_prediction_tokens",
    "obfuscation",
}


def _meaning(value: Any) -> Any:
    """A reply with what carries no meaning taken out: nulls, unmodelled fields."""
    if isinstance(value, dict):
        return {k: _meaning(v) for k, v in value.items() if v is not None and k not in UNMODELLED}
    if isinstance(value, list):
        return [_meaning(v) for v in value]
    return value


def _events(name: str) -> list[Any]:
    text = (FIXTURES / name).read_text()
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]


@pytest.mark.parametrize("name", ["chat_completion.json", "chat_completion_tool_calls.json"])
def test_a_completion_read_and_rendered_says_what_the_upstream_said(name: str) -> None:
    upstream = json.loads((FIXTURES / name).read_text())

    assert _meaning(render_response(read_response(upstream))) == _meaning(upstream)


@pytest.mark.parametrize("name", ["chat_stream.sse", "chat_stream_tool_calls.sse"])
def test_every_chunk_read_and_rendered_says_what_the_upstream_said(name: str) -> None:
    for upstream in _events(name):
        assert _meaning(render_chunk(read_chunk(upstream))) == _meaning(upstream)


def test_a_completion_reads_into_the_domain_reply() -> None:
    response = read_response(json.loads((FIXTURES / "chat_completion_tool_calls.json").read_text()))

    (choice,) = response.choices
    (call,) = choice.message.tool_calls
    assert (call.id, call.name) == ("call_abc123", "get_current_weather")
    assert json.loads(call.arguments) == {"location": "Boston, MA"}
    assert choice.message.content is None
    assert choice.finish_reason is FinishReason.TOOL_CALLS
    assert response.usage == Usage(prompt_tokens=82, completion_tokens=17)
    assert response.system_fingerprint == "fp_44709d6fcb"


def test_usage_details_travel_both_ways() -> None:
    usage = {
        "prompt_tokens": 2006,
        "completion_tokens": 300,
        "total_tokens": 2306,
        "prompt_tokens_details": {"cached_tokens": 1920, "cache_write_tokens": 64},
        "completion_tokens_details": {"reasoning_tokens": 192},
    }
    body = {"id": "c", "created": 1, "model": "o3", "choices": [], "usage": usage}

    response = read_response(body)

    assert response.usage == Usage(
        2006, 300, cached_tokens=1920, cache_creation_tokens=64, reasoning_tokens=192
    )
    assert render_response(response)["usage"] == usage


def test_logprobs_reasoning_and_refusal_are_kept() -> None:
    logprobs = {"content": [{"token": "Hi", "logprob": -0.1, "bytes": [72, 105], "top_logprobs": []}]}
    body = {
        "id": "c",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Hi",
                    "reasoning_content": "think",
                    "refusal": None,
                },
                "logprobs": logprobs,
                "finish_reason": "stop",
            }
        ],
    }

    rendered = render_response(read_response(body))

    choice = rendered["choices"][0]
    assert choice["logprobs"] == logprobs
    assert choice["message"]["reasoning_content"] == "think"


def test_a_lenient_read_tolerates_nulls_extras_and_the_liberties_of_compatible_hosts() -> None:
    body = {
        "id": None,
        "created": None,
        "model": None,
        "provider": "some-host",
        "choices": [
            {
                "message": {
                    "content": [{"type": "text", "text": "Hel"}, {"type": "text", "text": "lo"}],
                    "reasoning": "hmm",
                    "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}],
                },
                "finish_reason": "eos",
            },
            {"index": 1, "message": None, "finish_reason": None},
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": None, "prompt_tokens_details": None},
    }

    response = read_response(body)

    first, second = response.choices
    assert (response.id, response.created, response.model) == ("", 0, "")
    assert first.message.content == "Hello"
    assert first.message.reasoning_content == "hmm"
    assert json.loads(first.message.tool_calls[0].arguments) == {"a": 1}
    assert first.finish_reason is FinishReason.STOP
    assert (second.index, second.message.content, second.finish_reason) == (1, None, None)
    assert response.usage == Usage(prompt_tokens=3)


@pytest.mark.parametrize(
    ("upstream", "reason"),
    [("length", FinishReason.LENGTH), ("max_tokens", FinishReason.LENGTH), ("whatever", FinishReason.STOP)],
)
def test_finish_reasons_read_into_the_five_clients_know(upstream: str, reason: FinishReason) -> None:
    body = {"choices": [{"index": 0, "message": {"content": "x"}, "finish_reason": upstream}]}

    assert read_response(body).choices[0].finish_reason is reason


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "chat.completion",
        {"id": "c"},
        {"choices": "all"},
        {"choices": [{"message": {"content": 5}}]},
        {"choices": [{"message": {"tool_calls": "x"}}]},
        {"choices": [{"index": "first"}]},
    ],
    ids=range(8),
)
def test_a_body_that_is_no_completion_is_a_bad_gateway(body: object) -> None:
    with pytest.raises(errors.BadGatewayError):
        read_response(body)


@pytest.mark.parametrize("body", [None, 5, {"choices": 5}, {"choices": [{"delta": "x"}]}], ids=range(4))
def test_a_body_that_is_no_chunk_is_a_bad_gateway(body: object) -> None:
    with pytest.raises(errors.BadGatewayError):
        read_chunk(body)


def test_a_usage_only_chunk_reads_with_no_choices() -> None:
    chunk = read_chunk({"id": "c", "created": 1, "model": "m", "choices": [], "usage": {"prompt_tokens": 1}})

    assert chunk.choices == ()
    assert chunk.usage == Usage(prompt_tokens=1)
    assert render_chunk(chunk)["choices"] == []


def test_tool_call_deltas_without_an_index_take_their_position() -> None:
    delta = {"tool_calls": [{"id": "a", "function": {"name": "f"}}, {"id": "b", "function": {"name": "g"}}]}

    chunk = read_chunk({"choices": [{"delta": delta}]})

    assert [call.index for call in chunk.choices[0].delta.tool_calls] == [0, 1]


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


@pytest.mark.parametrize("wire", ["float", "base64"])
def test_embeddings_read_the_same_vectors_from_floats_and_from_base64(wire: str) -> None:
    expected = [item["embedding"] for item in _fixture("embeddings_float.json")["data"]]

    response = read_embeddings(_fixture(f"embeddings_{wire}.json"))

    assert [list(item.vector) for item in response.data] == [pytest.approx(v, rel=1e-6) for v in expected]
    assert response.usage == Usage(prompt_tokens=12)
    assert response.model == "text-embedding-3-small"


@pytest.mark.parametrize("wire", ["float", "base64"])
def test_embeddings_read_and_rendered_in_the_same_encoding_say_what_the_upstream_said(wire: str) -> None:
    upstream = _fixture(f"embeddings_{wire}.json")

    rendered = render_embeddings(read_embeddings(upstream), EncodingFormat(wire))

    if wire == "base64":
        assert rendered == upstream
    else:
        for got, sent in zip(rendered["data"], upstream["data"], strict=True):
            assert got["embedding"] == pytest.approx(sent["embedding"], rel=1e-6)
        assert {k: v for k, v in rendered.items() if k != "data"} == {
            k: v for k, v in upstream.items() if k != "data"
        }


def test_base64_embeddings_are_little_endian_float32_as_openai_sends_them() -> None:
    response = EmbeddingResponse(model="e", data=(Embedding(0, [0.5, -2.0, 1.25]),), usage=Usage(3))

    rendered = render_embeddings(response, EncodingFormat.BASE64)

    packed = base64.b64decode(rendered["data"][0]["embedding"])
    assert struct.unpack("<3f", packed) == (0.5, -2.0, 1.25)
    assert rendered["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    assert rendered["object"] == "list" and rendered["data"][0]["object"] == "embedding"


@pytest.mark.parametrize("vector", ["not base64!", "AAA=", 5, None], ids=range(4))
def test_an_embedding_that_is_no_vector_is_a_bad_gateway(vector: object) -> None:
    body = {"data": [{"index": 0, "embedding": vector}], "model": "e"}

    with pytest.raises(errors.BadGatewayError):
        read_embeddings(body)


def test_an_error_renders_in_openais_envelope_with_a_string_or_null_code() -> None:
    limited = errors.RateLimitError("Slow down", retry_after=3, param=None)
    missing = errors.NotFoundError("No such model", code="model_not_found", param="model")
    failed = errors.InternalServerError("Boom")

    assert render_error(limited) == {
        "error": {
            "message": "Slow down",
            "type": "rate_limit_error",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    assert render_error(missing)["error"] == {
        "message": "No such model",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }
    assert render_error(failed)["error"]["code"] is None


def test_a_vllm_stop_string_and_signed_thinking_blocks_are_read_back() -> None:
    from adapters.openai_format import read_response
    from domain.messages import ThinkingBlock

    reply = read_response(
        {
            "id": "c",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "Done",
                        "thinking_blocks": [
                            {"type": "thinking", "thinking": "Hmm.", "signature": "sig"},
                            {"type": "redacted_thinking", "data": "opaque"},
                        ],
                    },
                    "finish_reason": "stop",
                    "stop_reason": "END",
                }
            ],
        }
    )

    (choice,) = reply.choices
    assert choice.stop_sequence == "END"
    assert choice.message.thinking_blocks == (ThinkingBlock("Hmm.", "sig"), ThinkingBlock(redacted="opaque"))


@pytest.mark.parametrize("name", ["chat_stream.sse", "chat_stream_tool_calls.sse"])
def test_a_chunk_read_from_its_event_bytes_is_the_chunk_read_from_its_json(name: str) -> None:
    for upstream in _events(name):
        assert read_chunk_event(json.dumps(upstream).encode()) == read_chunk(upstream)


def test_a_chunk_read_from_its_bytes_is_as_lenient_as_from_json() -> None:
    data = (
        b'{"id": null, "created": "17", "provider": "some-host", "choices": [{"delta": {"content": '
        b'[{"type": "text", "text": "Hel"}, {"type": "text", "text": "lo"}], "reasoning": "hmm", '
        b'"tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]}, "finish_reason": "eos"}]}'
    )

    chunk = read_chunk_event(data)

    assert chunk is not None and (chunk.id, chunk.created, chunk.model) == ("", 17, "")
    (choice,) = chunk.choices
    assert (choice.delta.content, choice.delta.reasoning_content) == ("Hello", "hmm")
    assert json.loads(choice.delta.tool_calls[0].arguments or "") == {"a": 1}
    assert choice.finish_reason is FinishReason.STOP


def test_an_event_carrying_an_error_instead_of_a_chunk_reads_as_none() -> None:
    assert read_chunk_event(b'{"error": {"message": "overloaded", "type": "server_error"}}') is None


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b'{"choices": [{"delta": {"content": 5}}]}', "choices.0.delta.content"),
        (b'{"choices": 5}', "choices"),
        (b"[1, 2]", "object"),
        (b'{"id": "chatcmpl-1", "object": "chat.comp', "not JSON"),
    ],
    ids=range(4),
)
def test_event_bytes_that_are_no_chunk_are_a_bad_gateway_saying_where(data: bytes, said: str) -> None:
    with pytest.raises(errors.BadGatewayError, match=said):
        read_chunk_event(data)


def test_the_chunk_structs_read_every_field_the_documented_chunk_shows() -> None:
    # The OpenAPI document shows wire.Chunk (pydantic); chunks are read with chunk_wire's structs.
    pairs = [
        (wire.Chunk, chunk_wire.Chunk),
        (wire.ChunkChoice, chunk_wire.Choice),
        (wire.ReplyUsage, chunk_wire.Usage),
        (wire.ReplyToolCall, chunk_wire.ToolCall),
        (wire.ReplyFunction, chunk_wire.Function),
    ]
    for documented, read in pairs:
        assert set(documented.model_fields) <= set(read.__struct_fields__), read
    delta = set(wire.ReplyMessage.model_fields) - {"function_call", "thinking_blocks"}  # whole replies only
    assert delta <= set(chunk_wire.Delta.__struct_fields__)

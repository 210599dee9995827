"""Cache entries survive encoding exactly, and bytes that are not an entry are refused clearly."""

from __future__ import annotations

import math
from decimal import Decimal
from types import MappingProxyType

import orjson
import pytest

from adapters.cache.codec import UnreadableEntry, UnstorableEntry, decode_entry, encode_entry
from domain.caching import CachedReply, CachedVector
from domain.completions import Choice, CompletionResponse, FinishReason, Usage
from domain.messages import (
    DocumentPart,
    ImageDetail,
    ImagePart,
    Message,
    Role,
    TextPart,
    ThinkingBlock,
    ToolCall,
)


def plain_reply() -> CachedReply:
    message = Message(Role.ASSISTANT, "hello")
    response = CompletionResponse("r1", 1_700_000_000, "gpt-x", (Choice(0, message, FinishReason.STOP),))
    return CachedReply(response, stored_at=1_700_000_001.25)


def full_reply() -> CachedReply:
    """Every field of the reply set, none to its default."""
    answer = Message(
        role=Role.ASSISTANT,
        content=(
            TextPart("look: ünïcode ✓\n"),
            ImagePart("data:image/png;base64,iVBORw0KGgo=", ImageDetail.HIGH),
            ImagePart("https://example.com/cat.png"),
            DocumentPart("data:application/pdf;base64,JVBERi0=", title="spec", context="read it"),
            DocumentPart("https://example.com/a.pdf"),
        ),
        name="helper",
        tool_calls=(
            ToolCall("call_1", "get_weather", '{"city": "Paris"}'),
            ToolCall("call_2", "lookup", ""),
        ),
        reasoning_content="first I think",
        refusal="partly refused",
        thinking_blocks=(
            ThinkingBlock("first I think", signature="sig-abc=="),
            ThinkingBlock(redacted="opaque-data"),
            ThinkingBlock("unsigned"),
        ),
    )
    tool = Message(Role.TOOL, "it failed", tool_call_id="call_1", tool_error=True)
    response = CompletionResponse(
        id="chatcmpl-1",
        created=1_700_000_000,
        model="claude-x",
        choices=(
            Choice(
                0,
                answer,
                FinishReason.TOOL_CALLS,
                logprobs={"content": [{"token": "a", "logprob": -0.125, "top_logprobs": []}]},
                stop_sequence="###",
            ),
            Choice(1, tool, None),
            Choice(2, Message(Role.ASSISTANT), FinishReason.LENGTH),
        ),
        usage=Usage(100, 20, 30, 40, 5),
        system_fingerprint="fp_1",
        service_tier="priority",
        native={"id": "msg_1", "content": [{"type": "text", "text": "hi"}], "n": 1.5, "none": None},
        cost=Decimal("0.000000123456789"),
    )
    return CachedReply(response, stored_at=1_700_000_001.123456, deployment_id="anthropic-1")


def test_a_plain_reply_round_trips_to_an_equal_entry() -> None:
    assert decode_entry(encode_entry(plain_reply())) == plain_reply()


def test_a_reply_with_tool_calls_thinking_blocks_and_image_parts_round_trips_to_an_equal_entry() -> None:
    entry = full_reply()
    decoded = decode_entry(encode_entry(entry))
    assert decoded == entry
    assert isinstance(decoded, CachedReply)
    assert decoded.response.choices[0].finish_reason is FinishReason.TOOL_CALLS
    assert decoded.response.choices[0].message.content[1].detail is ImageDetail.HIGH  # type: ignore[index, union-attr]


def test_a_reply_with_a_read_only_native_body_round_trips_to_an_equal_entry() -> None:
    entry = plain_reply()
    response = CompletionResponse(**{**_fields(entry.response), "native": MappingProxyType({"a": [1, 2]})})
    assert decode_entry(encode_entry(CachedReply(response, 1.0))) == CachedReply(response, 1.0)


def test_a_vector_round_trips_with_every_float64_exact() -> None:
    vector = (0.1, -2.5e-300, 1e308, math.pi, 0.0, -0.0, 1 / 3, 123456789.123456789)
    entry = CachedVector(vector, stored_at=1_700_000_000.5, deployment_id="emb-1")
    decoded = decode_entry(encode_entry(entry))
    assert decoded == entry
    assert isinstance(decoded, CachedVector)
    assert [v.hex() for v in decoded.vector] == [v.hex() for v in vector]


def test_an_empty_vector_round_trips() -> None:
    assert decode_entry(encode_entry(CachedVector((), 2.0))) == CachedVector((), 2.0)


def test_a_vector_is_written_compactly() -> None:
    vector = tuple(i / 7 for i in range(1536))
    assert len(encode_entry(CachedVector(vector, 1.0))) < 1536 * 8 * 1.4


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'{"kind": "reply"}',
        b'{"v": 2, "kind": "reply", "stored_at": 1}',
        b'{"v": 1, "kind": "sound", "stored_at": 1}',
        b'{"v": 1, "kind": "vector", "stored_at": 1, "vector": "abc"}',
        b'{"v": 1, "kind": "reply", "stored_at": 1, "response": {"id": "r"}}',
    ],
)
def test_bytes_that_are_not_an_entry_of_this_version_are_unreadable(data: bytes) -> None:
    with pytest.raises(UnreadableEntry):
        decode_entry(data)


def test_a_reply_whose_fields_break_the_domain_rules_is_unreadable() -> None:
    row = orjson.loads(encode_entry(full_reply()))
    row["response"]["choices"][1]["message"]["role"] = "user"  # a user message with no tool calls is fine,
    row["response"]["choices"][0]["message"]["role"] = "user"  # but one with tool calls is not
    with pytest.raises(UnreadableEntry):
        decode_entry(orjson.dumps(row))


def test_a_reply_whose_native_body_is_not_json_is_unstorable() -> None:
    response = CompletionResponse(**{**_fields(plain_reply().response), "native": {"big": 2**70}})
    with pytest.raises(UnstorableEntry):
        encode_entry(CachedReply(response, 1.0))


def _fields(response: CompletionResponse) -> dict[str, object]:
    return {name: getattr(response, name) for name in CompletionResponse.__dataclass_fields__}

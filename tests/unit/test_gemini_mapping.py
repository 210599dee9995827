"""Edge cases of the Gemini mapping: schemas, turns, replies, streams and errors, without I/O."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from adapters.llm.gemini import embeddings, mapping, replies
from adapters.llm.gemini.errors import google_error
from adapters.llm.gemini.schema import gemini_schema
from domain import errors
from domain.completions import CompletionRequest, FinishReason, Usage, assemble
from domain.embeddings import EmbeddingRequest
from domain.messages import FunctionTool, ImagePart, Message, Role, ThinkingBlock, ToolCall

CREATED = 1_700_000_000


def _request(*messages: Message, **changes: Any) -> CompletionRequest:
    return CompletionRequest(model="g", messages=messages, **changes)


def _reply(*parts: dict[str, Any], finish: str | None = "STOP", **extra: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "responseId": "resp-1", "modelVersion": "gemini-2.5-flash", **extra}


# --- schemas -------------------------------------------------------------------------------------------


def test_a_recursive_reference_is_cut_with_an_open_object() -> None:
    schema = {
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/Node"}},
        "$defs": {
            "Node": {
                "type": "object",
                "description": "a tree node",
                "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
            }
        },
    }

    assert gemini_schema(schema) == {
        "type": "OBJECT",
        "properties": {
            "root": {
                "type": "OBJECT",
                "description": "a tree node",
                "properties": {"children": {"type": "ARRAY", "items": {"type": "OBJECT"}}},
            }
        },
    }


def test_null_branches_become_nullable_and_other_unions_stay_any_of() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"anyOf": [{"type": "integer"}, {"type": "null"}], "description": "maybe a number"},
            "b": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "c": {"type": ["number", "string"]},
            "d": {"type": "null"},
        },
    }

    assert gemini_schema(schema)["properties"] == {
        "a": {"type": "INTEGER", "description": "maybe a number", "nullable": True},
        "b": {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]},
        "c": {"anyOf": [{"type": "NUMBER"}, {"type": "STRING"}]},
        "d": {"nullable": True},
    }


def test_enums_and_consts_become_string_enums_and_numbers_keep_their_type() -> None:
    schema = {
        "type": "object",
        "properties": {
            "size": {"type": "integer", "enum": [1, 2, 3]},
            "kind": {"const": "fixed"},
            "mood": {"enum": ["ok", None]},
        },
    }

    assert gemini_schema(schema)["properties"] == {
        "size": {"type": "INTEGER", "enum": ["1", "2", "3"], "format": "enum"},
        "kind": {"type": "STRING", "enum": ["fixed"]},
        "mood": {"type": "STRING", "enum": ["ok"], "nullable": True},
    }


def test_all_of_is_merged_and_required_names_are_kept_only_when_declared() -> None:
    schema = {
        "allOf": [
            {"$ref": "#/definitions/Base"},
            {"properties": {"extra": {"type": "boolean", "default": False}}, "required": ["extra", "ghost"]},
        ],
        "definitions": {
            "Base": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}
        },
    }

    assert gemini_schema(schema) == {
        "type": "OBJECT",
        "properties": {"id": {"type": "STRING"}, "extra": {"type": "BOOLEAN"}},
        "required": ["id", "extra"],
    }


def test_an_array_without_items_gets_string_items_which_gemini_requires() -> None:
    assert gemini_schema({"type": "array", "description": "tags"}) == {
        "type": "ARRAY",
        "description": "tags",
        "items": {"type": "STRING"},
    }


def test_unknown_keywords_and_formats_are_left_out() -> None:
    schema = {
        "type": "object",
        "title": "Thing",
        "properties": {
            "email": {"type": "string", "format": "email", "pattern": "^.+@.+$", "examples": ["a@b.c"]},
            "count": {
                "type": "integer",
                "format": "int64",
                "minimum": 0,
                "maximum": 9,
                "exclusiveMaximum": 10,
            },
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": True},
            "meta": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "additionalProperties": False,
        "patternProperties": {"^x-": {}},
    }

    assert gemini_schema(schema) == {
        "type": "OBJECT",
        "title": "Thing",
        "properties": {
            "email": {"type": "STRING"},
            "count": {"type": "INTEGER", "format": "int64", "minimum": 0, "maximum": 9},
            "tags": {"type": "ARRAY", "items": {"type": "STRING"}, "minItems": 1},
            "meta": {"type": "OBJECT"},
        },
    }


# --- requests ------------------------------------------------------------------------------------------


def test_a_function_without_arguments_is_declared_without_parameters() -> None:
    tool = FunctionTool("now", "The time", {"type": "object", "properties": {}})

    body = mapping.generate_body(_request(Message(Role.USER, "t?"), tools=(tool,)), "gemini-2.5-flash")

    assert body["tools"] == [{"functionDeclarations": [{"name": "now", "description": "The time"}]}]


def test_a_tool_result_without_a_matching_call_is_refused() -> None:
    request = _request(Message(Role.USER, "hi"), Message(Role.TOOL, "42", tool_call_id="call_x"))

    with pytest.raises(errors.BadRequestError, match="call_x"):
        mapping.generate_body(request, "gemini-2.5-flash")


def test_tool_call_arguments_that_are_not_a_json_object_are_refused() -> None:
    request = _request(
        Message(Role.USER, "hi"), Message(Role.ASSISTANT, None, tool_calls=(ToolCall("c", "f", "[1, 2]"),))
    )

    with pytest.raises(errors.BadRequestError, match="JSON object"):
        mapping.generate_body(request, "gemini-2.5-flash")


def test_scalar_and_list_tool_results_are_wrapped_as_output() -> None:
    request = _request(
        Message(Role.USER, "hi"),
        Message(Role.ASSISTANT, None, tool_calls=(ToolCall("a", "f", "{}"), ToolCall("b", "g", "{}"))),
        Message(Role.TOOL, "21", tool_call_id="a"),
        Message(Role.TOOL, "[1, 2]", tool_call_id="b"),
    )

    parts = mapping.generate_body(request, "gemini-2.5-flash")["contents"][2]["parts"]

    assert [part["functionResponse"]["response"] for part in parts] == [{"output": 21}, {"output": [1, 2]}]


def test_a_request_of_instructions_alone_asks_with_them() -> None:
    body = mapping.generate_body(_request(Message(Role.SYSTEM, "Say hi.")), "gemini-2.5-flash")

    assert body == {"contents": [{"role": "user", "parts": [{"text": "Say hi."}]}]}


def test_a_data_url_that_is_not_base64_is_refused() -> None:
    request = _request(Message(Role.USER, (ImagePart("data:image/svg+xml,<svg/>"),)))

    with pytest.raises(errors.BadRequestError, match="base64"):
        mapping.generate_body(request, "gemini-2.5-flash")


def test_a_signature_rides_in_the_tool_call_id_and_comes_back_unchanged() -> None:
    signature = "CikBcsja/fFK+168"

    carried = mapping.call_id("seed", signature)

    assert carried.startswith("call_") and "+" not in carried and "/" not in carried
    assert mapping.signature_of(carried) == signature
    assert mapping.call_id("seed") == mapping.call_id("seed") != mapping.call_id("other")
    assert mapping.signature_of("call_abc") is None


def test_token_array_embedding_inputs_are_refused() -> None:
    with pytest.raises(errors.UnsupportedParameterError):
        embeddings.embedding_texts(EmbeddingRequest(model="e", inputs=((1, 2),)))


# --- replies -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "finish"),
    [
        ("STOP", FinishReason.STOP),
        ("MAX_TOKENS", FinishReason.LENGTH),
        ("SAFETY", FinishReason.CONTENT_FILTER),
        ("RECITATION", FinishReason.CONTENT_FILTER),
        ("BLOCKLIST", FinishReason.CONTENT_FILTER),
        ("PROHIBITED_CONTENT", FinishReason.CONTENT_FILTER),
        ("SPII", FinishReason.CONTENT_FILTER),
        ("IMAGE_SAFETY", FinishReason.CONTENT_FILTER),
        ("OTHER", FinishReason.STOP),
    ],
)
def test_finish_reasons_map_to_openais(reason: str, finish: FinishReason) -> None:
    response = replies.read_response(_reply({"text": "x"}, finish=reason), model="g", created=CREATED)

    assert response.choices[0].finish_reason is finish


def test_a_malformed_function_call_is_an_error_naming_the_reason() -> None:
    payload = _reply(finish="MALFORMED_FUNCTION_CALL")
    payload["candidates"][0]["finishMessage"] = "Malformed function call: print(default_api.x("

    with pytest.raises(errors.BadGatewayError, match="MALFORMED_FUNCTION_CALL"):
        replies.read_response(payload, model="g", created=CREATED)


def test_a_blocked_prompt_is_a_content_policy_violation_with_its_reason() -> None:
    payload = {"promptFeedback": {"blockReason": "SAFETY", "blockReasonMessage": "unsafe"}, "responseId": "r"}

    with pytest.raises(errors.ContentPolicyViolationError, match=r"SAFETY\): unsafe"):
        replies.read_response(payload, model="g", created=CREATED)


def test_a_reply_with_no_candidates_and_no_reason_is_a_bad_gateway() -> None:
    with pytest.raises(errors.BadGatewayError, match="no candidates"):
        replies.read_response({"usageMetadata": {"promptTokenCount": 3}}, model="g", created=CREATED)


def test_thoughts_come_back_as_reasoning_and_usage_counts_them_as_completion() -> None:
    usage = {
        "promptTokenCount": 100,
        "candidatesTokenCount": 20,
        "thoughtsTokenCount": 50,
        "cachedContentTokenCount": 64,
        "toolUsePromptTokenCount": 5,
    }
    payload = _reply({"text": "Let me think.", "thought": True}, {"text": "42"}, usageMetadata=usage)

    response = replies.read_response(payload, model="g", created=CREATED)

    message = response.choices[0].message
    assert (message.content, message.reasoning_content) == ("42", "Let me think.")
    assert response.usage == Usage(
        prompt_tokens=105, completion_tokens=70, cached_tokens=64, reasoning_tokens=50
    )
    assert (response.id, response.model, response.created) == ("resp-1", "gemini-2.5-flash", CREATED)


def test_parallel_function_calls_get_distinct_stable_ids_and_finish_as_tool_calls() -> None:
    payload = _reply(
        {"functionCall": {"name": "f", "args": {"x": 1}}},
        {"functionCall": {"name": "f", "args": {"x": 2}}},
    )

    first = replies.read_response(payload, model="g", created=CREATED).choices[0]
    again = replies.read_response(payload, model="g", created=CREATED).choices[0]

    assert [json.loads(call.arguments) for call in first.message.tool_calls] == [{"x": 1}, {"x": 2}]
    assert len({call.id for call in first.message.tool_calls}) == 2
    assert first.message.tool_calls == again.message.tool_calls
    assert first.finish_reason is FinishReason.TOOL_CALLS and first.message.content is None


def test_logprobs_come_back_in_openais_shape() -> None:
    payload = _reply({"text": "Hi"})
    payload["candidates"][0]["logprobsResult"] = {
        "topCandidates": [
            {"candidates": [{"token": "Hi", "logProbability": -0.1}, {"token": "Yo", "logProbability": -2.5}]}
        ],
        "chosenCandidates": [{"token": "Hi", "logProbability": -0.1}],
    }

    (choice,) = replies.read_response(payload, model="g", created=CREATED).choices

    assert choice.logprobs == {
        "content": [
            {
                "token": "Hi",
                "logprob": -0.1,
                "bytes": [72, 105],
                "top_logprobs": [
                    {"token": "Hi", "logprob": -0.1, "bytes": [72, 105]},
                    {"token": "Yo", "logprob": -2.5, "bytes": [89, 111]},
                ],
            }
        ],
        "refusal": None,
    }


def test_a_stream_spells_thoughts_text_and_calls_with_one_index_per_call() -> None:
    reader = replies.StreamReader(model="g", created=CREATED)
    events = [
        _reply({"text": "Planning", "thought": True}, finish=None, usageMetadata={"promptTokenCount": 4}),
        _reply({"text": "Calling."}, {"functionCall": {"name": "a", "args": {}}}, finish=None),
        _reply(
            {"functionCall": {"name": "b", "args": {"q": "x"}}},
            usageMetadata={"promptTokenCount": 4, "candidatesTokenCount": 9, "thoughtsTokenCount": 3},
        ),
    ]

    chunks = [chunk for event in events if (chunk := reader.read(orjson.dumps(event))) is not None] + [
        reader.end()
    ]

    deltas = [choice.delta for chunk in chunks for choice in chunk.choices]
    assert deltas[0].role == "assistant" and deltas[0].reasoning_content == "Planning"
    assert [call.index for delta in deltas for call in delta.tool_calls] == [0, 1]
    (choice,) = assemble(chunks).choices
    assert choice.message.content == "Calling." and choice.message.reasoning_content == "Planning"
    assert [(call.name, json.loads(call.arguments)) for call in choice.message.tool_calls] == [
        ("a", {}),
        ("b", {"q": "x"}),
    ]
    assert choice.finish_reason is FinishReason.TOOL_CALLS
    assert chunks[-1].usage == Usage(prompt_tokens=4, completion_tokens=12, reasoning_tokens=3)
    assert [chunk.usage for chunk in chunks[:-1]] == [None] * (len(chunks) - 1)


def test_a_stream_that_ends_before_the_reply_finished_is_a_bad_gateway() -> None:
    reader = replies.StreamReader(model="g", created=CREATED)
    reader.read(orjson.dumps(_reply({"text": "Half a sen"}, finish=None)))

    with pytest.raises(errors.BadGatewayError, match="ended before"):
        reader.end()


def test_a_malformed_function_call_ends_a_stream_with_an_error() -> None:
    reader = replies.StreamReader(model="g", created=CREATED)

    with pytest.raises(errors.BadGatewayError, match="MALFORMED_FUNCTION_CALL"):
        reader.read(orjson.dumps(_reply(finish="MALFORMED_FUNCTION_CALL")))


@pytest.mark.parametrize(
    "data",
    [
        b'{"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}',
        b'[{"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}]',
    ],
)
def test_an_error_event_in_a_stream_is_raised_as_its_kind(data: bytes) -> None:
    reader = replies.StreamReader(model="g", created=CREATED)

    with pytest.raises(errors.ServiceUnavailableError, match="overloaded"):
        reader.read(data)


def test_a_stream_event_that_is_not_a_reply_is_a_bad_gateway() -> None:
    reader = replies.StreamReader(model="g", created=CREATED)

    with pytest.raises(errors.BadGatewayError, match="malformed stream event"):
        reader.read(b'{"candidates": "none"}')


def test_vertex_prediction_token_counts_add_up() -> None:
    payload = {
        "predictions": [
            {"embeddings": {"values": [0.1], "statistics": {"token_count": 3.0, "truncated": False}}},
            {"embeddings": {"values": [0.2], "statistics": {"token_count": 4, "truncated": False}}},
        ]
    }

    assert replies.read_predictions(payload) == ([[0.1], [0.2]], 7)


# --- errors --------------------------------------------------------------------------------------------


def test_vertex_errors_wrapped_in_a_list_are_read_too() -> None:
    body = b'[{"error": {"code": 429, "message": "Resource exhausted.", "status": "RESOURCE_EXHAUSTED"}}]'

    error = google_error(429, body)

    assert isinstance(error, errors.RateLimitError)
    assert (error.message, error.retry_after) == ("Resource exhausted.", None)


def test_a_retry_after_header_wins_over_retry_info() -> None:
    body = {
        "error": {
            "code": 429,
            "message": "slow down",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.5s"}],
        }
    }

    assert google_error(429, body, {"retry-after": "3"}).retry_after == 3.0
    assert google_error(429, body).retry_after == 0.5


@pytest.mark.parametrize(
    ("status", "name", "kind"),
    [
        (400, "FAILED_PRECONDITION", errors.BadRequestError),
        (401, "UNAUTHENTICATED", errors.AuthenticationError),
        (500, "UNKNOWN", errors.InternalServerError),
        (503, "UNAVAILABLE", errors.ServiceUnavailableError),
        (504, "DEADLINE_EXCEEDED", errors.TimeoutError),
        (499, "CANCELLED", errors.InternalServerError),
        (418, "SOMETHING_NEW", errors.BadRequestError),
    ],
)
def test_google_status_names_pick_the_error_kind(
    status: int, name: str, kind: type[errors.SwitchyardError]
) -> None:
    error = google_error(status, {"error": {"code": status, "message": "m", "status": name}})

    assert type(error) is kind


def test_an_error_event_in_a_stream_takes_its_kind_from_its_own_code() -> None:
    error = google_error(None, {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}})

    assert isinstance(error, errors.ServiceUnavailableError)


def test_a_body_that_is_not_googles_is_read_by_its_status() -> None:
    error = google_error(502, b"<html>Bad Gateway</html>")

    assert isinstance(error, errors.BadGatewayError)


# --- thoughts --------------------------------------------------------------------------------------------

GEMINI_FIXTURES = Path(__file__).parents[1] / "contract" / "fixtures" / "gemini"


def test_thought_parts_are_the_replys_thinking_blocks_and_a_text_parts_signature_stays_out() -> None:
    payload = json.loads((GEMINI_FIXTURES / "generate_content_thinking.json").read_text())

    (choice,) = replies.read_response(payload, model="g", created=CREATED).choices

    thought = (
        "**Weighing the greeting**\n\nThe user says hello; a short, friendly greeting back is all it needs.\n"
    )
    assert choice.message.content == "Hello! How can I assist you today?"
    assert choice.message.reasoning_content == thought
    assert choice.message.thinking_blocks == (ThinkingBlock(thought),)


def test_a_thought_parts_own_signature_goes_with_its_block() -> None:
    payload = _reply({"text": "Plan.", "thought": True, "thoughtSignature": "CiQBcsja"}, {"text": "Done."})

    (choice,) = replies.read_response(payload, model="g", created=CREATED).choices

    assert choice.message.thinking_blocks == (ThinkingBlock("Plan.", signature="CiQBcsja"),)


def test_a_streamed_thought_arrives_as_reasoning_then_the_signature_that_closes_it() -> None:
    reader = replies.StreamReader(model="g", created=CREATED)
    events = (GEMINI_FIXTURES / "stream_thinking.sse").read_bytes().split(b"\n\n")

    chunks = [chunk for event in events if event and (chunk := reader.read(event.removeprefix(b"data: ")))]
    chunks.append(reader.end())

    deltas = [chunk.choices[0].delta for chunk in chunks if chunk.choices]
    assert [(d.reasoning_content, d.thinking_signature, d.content) for d in deltas] == [
        ("**Weighing the greeting**\n\nThe user says hello; ", None, None),
        (
            "a short, friendly greeting back is all it needs.\n",
            "CiQBcsjafBd7CwGjbSAqt6Uy9aUcnVUHFa4KK7wq3zR0oI/4CZ4KZgFyyNp8kqDtZ4FQxQ2VvRrIhNyHkmSn",
            None,
        ),
        (None, None, "Hello! How can I assist you today?"),
    ]
    assert chunks[-1].usage == Usage(prompt_tokens=9, completion_tokens=122, reasoning_tokens=112)

"""Ollama's native replies, stream lines, requests and errors mapped to and from the domain: the edge
cases."""

from __future__ import annotations

import base64
import json

import pytest

from adapters.llm.ollama.errors import upstream_error
from adapters.llm.ollama.mapping import StreamReader, chat_body, read_response
from domain import errors
from domain.completions import CompletionRequest, FinishReason, Usage, assemble
from domain.deployments import Deployment
from domain.messages import ImagePart, Message, Role, TextPart, ToolCall

DEPLOYMENT = Deployment(id="o", model_name="llama", provider="ollama", upstream_model="llama3.2")


def _line(**changes: object) -> dict:
    line = {
        "model": "llama3.2",
        "created_at": "2025-07-07T20:22:19.184789Z",
        "message": {"role": "assistant", "content": ""},
        "done": False,
    }
    return line | changes


def _calls(*names: str) -> dict:
    calls = [{"function": {"name": name, "arguments": {"city": name.upper()}}} for name in names]
    return {"role": "assistant", "content": "", "tool_calls": calls}


@pytest.mark.parametrize(
    ("reason", "called", "finish"),
    [
        ("stop", False, FinishReason.STOP),
        ("stop", True, FinishReason.TOOL_CALLS),
        ("length", False, FinishReason.LENGTH),
        ("load", False, FinishReason.STOP),
        (None, False, FinishReason.STOP),
    ],
)
def test_done_reasons_map_to_openais_and_a_reply_with_calls_finishes_with_tool_calls(
    reason: str | None, called: bool, finish: FinishReason
) -> None:
    message = _calls("paris") if called else {"role": "assistant", "content": "Hi"}
    reply = _line(message=message, done=True, done_reason=reason, prompt_eval_count=3, eval_count=4)

    response = read_response(reply, model="llama3.2", call_id="chatcmpl-1")

    assert response.choices[0].finish_reason is finish
    assert response.usage == Usage(prompt_tokens=3, completion_tokens=4)
    assert response.created == 1751919739


def test_tool_calls_get_ids_when_ollama_gives_none_and_arguments_as_json_text() -> None:
    message = _calls("paris", "rome")
    message["tool_calls"][1]["id"] = "call_given"

    (choice,) = read_response(_line(message=message, done=True), model="m", call_id="c").choices

    first, second = choice.message.tool_calls
    assert first.id.startswith("call_") and first.id != second.id
    assert second.id == "call_given"
    assert json.loads(first.arguments) == {"city": "PARIS"}


def test_streamed_calls_are_numbered_across_lines_and_the_done_line_finishes_with_tool_calls() -> None:
    reader = StreamReader(model="llama3.2", call_id="chatcmpl-s")
    lines = [
        _line(message=_calls("paris")),
        _line(message=_calls("rome")),
        _line(done=True, done_reason="stop", prompt_eval_count=169, eval_count=15),
    ]

    chunks = [chunk for line in lines if (chunk := reader.read(line)) is not None]

    pieces = [call for chunk in chunks for call in chunk.choices[0].delta.tool_calls]
    assert [piece.index for piece in pieces] == [0, 1]
    (choice,) = assemble(chunks).choices
    assert [call.name for call in choice.message.tool_calls] == ["paris", "rome"]
    assert choice.finish_reason is FinishReason.TOOL_CALLS
    assert chunks[-1].usage == Usage(prompt_tokens=169, completion_tokens=15)
    assert all(chunk.usage is None for chunk in chunks[:-1])


def test_streamed_thinking_is_reasoning_content_and_empty_lines_say_nothing() -> None:
    reader = StreamReader(model="qwen3", call_id="c")
    lines = [
        _line(message={"role": "assistant", "content": "", "thinking": "Hmm"}),
        _line(),
        _line(message={"role": "assistant", "content": "Yes"}),
        _line(done=True, done_reason="length"),
    ]

    chunks = [chunk for line in lines if (chunk := reader.read(line)) is not None]

    assert [(c.choices[0].delta.reasoning_content, c.choices[0].delta.content) for c in chunks] == [
        ("Hmm", None),
        (None, "Yes"),
        (None, None),
    ]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason is FinishReason.LENGTH
    assert {chunk.created for chunk in chunks} == {1751919739}


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("an error was encountered while running the model", errors.InternalServerError),
        ("the input length exceeds the context length", errors.ContextWindowExceededError),
    ],
)
def test_an_error_line_mid_stream_raises_its_kind(message: str, kind: type[errors.SwitchyardError]) -> None:
    reader = StreamReader(model="m", call_id="c")
    reader.read(_line(message={"role": "assistant", "content": "Hi"}))

    with pytest.raises(kind) as raised:
        reader.read({"error": message})

    assert raised.value.message == message


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (404, b'{"error":"model \\"x\\" not found, try pulling it first"}', errors.NotFoundError),
        (
            500,
            b'{"error":"the prompt is longer than the context length currently available"}',
            errors.ContextWindowExceededError,
        ),
        (
            503,
            b'{"error":"server busy, please try again.  maximum pending requests exceeded"}',
            errors.ServiceUnavailableError,
        ),
        (502, b"<html>bad gateway</html>", errors.BadGatewayError),
    ],
)
def test_error_answers_map_to_their_kinds(
    status: int, body: bytes, kind: type[errors.SwitchyardError]
) -> None:
    assert type(upstream_error(status, body)) is kind


def test_a_percent_encoded_data_url_is_sent_as_base64() -> None:
    content = (TextPart("What is this?"), ImagePart("data:image/svg+xml,%3Csvg%2F%3E"))
    request = CompletionRequest(model="llama", messages=(Message(Role.USER, content),))

    (message,) = chat_body(request, DEPLOYMENT, stream=False)["messages"]

    assert base64.b64decode(message["images"][0]) == b"<svg/>"


def test_a_tool_result_is_named_by_its_own_name_before_the_call_it_answers() -> None:
    messages = (
        Message(Role.DEVELOPER, "Be brief."),
        Message(Role.ASSISTANT, None, tool_calls=(ToolCall("c1", "get_weather", ""),)),
        Message(Role.TOOL, "sunny", tool_call_id="c1", name="weather_tool"),
        Message(Role.TOOL, "rainy", tool_call_id="unknown"),
    )

    sent = chat_body(CompletionRequest(model="llama", messages=messages), DEPLOYMENT, stream=True)["messages"]

    assert sent[0] == {"role": "system", "content": "Be brief."}
    assert sent[1]["tool_calls"] == [{"id": "c1", "function": {"name": "get_weather", "arguments": {}}}]
    assert sent[2]["tool_name"] == "weather_tool"
    assert "tool_name" not in sent[3]


def test_a_line_that_is_no_chat_reply_is_a_bad_gateway() -> None:
    with pytest.raises(errors.BadGatewayError):
        StreamReader(model="m", call_id="c").read({"done": "maybe", "message": "text"})

"""The domain model's invariants and pure policies."""

from __future__ import annotations

import pytest

from application.catalog import wildcard_match
from domain.compatibility import fit_request, without
from domain.completions import (
    ChunkChoice,
    CompletionChunk,
    CompletionRequest,
    Delta,
    FinishReason,
    SamplingParams,
    ToolCallDelta,
    Usage,
    assemble,
)
from domain.deployments import Capabilities, Deployment, Secret
from domain.errors import BadRequestError, ConfigurationError, UnsupportedParameterError
from domain.messages import FunctionTool, Message, ResponseFormat, ResponseFormatType, Role, ToolCall

HI = (Message(Role.USER, "hi"),)


def test_only_assistant_messages_carry_tool_calls_and_tool_messages_name_their_call() -> None:
    with pytest.raises(BadRequestError):
        Message(Role.USER, "x", tool_calls=(ToolCall("c", "f", "{}"),))
    with pytest.raises(BadRequestError):
        Message(Role.TOOL, "result")


@pytest.mark.parametrize(
    ("field", "value"), [("temperature", 2.5), ("top_p", -0.1), ("max_tokens", 0), ("presence_penalty", 3)]
)
def test_sampling_values_out_of_range_are_refused_naming_the_field(field: str, value: float) -> None:
    with pytest.raises(BadRequestError) as caught:
        SamplingParams(**{field: value})

    assert caught.value.param == field


def test_a_json_schema_response_format_needs_its_name_and_schema() -> None:
    with pytest.raises(BadRequestError):
        ResponseFormat(ResponseFormatType.JSON_SCHEMA, name="x")


def test_usage_adds_up_and_totals_prompt_and_completion() -> None:
    total = Usage(10, 5, cached_tokens=2) + Usage(1, 1, reasoning_tokens=1)

    assert (total.total_tokens, total.cached_tokens, total.reasoning_tokens) == (17, 2, 1)


def test_a_stream_assembles_into_the_reply_it_spells_tool_call_fragments_joined() -> None:
    head = {"id": "c", "created": 1, "model": "m"}
    chunks = [
        CompletionChunk(**head, choices=(ChunkChoice(0, Delta(role="assistant", content="Hel")),)),
        CompletionChunk(**head, choices=(ChunkChoice(0, Delta(content="lo")),)),
        CompletionChunk(
            **head, choices=(ChunkChoice(0, Delta(tool_calls=(ToolCallDelta(0, "call_1", "f", '{"a"'),))),)
        ),
        CompletionChunk(
            **head, choices=(ChunkChoice(0, Delta(tool_calls=(ToolCallDelta(0, None, None, ":1}"),))),)
        ),
        CompletionChunk(**head, choices=(ChunkChoice(0, Delta(), FinishReason.TOOL_CALLS),)),
        CompletionChunk(**head, usage=Usage(3, 4)),
    ]

    reply = assemble(chunks)

    message = reply.choices[0].message
    assert (message.content, message.tool_calls) == ("Hello", (ToolCall("call_1", "f", '{"a":1}'),))
    assert (reply.choices[0].finish_reason, reply.usage) == (FinishReason.TOOL_CALLS, Usage(3, 4))


def test_secrets_never_show_themselves() -> None:
    assert "sk-live" not in repr(Secret("sk-live")) + str(Secret("sk-live"))


def test_a_deployment_weight_must_be_positive() -> None:
    with pytest.raises(ConfigurationError):
        Deployment(id="d", model_name="m", provider="openai", upstream_model="x", weight=0)


def test_capabilities_limited_to_an_adapters_keep_only_what_both_allow() -> None:
    model = Capabilities(tools=True, embeddings=True, reasoning=True, max_output_tokens=100)
    adapter = Capabilities(tools=False, embeddings=True, reasoning=True)

    limited = model.limited_to(adapter)

    assert (limited.tools, limited.embeddings, limited.reasoning, limited.max_output_tokens) == (
        False, True, True, 100,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("pattern", "model", "matched"),
    [("openai/*", "openai/gpt-4o", "gpt-4o"), ("*", "anything", "anything"), ("openai/*", "groq/x", None),
     ("openai/*", "openai/", None), ("gpt-x", "gpt-x", None)],
)  # fmt: skip
def test_a_wildcard_matches_what_its_star_stands_for(pattern: str, model: str, matched: str | None) -> None:
    assert wildcard_match(pattern, model) == matched


def test_without_takes_out_sampling_tools_formats_and_passthrough_fields() -> None:
    request = CompletionRequest(
        model="m",
        messages=HI,
        params=SamplingParams(seed=1, temperature=0.5),
        tools=(FunctionTool("f"),),
        response_format=ResponseFormat(ResponseFormatType.JSON_OBJECT),
        extra_body={"top_k": 5, "keep": 1},
    )

    stripped = without(request, ["seed", "tools", "response_format", "top_k"])

    assert (stripped.params.seed, stripped.params.temperature) == (None, 0.5)
    assert (stripped.tools, stripped.tool_choice, stripped.response_format) == ((), None, None)
    assert stripped.extra_body == {"keep": 1}


def test_a_model_that_cannot_stream_refuses_a_stream_even_with_drop_params() -> None:
    mute = Deployment(
        id="d", model_name="m", provider="x", upstream_model="x",
        capabilities=Capabilities(streaming=False), drop_params=True,
    )  # fmt: skip

    with pytest.raises(UnsupportedParameterError) as caught:
        fit_request(CompletionRequest(model="m", messages=HI, stream=True), mute)

    assert caught.value.param == "stream"


def test_a_stream_assembles_into_signed_thinking_blocks_and_its_stop_sequence() -> None:
    from domain.completions import ChunkChoice, CompletionChunk, Delta, FinishReason, assemble
    from domain.messages import ThinkingBlock

    def chunk(delta: Delta, finish: FinishReason | None = None, stop: str | None = None) -> CompletionChunk:
        return CompletionChunk("c", 1, "m", (ChunkChoice(0, delta, finish, stop_sequence=stop),))

    reply = assemble(
        [
            chunk(Delta(reasoning_content="Let me ")),
            chunk(Delta(reasoning_content="think.")),
            chunk(Delta(thinking_signature="sig-1")),
            chunk(Delta(redacted_thinking="opaque")),
            chunk(Delta(content="Done")),
            chunk(Delta(), FinishReason.STOP, stop="END"),
        ]
    )

    (choice,) = reply.choices
    assert choice.message.thinking_blocks == (
        ThinkingBlock("Let me think.", "sig-1"),
        ThinkingBlock(redacted="opaque"),
    )
    assert choice.message.reasoning_content == "Let me think."
    assert (choice.message.content, choice.finish_reason, choice.stop_sequence) == (
        "Done",
        FinishReason.STOP,
        "END",
    )


def test_dropping_documents_takes_them_out_of_every_message_and_keeps_the_rest() -> None:
    from domain.compatibility import without
    from domain.completions import CompletionRequest
    from domain.messages import DocumentPart, Message, Role, TextPart

    request = CompletionRequest(
        "m",
        (
            Message(Role.USER, (TextPart("Summarise"), DocumentPart("data:application/pdf;base64,JVBERi0="))),
            Message(Role.ASSISTANT, "Sure"),
        ),
    )

    dropped = without(request, ["documents"])

    assert dropped.messages[0].content == (TextPart("Summarise"),)
    assert dropped.messages[1] == request.messages[1]

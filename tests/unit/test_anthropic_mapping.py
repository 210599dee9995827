"""The Anthropic mapping's edge cases: turns, model profiles, unsupported parameters, stream events,
stop reasons, usage, errors and the splitting of a native stream into events, each checked without I/O."""

from __future__ import annotations

import datetime

import pytest

from adapters.llm.anthropic.errors import retry_after, upstream_error
from adapters.llm.anthropic.mapping import max_tokens, unsupported_params
from adapters.llm.anthropic.models import Thinking, effort_for_budget, profile
from adapters.llm.anthropic.native import count_tokens_body
from adapters.llm.anthropic.replies import StreamTranslator, finish_reason, read_message, usage
from adapters.llm.anthropic.turns import document_block, image_block, split_messages
from adapters.llm.sse import parse_event, split_events
from domain import errors
from domain.completions import (
    CompletionChunk,
    CompletionRequest,
    Delta,
    FinishReason,
    NativeRequest,
    ReasoningEffort,
    SamplingParams,
    Usage,
    assemble,
)
from domain.deployments import Deployment
from domain.messages import (
    DocumentPart,
    Message,
    NamedToolChoice,
    Role,
    TextPart,
    ThinkingBlock,
    ToolCall,
    ToolChoiceMode,
)


def _deployment(model: str = "claude-sonnet-4-5-20250929") -> Deployment:
    return Deployment(id="a-1", model_name="claude", provider="anthropic", upstream_model=model)


def _request(*messages: Message, **changes: object) -> CompletionRequest:
    return CompletionRequest(model="claude", messages=messages or (Message(Role.USER, "Hi"),), **changes)


def _feed(events: list[dict], json_tool: str | None = None) -> list[CompletionChunk]:
    translator = StreamTranslator(json_tool)
    out: list[CompletionChunk] = []
    for event in events:
        translator.feed(event, out)
    return out


def _start(input_tokens: int = 10, **usage_fields: int) -> dict:
    return {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 1, **usage_fields},
        },
    }


def _tool_start(index: int, call_id: str, name: str) -> dict:
    block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
    return {"type": "content_block_start", "index": index, "content_block": block}


def _json_delta(index: int, fragment: str) -> dict:
    return {
        "type": "content_block_delta",
        "index": index,
        "delta": {"type": "input_json_delta", "partial_json": fragment},
    }


def _end(stop_reason: str, output_tokens: int = 5) -> list[dict]:
    return [
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason},
            "usage": {"output_tokens": output_tokens},
        },
        {"type": "message_stop"},
    ]


# --- turns -----------------------------------------------------------------------------------------


def test_consecutive_user_messages_merge_into_one_turn() -> None:
    _, turns = split_messages([Message(Role.USER, "a"), Message(Role.USER, (TextPart("b"),))])

    assert turns == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    ]


def test_tool_results_lead_the_user_turn_they_join() -> None:
    messages = [
        Message(Role.ASSISTANT, None, tool_calls=(ToolCall("t1", "f", "{}"),)),
        Message(Role.USER, "also this"),
        Message(Role.TOOL, "done", tool_call_id="t1"),
    ]

    _, turns = split_messages(messages)

    assert [block["type"] for block in turns[1]["content"]] == ["tool_result", "text"]


def test_an_assistant_message_with_nothing_to_say_is_left_out() -> None:
    _, turns = split_messages([Message(Role.USER, "a"), Message(Role.ASSISTANT, ""), Message(Role.USER, "b")])

    assert turns == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    ]


def test_a_tool_call_without_arguments_is_sent_with_an_empty_input() -> None:
    _, turns = split_messages([Message(Role.ASSISTANT, None, tool_calls=(ToolCall("t1", "now", ""),))])

    assert turns[0]["content"] == [{"type": "tool_use", "id": "t1", "name": "now", "input": {}}]


def test_arguments_that_are_json_but_not_an_object_are_refused() -> None:
    with pytest.raises(errors.BadRequestError):
        split_messages([Message(Role.ASSISTANT, None, tool_calls=(ToolCall("t1", "f", "[1, 2]"),))])


def test_an_image_data_url_that_is_not_base64_is_refused() -> None:
    with pytest.raises(errors.BadRequestError):
        image_block("data:image/svg+xml,<svg/>")


# --- models and parameters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "limit", "thinking", "sampling", "native_json"),
    [
        ("claude-3-haiku-20240307", 4096, Thinking.NONE, True, False),
        ("claude-3-5-sonnet-20241022", 8192, Thinking.NONE, True, False),
        ("claude-3-7-sonnet-latest", 64000, Thinking.BUDGET, True, False),
        ("claude-opus-4-1-20250805", 32000, Thinking.BUDGET, True, False),
        ("claude-sonnet-4-20250514", 64000, Thinking.BUDGET, True, False),
        ("claude-haiku-4-5-20251001", 64000, Thinking.BUDGET, True, True),
        ("claude-opus-4-6", 128000, Thinking.ADAPTIVE, True, True),
        ("claude-opus-4-7", 128000, Thinking.ADAPTIVE, False, True),
        ("claude-mythos-preview", 128000, Thinking.ADAPTIVE, False, True),
        ("a-fine-tune", 4096, Thinking.BUDGET, True, False),
    ],
)
def test_each_model_id_finds_its_familys_profile(
    model: str, limit: int, thinking: Thinking, sampling: bool, native_json: bool
) -> None:
    found = profile(model)

    assert (found.max_output, found.thinking, found.sampling, found.structured_outputs) == (
        limit,
        thinking,
        sampling,
        native_json,
    )


def test_a_thinking_budget_never_reaches_max_tokens() -> None:
    assert max_tokens(None, 64000, {"type": "enabled", "budget_tokens": 8192}) == 64000
    assert max_tokens(8192, 64000, {"type": "enabled", "budget_tokens": 8192}) == 16384
    assert max_tokens(None, 4096, {"type": "enabled", "budget_tokens": 8192}) == 8192 + 4096
    assert max_tokens(100, 64000, {"type": "adaptive"}) == 100


def test_openai_parameters_anthropic_lacks_are_named() -> None:
    params = SamplingParams(
        n=2,
        seed=1,
        presence_penalty=0.5,
        frequency_penalty=0.5,
        logit_bias={"1": 1.0},
        logprobs=True,
        top_logprobs=2,
    )

    names = unsupported_params(_request(params=params), _deployment())

    assert sorted(names) == sorted(
        ["n", "seed", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs"]
    )


def test_a_plain_request_has_nothing_unsupported() -> None:
    params = SamplingParams(
        temperature=0.3, top_p=0.8, n=1, max_tokens=10, stop=("x",), user="u", logprobs=False
    )

    assert unsupported_params(_request(params=params), _deployment()) == []


def test_models_that_refuse_sampling_parameters_have_them_named() -> None:
    request = _request(params=SamplingParams(temperature=0.3, top_p=0.8), extra_body={"top_k": 5})

    assert unsupported_params(request, _deployment("claude-opus-4-7")) == ["temperature", "top_p", "top_k"]


def test_reasoning_effort_is_named_for_a_model_that_cannot_think() -> None:
    request = _request(params=SamplingParams(reasoning_effort=ReasoningEffort.LOW))

    assert unsupported_params(request, _deployment("claude-3-5-haiku-20241022")) == ["reasoning_effort"]
    none = _request(params=SamplingParams(reasoning_effort=ReasoningEffort.NONE))
    assert unsupported_params(none, _deployment("claude-3-5-haiku-20241022")) == []


def test_thinking_refuses_sampling_changes_and_forced_tool_use() -> None:
    params = SamplingParams(reasoning_effort=ReasoningEffort.LOW, temperature=0.5, top_p=0.5)

    names = unsupported_params(_request(params=params, tool_choice=NamedToolChoice("f")), _deployment())

    assert names == ["temperature", "top_p", "tool_choice"]
    auto = _request(
        params=SamplingParams(reasoning_effort=ReasoningEffort.LOW), tool_choice=ToolChoiceMode.AUTO
    )
    assert unsupported_params(auto, _deployment()) == []


def test_thinking_in_an_open_tool_loop_is_named_because_signatures_do_not_come_back() -> None:
    messages = (
        Message(Role.USER, "Weather?"),
        Message(Role.ASSISTANT, None, tool_calls=(ToolCall("t1", "f", "{}"),)),
        Message(Role.TOOL, "sunny", tool_call_id="t1"),
    )
    by_effort = _request(*messages, params=SamplingParams(reasoning_effort=ReasoningEffort.LOW))
    by_config = _request(*messages, extra_body={"thinking": {"type": "enabled", "budget_tokens": 2000}})
    closed = _request(*messages, Message(Role.ASSISTANT, "Sunny."), Message(Role.USER, "Thanks"),
                      params=SamplingParams(reasoning_effort=ReasoningEffort.LOW))  # fmt: skip

    assert unsupported_params(by_effort, _deployment()) == ["reasoning_effort"]
    assert unsupported_params(by_config, _deployment()) == ["thinking"]
    assert unsupported_params(closed, _deployment()) == []


# --- replies and streams ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [
        ("end_turn", FinishReason.STOP),
        ("stop_sequence", FinishReason.STOP),
        ("pause_turn", FinishReason.STOP),
        ("max_tokens", FinishReason.LENGTH),
        ("model_context_window_exceeded", FinishReason.LENGTH),
        ("tool_use", FinishReason.TOOL_CALLS),
        ("refusal", FinishReason.CONTENT_FILTER),
        ("a_reason_from_next_year", FinishReason.STOP),
        (None, None),
    ],
)
def test_stop_reasons_become_openai_finish_reasons(
    stop_reason: str | None, expected: FinishReason | None
) -> None:
    assert finish_reason(stop_reason) is expected


def test_cache_reads_and_writes_count_into_prompt_tokens() -> None:
    assert usage(5, 7, cache_read=100, cache_creation=20) == Usage(
        prompt_tokens=125, completion_tokens=7, cached_tokens=100, cache_creation_tokens=20
    )


def test_a_reply_with_only_a_tool_call_has_no_content_and_a_reply_with_nothing_has_empty_content() -> None:
    call = {"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}}
    only_call = read_message({"id": "m", "content": [call], "stop_reason": "tool_use"})
    empty = read_message({"id": "m", "content": [], "stop_reason": "max_tokens"})

    assert only_call.choices[0].message.content is None
    assert only_call.choices[0].message.tool_calls[0].arguments == '{"a":1}'
    assert empty.choices[0].message.content == ""
    assert empty.choices[0].finish_reason is FinishReason.LENGTH


def test_a_body_that_is_no_message_is_a_bad_gateway() -> None:
    with pytest.raises(errors.BadGatewayError):
        read_message({"type": "message", "content": "oops"})


def test_tool_call_indexes_count_tool_use_blocks_only() -> None:
    events = [
        _start(),
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Checking."}},
        {"type": "content_block_stop", "index": 0},
        _tool_start(1, "toolu_a", "f"),
        _json_delta(1, '{"x":'),
        _json_delta(1, " 1}"),
        {"type": "content_block_stop", "index": 1},
        _tool_start(2, "toolu_b", "g"),
        _json_delta(2, '{"y": 2}'),
        {"type": "content_block_stop", "index": 2},
        *_end("tool_use"),
    ]

    chunks = _feed(events)

    (choice,) = assemble(chunks).choices
    assert [(c.id, c.name, c.arguments) for c in choice.message.tool_calls] == [
        ("toolu_a", "f", '{"x": 1}'),
        ("toolu_b", "g", '{"y": 2}'),
    ]
    heads = [call for chunk in chunks for ch in chunk.choices for call in ch.delta.tool_calls if call.id]
    assert [head.index for head in heads] == [0, 1]
    assert choice.finish_reason is FinishReason.TOOL_CALLS


def test_a_streamed_call_without_arguments_ends_with_an_empty_object() -> None:
    chunks = _feed(
        [
            _start(),
            _tool_start(0, "toolu_a", "now"),
            {"type": "content_block_stop", "index": 0},
            *_end("tool_use"),
        ]
    )

    (call,) = assemble(chunks).choices[0].message.tool_calls
    assert call.arguments == "{}"


def test_stream_usage_adds_message_start_input_to_message_delta_output() -> None:
    chunks = _feed(
        [_start(3, cache_read_input_tokens=50, cache_creation_input_tokens=7), *_end("end_turn", 42)]
    )

    assert chunks[-1].choices == ()
    assert chunks[-1].usage == Usage(
        prompt_tokens=60, completion_tokens=42, cached_tokens=50, cache_creation_tokens=7
    )
    assert chunks[-2].choices[0].finish_reason is FinishReason.STOP


def test_role_comes_on_the_first_chunk_only() -> None:
    events = [
        _start(),
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "ping"},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "abc"}},
        *_end("end_turn"),
    ]

    chunks = _feed(events)

    roles = [choice.delta.role for chunk in chunks for choice in chunk.choices]
    assert roles == ["assistant", None, None, None]


@pytest.mark.parametrize(
    ("error_type", "kind"),
    [
        ("overloaded_error", errors.ServiceUnavailableError),
        ("api_error", errors.InternalServerError),
        ("rate_limit_error", errors.RateLimitError),
        ("invalid_request_error", errors.BadRequestError),
        ("timeout_error", errors.TimeoutError),
        ("something_new", errors.InternalServerError),
    ],
)
def test_an_error_event_raises_the_error_its_type_names(
    error_type: str, kind: type[errors.SwitchyardError]
) -> None:
    event = {"type": "error", "error": {"type": error_type, "message": "boom"}}

    with pytest.raises(errors.SwitchyardError) as raised:
        _feed([_start(), event])

    assert type(raised.value) is kind
    assert raised.value.message == "boom"


# --- errors ----------------------------------------------------------------------------------------


def _error(kind: str, message: str) -> bytes:
    return b'{"type":"error","error":{"type":"%s","message":"%s"}}' % (kind.encode(), message.encode())


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (400, _error("invalid_request_error", "input length and `max_tokens` exceed context limit: 9 > 2"),
         errors.ContextWindowExceededError),
        (402, _error("billing_error", "Your credit balance is too low"), errors.PermissionDeniedError),
        (413, _error("request_too_large", "Request too large"), errors.BadRequestError),
        (529, _error("overloaded_error", "Overloaded"), errors.ServiceUnavailableError),
        (503, b"upstream connect error", errors.ServiceUnavailableError),
        (418, b"", errors.BadRequestError),
    ],
)  # fmt: skip
def test_error_answers_map_by_status_and_message(
    status: int, body: bytes, kind: type[errors.SwitchyardError]
) -> None:
    error = upstream_error(status, body)

    assert type(error) is kind
    assert error.message


def test_without_retry_after_a_rate_limit_waits_for_the_exhausted_limits_reset() -> None:
    now = datetime.datetime.now(datetime.UTC)

    def at(seconds: int) -> str:
        return (now + datetime.timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")

    headers = {
        "anthropic-ratelimit-requests-remaining": "10",
        "anthropic-ratelimit-requests-reset": at(50),
        "anthropic-ratelimit-output-tokens-remaining": "0",
        "anthropic-ratelimit-output-tokens-reset": at(20),
    }

    waited = retry_after(headers)

    assert waited is not None and 18 <= waited <= 20


def test_retry_after_wins_over_the_reset_times() -> None:
    headers = {"retry-after": "3", "anthropic-ratelimit-tokens-reset": "2999-01-01T00:00:00Z"}

    assert retry_after(headers) == 3.0
    assert retry_after({}) is None


# --- issue 6: thinking blocks, documents, budgets, stop sequences, native streams ----------------------


def test_an_assistant_turn_leads_with_its_signed_and_redacted_thinking_and_drops_unsigned_reasoning() -> None:
    blocks = (
        ThinkingBlock("hmm", "sig-1"),
        ThinkingBlock("from elsewhere"),
        ThinkingBlock(redacted="opaque"),
    )
    message = Message(
        Role.ASSISTANT, "Calling.", tool_calls=(ToolCall("t1", "f", "{}"),), thinking_blocks=blocks
    )

    _, turns = split_messages([Message(Role.USER, "Go"), message])

    assert turns[1]["content"] == [
        {"type": "thinking", "thinking": "hmm", "signature": "sig-1"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "Calling."},
        {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
    ]


def test_a_text_document_may_be_percent_encoded_but_not_broken_base64() -> None:
    block = document_block(DocumentPart("data:text/markdown,%23%20Title%0Abody"))

    assert block["source"] == {"type": "text", "media_type": "text/plain", "data": "# Title\nbody"}
    with pytest.raises(errors.BadRequestError):
        document_block(DocumentPart("data:text/plain;base64,not*base64"))


def test_thinking_in_a_tool_loop_is_fine_when_the_signed_thinking_came_back() -> None:
    signed = Message(
        Role.ASSISTANT,
        None,
        tool_calls=(ToolCall("t1", "f", "{}"),),
        thinking_blocks=(ThinkingBlock("x", "s"),),
    )
    request = _request(
        Message(Role.USER, "Weather?"),
        signed,
        Message(Role.TOOL, "sunny", tool_call_id="t1"),
        params=SamplingParams(reasoning_effort=ReasoningEffort.LOW),
    )

    assert unsupported_params(request, _deployment()) == []


def test_a_thinking_budget_and_top_k_are_named_where_the_model_cannot_take_them() -> None:
    budget = _request(params=SamplingParams(thinking_budget=2048))
    top_k = _request(params=SamplingParams(top_k=5))
    both = _request(params=SamplingParams(thinking_budget=2048, top_k=5))

    assert unsupported_params(budget, _deployment("claude-3-5-haiku-20241022")) == ["thinking_budget"]
    assert unsupported_params(top_k, _deployment("claude-opus-4-7")) == ["top_k"]
    assert unsupported_params(top_k, _deployment()) == []
    assert unsupported_params(both, _deployment()) == ["top_k"]  # thinking takes no top_k


def test_a_native_request_names_nothing_unsupported() -> None:
    native = NativeRequest("anthropic", {"model": "claude", "messages": [], "max_tokens": 5, "top_k": 3})
    request = _request(params=SamplingParams(top_k=3, seed=1), native=native)

    assert unsupported_params(request, _deployment("claude-opus-4-7")) == []


@pytest.mark.parametrize(
    ("budget", "effort"), [(1024, "low"), (2048, "low"), (5000, "medium"), (10**6, "xhigh")]
)
def test_a_thinking_budget_on_an_adaptive_model_becomes_the_effort_that_covers_it(
    budget: int, effort: str
) -> None:
    assert effort_for_budget(budget) == effort


def test_a_token_count_body_keeps_only_what_count_tokens_accepts() -> None:
    body = {
        "model": "claude",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "temperature": 0.2,
        "metadata": {"user_id": "u"},
        "cache_control": {"type": "ephemeral"},
        "mcp_servers": [{"type": "url", "url": "https://mcp.example", "name": "m"}],
    }
    request = _request(native=NativeRequest("anthropic", body))

    assert count_tokens_body(request, _deployment()) == {
        "model": "claude-sonnet-4-5-20250929",
        "messages": [{"role": "user", "content": "Hi"}],
        "cache_control": {"type": "ephemeral"},
        "mcp_servers": [{"type": "url", "url": "https://mcp.example", "name": "m"}],
    }


def test_signatures_and_redacted_blocks_stream_as_their_own_deltas() -> None:
    events = [
        _start(),
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Hm."}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "s1"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "redacted_thinking", "data": "r1"},
        },
        {"type": "content_block_stop", "index": 1},
        *_end("end_turn"),
    ]

    deltas = [choice.delta for chunk in _feed(events) for choice in chunk.choices]

    assert deltas[1:4] == [
        Delta(reasoning_content="Hm."),
        Delta(thinking_signature="s1"),
        Delta(redacted_thinking="r1"),
    ]


def test_the_stop_sequence_of_message_delta_is_on_the_finish_chunk() -> None:
    stop = {"type": "message_delta", "delta": {"stop_reason": "stop_sequence", "stop_sequence": "###"}}

    chunks = _feed([_start(), stop, {"type": "message_stop"}])

    assert chunks[-2].choices[0].stop_sequence == "###"
    assert chunks[-2].choices[0].finish_reason is FinishReason.STOP


def test_a_whole_reply_keeps_the_stop_sequence_and_a_thinking_block_whose_text_was_omitted() -> None:
    reply = read_message(
        {
            "id": "m",
            "content": [
                {"type": "thinking", "thinking": "", "signature": "s"},
                {"type": "text", "text": "1, 2"},
            ],
            "stop_reason": "stop_sequence",
            "stop_sequence": "3",
        }
    )

    (choice,) = reply.choices
    assert choice.stop_sequence == "3"
    assert choice.message.thinking_blocks == (ThinkingBlock("", "s"),)
    assert choice.message.reasoning_content is None


@pytest.mark.parametrize(
    "stream",
    [
        b"event: a\ndata: 1\n\nevent: b\ndata: 2\n\nevent: c\nda",
        b"event: a\r\ndata: 1\r\n\r\nevent: b\r\ndata: 2\r\n\r\nevent: c\r\nda",
        b"event: a\rdata: 1\r\revent: b\rdata: 2\r\revent: c\rda",
        b": a comment\n\nevent: a\ndata: 1\n\n\n\nevent: b\ndata: 2\n\nevent: c\nda",
    ],
)
def test_a_native_stream_splits_into_whole_events_that_join_back_to_the_same_bytes(stream: bytes) -> None:
    events, rest = split_events(stream)

    assert b"".join(events) + rest == stream
    assert [parsed for raw in events if (parsed := parse_event(raw))] == [("a", b"1"), ("b", b"2")]
    assert parse_event(rest) is None


def test_an_event_of_several_data_lines_joins_them_with_newlines() -> None:
    assert parse_event(b'event: x\ndata: {"a":\ndata:1}\n\n') == ("x", b'{"a":\n1}')


def test_a_529_is_coded_overloaded_whatever_its_body_and_so_is_an_overloaded_event() -> None:
    page = upstream_error(529, b"<html>overloaded</html>")
    event = upstream_error(
        None, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    )
    plain = upstream_error(503, b"upstream connect error")

    assert (type(page), page.code) == (errors.ServiceUnavailableError, "overloaded_error")
    assert (type(event), event.code) == (errors.ServiceUnavailableError, "overloaded_error")
    assert plain.code is None

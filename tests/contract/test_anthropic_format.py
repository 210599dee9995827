"""The Anthropic Messages format on the gateway's client side, both ways, against fixtures in Anthropic's
real format: requests as Anthropic clients (Claude Code among them) send them become the domain requests
they mean; domain replies and streams from any provider become what the official `anthropic` client
reads back; an Anthropic upstream's own replies and bytes pass untouched; errors keep Anthropic's
statuses and types."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import anthropic
import pytest

from adapters.anthropic_format import (
    message_events,
    parse_count_tokens_request,
    parse_messages_request,
    render_count_tokens,
    render_error,
    render_message,
    untranslated_fields,
)
from adapters.llm.anthropic.errors import upstream_error
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
from domain.errors import ServiceUnavailableError
from domain.messages import (
    DocumentPart,
    ImagePart,
    Message,
    NamedToolChoice,
    Role,
    TextPart,
    ThinkingBlock,
    ToolCall,
)
from ports.llm_provider import ChunkStream

try:  # the anthropic SDK's own HTTP library (httpx2 from its 2.x releases on), for a mock transport
    import httpx2 as sdk_http
except ImportError:  # pragma: no cover - older SDKs use httpx
    import httpx as sdk_http  # type: ignore[no-redef]

FIXTURES = Path(__file__).parent / "fixtures" / "anthropic_format"
UPSTREAM_FIXTURES = Path(__file__).parent / "fixtures" / "anthropic"
CLAUDE_CODE_HEADERS = {
    "anthropic-version": "2023-06-01",
    "anthropic-beta": (
        "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14"
    ),
    "x-api-key": "sk-switchyard-key",
    "user-agent": "claude-cli/2.0.36 (external, cli)",
}
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def events_of(data: bytes) -> list[tuple[str, Any]]:
    """A text/event-stream body as (event name, decoded data) pairs, in order."""
    found = []
    for raw in data.decode().split("\n\n"):
        if not raw.strip():
            continue
        fields = dict(line.split(": ", 1) for line in raw.split("\n"))
        found.append((fields["event"], json.loads(fields["data"])))
    return found


class ScriptedStream(ChunkStream):
    def __init__(self, batches: Sequence[Sequence[CompletionChunk] | Exception]) -> None:
        self._batches = batches
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[CompletionChunk]:
        async for batch in self.batches():
            for chunk in batch:
                yield chunk

    async def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        for batch in self._batches:
            if isinstance(batch, Exception):
                raise batch
            yield batch

    async def aclose(self) -> None:
        self.closed = True


async def written(batches: Sequence[Sequence[CompletionChunk] | Exception], model: str) -> list[bytes]:
    return [data async for data in message_events(ScriptedStream(batches), model)]


def chunk(chunk_id: str, delta: Delta | None = None, **choice: Any) -> CompletionChunk:
    return CompletionChunk(
        chunk_id, 1_700_000_000, "upstream-model", (ChunkChoice(0, delta or Delta(), **choice),)
    )


def usage_chunk(chunk_id: str, usage: Usage) -> CompletionChunk:
    return CompletionChunk(chunk_id, 1_700_000_000, "upstream-model", (), usage)


async def official_client_reads(body: bytes, *, stream: bool) -> anthropic.types.Message:
    """What the official anthropic client makes of `body` served as the answer to a Messages call."""

    def answer(request: sdk_http.Request) -> sdk_http.Response:
        kind = "text/event-stream" if stream else "application/json"
        return sdk_http.Response(200, headers={"content-type": kind}, content=body)

    client = anthropic.AsyncAnthropic(
        api_key="sk-test",
        base_url="http://gateway.test",
        http_client=sdk_http.AsyncClient(transport=sdk_http.MockTransport(answer)),
    )
    request: dict[str, Any] = {
        "model": "m",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    async with client:
        if not stream:
            return await client.messages.create(**request)
        async with client.messages.stream(**request) as events:
            return await events.get_final_message()


# --- requests -------------------------------------------------------------------------------------------


def test_a_claude_code_request_becomes_the_domain_request_it_means() -> None:
    body = load("request_claude_code.json")

    request = parse_messages_request(body, CLAUDE_CODE_HEADERS)

    assert request.model == "claude-sonnet-4-5-20250929"
    assert request.stream is True and request.include_usage is True
    assert request.params.max_tokens == 32000
    assert request.params.temperature == 1
    assert request.params.thinking_budget == 31999
    assert request.params.user == body["metadata"]["user_id"]
    assert [tool.name for tool in request.tools] == [tool["name"] for tool in body["tools"]]
    assert len(request.tools) == 15
    assert all(
        tool.parameters is source["input_schema"]
        for tool, source in zip(request.tools, body["tools"], strict=True)
    )
    assert request.tools[1].description == body["tools"][1]["description"]
    assert request.tool_choice is None
    assert [message.role for message in request.messages] == [
        Role.SYSTEM, Role.USER, Role.ASSISTANT, Role.TOOL, Role.TOOL, Role.ASSISTANT, Role.TOOL,
        Role.ASSISTANT, Role.TOOL, Role.USER,
    ]  # fmt: skip
    system, first, assistant, read, bash, second, edited, third, image, reminder = request.messages
    assert system.content == (
        TextPart("You are Claude Code, Anthropic's official CLI for Claude."),
        TextPart(body["system"][1]["text"]),
    )
    assert first.content == (
        TextPart(body["messages"][0]["content"][0]["text"]),
        TextPart("The test in tests/test_math.py fails, fix it."),
    )
    assert assistant.content == "I'll read the test and run it."
    assert assistant.tool_calls == (
        ToolCall("toolu_01A09q90qw90lq917835lq9", "Read", '{"file_path":"/repo/tests/test_math.py"}'),
        ToolCall(
            "toolu_01B7Dq4mXx9K3fPoVn2sTq8R",
            "Bash",
            '{"command":"pytest -q tests/test_math.py","description":"Run the failing test"}',
        ),
    )
    assert assistant.thinking_blocks == (
        ThinkingBlock(
            "I should read the test and run it to see the failure.",
            signature=body["messages"][1]["content"][0]["signature"],
        ),
    )
    assert assistant.reasoning_content == "I should read the test and run it to see the failure."
    assert (read.tool_call_id, read.tool_error) == ("toolu_01A09q90qw90lq917835lq9", False)
    assert read.content.startswith("     1\tfrom mathlib import add")
    assert (bash.tool_call_id, bash.tool_error) == ("toolu_01B7Dq4mXx9K3fPoVn2sTq8R", True)
    assert second.content is None
    assert second.thinking_blocks == (
        ThinkingBlock("add() must be off by one.", signature=body["messages"][3]["content"][0]["signature"]),
        ThinkingBlock(redacted=body["messages"][3]["content"][1]["data"]),
    )
    assert [call.name for call in second.tool_calls] == ["Edit"]
    assert edited.content == "The file /repo/mathlib.py has been updated."
    assert third.tool_calls[0].arguments == '{"file_path":"/repo/docs/result.png"}'
    assert image.content == (ImagePart(f"data:image/png;base64,{PNG}"),)
    assert reminder.content == body["messages"][6]["content"][1]["text"]


def test_a_claude_code_request_keeps_its_body_and_anthropic_headers_for_an_anthropic_deployment() -> None:
    body = load("request_claude_code.json")

    request = parse_messages_request(body, CLAUDE_CODE_HEADERS)

    assert request.native is not None
    assert request.native.format == "anthropic"
    assert request.native.body is body
    assert request.native.headers == {
        "anthropic-version": "2023-06-01",
        "anthropic-beta": CLAUDE_CODE_HEADERS["anthropic-beta"],
    }
    assert request.extra_body == {}
    assert untranslated_fields(body) == ()


def test_documents_and_images_of_every_source_become_parts_in_order() -> None:
    body = load("request_documents.json")

    request = parse_messages_request(body, {})

    (message,) = request.messages
    pdf, text, url, chunks, image_url, image_data, question = message.content
    assert pdf == DocumentPart(
        "data:application/pdf;base64," + body["messages"][0]["content"][0]["source"]["data"],
        title="Q3 report",
        context="Internal, unaudited",
    )
    assert text == DocumentPart(
        "data:text/plain;base64,VGhlIGdyYXNzIGlzIGdyZWVuLiBUaGUgc2t5IGlzIGJsdWUu", title="My Document"
    )
    assert url == DocumentPart(body["messages"][0]["content"][2]["source"]["url"])
    assert chunks == DocumentPart(
        "data:text/plain;base64,Rmlyc3QgY2h1bmsKClNlY29uZCBjaHVuaw==", title="Chunks"
    )
    assert image_url == ImagePart(body["messages"][0]["content"][4]["source"]["url"])
    assert image_data == ImagePart(f"data:image/png;base64,{PNG}")
    assert question == TextPart("Summarise these and describe the images.")
    assert request.params.stop == ("\n\nHuman:", "END")
    assert (request.params.temperature, request.params.top_p, request.params.top_k) == (0.2, 0.9, 40)
    assert request.stream is False and request.native is not None and request.native.headers == {}


def test_server_tools_and_their_blocks_stay_in_the_native_body_and_are_named_as_untranslated() -> None:
    body = load("request_server_tools.json")

    request = parse_messages_request(body, {"anthropic-version": "2023-06-01"})

    assert [tool.name for tool in request.tools] == ["get_weather"]
    assert request.tool_choice == NamedToolChoice("get_weather")
    assert request.params.parallel_tool_calls is False
    assert request.messages == (
        Message(Role.USER, "What's new in Python 3.13, and the weather in Paris?"),
        Message(Role.ASSISTANT, "Python 3.13 adds a free-threaded build."),
        Message(Role.USER, "Use the tool for the weather, please."),
    )
    assert request.extra_body == {
        "container": "container_011CPR5CNjB747bTd36fQLFk",
        "service_tier": "standard_only",
    }
    assert request.native is not None and request.native.body is body
    assert untranslated_fields(body) == (
        "tools.0",
        "tools.1",
        "messages.1.content.0",
        "messages.1.content.1",
        "messages.2.content.0",
    )


def test_a_count_tokens_request_needs_no_max_tokens_and_never_streams() -> None:
    body = load("count_tokens_request.json")

    request = parse_count_tokens_request(body, {"anthropic-version": "2023-06-01"})

    assert request.messages == (
        Message(Role.SYSTEM, "You are a scientist"),
        Message(Role.USER, "Hello, Claude"),
    )
    assert request.params.max_tokens is None
    assert request.params.thinking_budget == 16000
    assert [tool.name for tool in request.tools] == ["get_weather"]
    assert request.stream is False
    assert request.native is not None and request.native.body is body
    assert render_count_tokens(42) == {"input_tokens": 42}


# --- replies ---------------------------------------------------------------------------------------------


def test_a_reply_from_another_provider_renders_as_the_message_anthropic_documents() -> None:
    response = CompletionResponse(
        id="chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        created=1_741_570_283,
        model="gpt-4o-2024-08-06",
        choices=(
            Choice(
                0,
                Message(
                    Role.ASSISTANT,
                    "I'll check the current weather in Boston for you.",
                    tool_calls=(
                        ToolCall(
                            "call_62136354",
                            "get_current_weather",
                            '{"location": "Boston, MA", "unit": "celsius"}',
                        ),
                    ),
                    reasoning_content="The user wants the weather in Boston; I should call the tool.",
                ),
                FinishReason.TOOL_CALLS,
            ),
        ),
        usage=Usage(prompt_tokens=1374, completion_tokens=67, cached_tokens=1024, cache_creation_tokens=100),
    )

    rendered = render_message(response, "claude-via-gpt")

    assert rendered == load("message_tool_use.json")
    assert anthropic.types.Message.model_validate(rendered).content[2].input == {
        "location": "Boston, MA",
        "unit": "celsius",
    }


def test_a_reply_that_hit_a_stop_sequence_names_it() -> None:
    response = CompletionResponse(
        id="msg_01Gemini0000StopSeq",
        created=0,
        model="gemini-2.5-flash",
        choices=(
            Choice(0, Message(Role.ASSISTANT, "One, two, three"), FinishReason.STOP, stop_sequence="four"),
        ),
        usage=Usage(prompt_tokens=12, completion_tokens=6),
    )

    assert render_message(response, "claude-via-gemini") == load("message_stop_sequence.json")


async def test_the_official_client_reads_a_rendered_reply() -> None:
    rendered = load("message_tool_use.json")

    message = await official_client_reads(json.dumps(rendered).encode(), stream=False)

    assert message.stop_reason == "tool_use"
    assert [block.type for block in message.content] == ["thinking", "text", "tool_use"]
    assert message.usage.cache_read_input_tokens == 1024


def test_a_native_reply_goes_back_exactly_as_anthropic_sent_it() -> None:
    received = json.loads((UPSTREAM_FIXTURES / "message.json").read_text())
    response = CompletionResponse(
        id=received["id"],
        created=0,
        model=received["model"],
        choices=(
            Choice(0, Message(Role.ASSISTANT, "Hello! How can I assist you today?"), FinishReason.STOP),
        ),
        usage=Usage(prompt_tokens=19, completion_tokens=12, cached_tokens=10, cache_creation_tokens=4),
        native=received,
    )

    assert render_message(response, "my-claude") is received


# --- streams ---------------------------------------------------------------------------------------------


async def test_a_text_stream_is_written_in_anthropics_event_order() -> None:
    batches = [
        [chunk("chatcmpl-9zX1", Delta(role="assistant", content=""))],
        [chunk("chatcmpl-9zX1", Delta(content="Hello")), chunk("chatcmpl-9zX1", Delta(content=" there!"))],
        [chunk("chatcmpl-9zX1", finish_reason=FinishReason.STOP)],
        [usage_chunk("chatcmpl-9zX1", Usage(prompt_tokens=25, completion_tokens=5, cached_tokens=10))],
    ]

    data = b"".join(await written(batches, "claude-via-gpt"))

    assert events_of(data) == events_of((FIXTURES / "stream_text.sse").read_bytes())


async def test_a_streamed_text_and_parallel_tool_calls_each_get_their_own_block() -> None:
    call = "chatcmpl-9zX2"
    batches = [
        [chunk(call, Delta(role="assistant", content="I'll check both."))],
        [
            chunk(
                call, Delta(tool_calls=(ToolCallDelta(0, id="call_w3Rr", name="get_weather", arguments=""),))
            )
        ],
        [chunk(call, Delta(tool_calls=(ToolCallDelta(0, arguments='{"location":'),)))],
        [chunk(call, Delta(tool_calls=(ToolCallDelta(0, arguments=' "Paris"}'),)))],
        [
            chunk(
                call,
                Delta(
                    tool_calls=(ToolCallDelta(1, id="call_t1Me", name="get_time", arguments='{"tz": "CET"}'),)
                ),
            )
        ],
        [chunk(call, finish_reason=FinishReason.TOOL_CALLS), usage_chunk(call, Usage(80, 31))],
    ]

    data = b"".join(await written(batches, "claude-via-gpt"))

    assert events_of(data) == events_of((FIXTURES / "stream_tool_use.sse").read_bytes())
    message = await official_client_reads(data, stream=True)
    assert [block.type for block in message.content] == ["text", "tool_use", "tool_use"]
    assert message.content[1].input == {"location": "Paris"}
    assert message.content[2].input == {"tz": "CET"}
    assert (message.stop_reason, message.usage.input_tokens, message.usage.output_tokens) == (
        "tool_use",
        80,
        31,
    )


async def test_streamed_thinking_keeps_its_signature_and_redacted_blocks() -> None:
    call = "msg_01ThinkingViaBedrock0"
    signature = "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"
    redacted = "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP"
    batches = [
        [chunk(call, Delta(role="assistant", reasoning_content="The user asks for 2+2."))],
        [
            chunk(call, Delta(reasoning_content=" That is 4.")),
            chunk(call, Delta(thinking_signature=signature)),
        ],
        [chunk(call, Delta(redacted_thinking=redacted))],
        [chunk(call, Delta(content="2 + 2 = 4."))],
        [chunk(call, finish_reason=FinishReason.STOP), usage_chunk(call, Usage(40, 61, reasoning_tokens=48))],
    ]

    data = b"".join(await written(batches, "claude-via-bedrock"))

    assert events_of(data) == events_of((FIXTURES / "stream_thinking.sse").read_bytes())
    message = await official_client_reads(data, stream=True)
    thinking, hidden, text = message.content
    assert (thinking.thinking, thinking.signature) == ("The user asks for 2+2. That is 4.", signature)
    assert hidden.data == redacted
    assert text.text == "2 + 2 = 4."


async def test_a_native_stream_is_written_byte_for_byte_one_write_per_batch() -> None:
    raw = (UPSTREAM_FIXTURES / "stream_tool_use.sse").read_bytes()
    events = [event + b"\n\n" for event in raw.split(b"\n\n") if event]
    half = len(events) // 2
    translated = Delta(content="ignored: the upstream's own bytes are the stream")
    batches = [
        [CompletionChunk("m", 0, "x", (ChunkChoice(0, translated),), native=b"".join(events[:half]))],
        [CompletionChunk("m", 0, "x", native=event) for event in events[half:]],
    ]

    writes = await written(batches, "my-claude")

    assert writes == [b"".join(events[:half]), b"".join(events[half:])]
    assert b"".join(writes) == raw


async def test_an_overloaded_upstream_mid_stream_ends_it_with_anthropics_error_event() -> None:
    failure = upstream_error(None, json.loads((UPSTREAM_FIXTURES / "errors" / "overloaded.json").read_text()))
    stream = ScriptedStream([[chunk("chatcmpl-1", Delta(content="Hel"))], failure])

    data = b"".join([piece async for piece in message_events(stream, "m")])

    *_, last = events_of(data)
    assert last == (
        "error",
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    )
    assert stream.closed


# --- errors ----------------------------------------------------------------------------------------------

UPSTREAM_ERRORS = [
    ("invalid_request.json", 400, "invalid_request_error"),
    ("prompt_too_long.json", 400, "invalid_request_error"),
    ("content_filtering.json", 400, "invalid_request_error"),
    ("authentication.json", 401, "authentication_error"),
    ("billing.json", 402, "billing_error"),
    ("permission.json", 403, "permission_error"),
    ("not_found.json", 404, "not_found_error"),
    ("request_too_large.json", 413, "request_too_large"),
    ("rate_limit.json", 429, "rate_limit_error"),
    ("api_error.json", 500, "api_error"),
    ("timeout.json", 504, "timeout_error"),
    ("overloaded.json", 529, "overloaded_error"),
]


@pytest.mark.parametrize(("name", "status", "kind"), UPSTREAM_ERRORS)
def test_an_anthropic_error_read_into_the_domain_renders_back_with_its_status_and_type(
    name: str, status: int, kind: str
) -> None:
    body = (UPSTREAM_FIXTURES / "errors" / name).read_bytes()
    sent = json.loads(body)

    rendered_status, rendered = render_error(upstream_error(status, body))

    assert rendered_status == status
    assert rendered == {"type": "error", "error": {"type": kind, "message": sent["error"]["message"]}}


def test_an_error_names_the_request_when_asked() -> None:
    status, body = render_error(
        ServiceUnavailableError("Overloaded", code="overloaded_error"), "req_011CSHoEeqs5"
    )

    assert status == 529
    assert body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
        "request_id": "req_011CSHoEeqs5",
    }

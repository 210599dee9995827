"""Domain chunk streams written as the Responses API's events: OpenAI's sequence for each kind of output
item, every event valid for the official SDK and accumulated by its own stream state into the response
that `finished` gets, failures as response.failed, native bytes untouched, the stream always closed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from openai import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from adapters.responses_format import parse_responses_request, response_events
from adapters.responses_format.items import REDACTED
from domain.completions import ChunkChoice, CompletionChunk, Delta, FinishReason, ToolCallDelta, Usage
from domain.errors import ContextWindowExceededError
from ports.llm_provider import ChunkStream
from tests.unit.test_responses_format_requests import APPLY_PATCH, GITHUB, WEATHER, body

EVENT = TypeAdapter(ResponseStreamEvent)
USAGE = Usage(prompt_tokens=10, completion_tokens=5, reasoning_tokens=2)


class Batches(ChunkStream):
    def __init__(self, *batches: Sequence[CompletionChunk] | Exception) -> None:
        self._batches = batches
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[CompletionChunk]:
        async for batch in self.batches():
            for item in batch:
                yield item

    async def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        for batch in self._batches:
            if isinstance(batch, Exception):
                raise batch
            yield batch

    async def aclose(self) -> None:
        self.closed = True


def delta(**fields: Any) -> CompletionChunk:
    finish = fields.pop("finish_reason", None)
    usage = fields.pop("usage", None)
    choice = ChunkChoice(fields.pop("index", 0), Delta(**fields), finish)
    return CompletionChunk("chatcmpl-7", 0, "upstream", (choice,), usage=usage)


def call(index: int, **fields: Any) -> CompletionChunk:
    return delta(tool_calls=(ToolCallDelta(index, **fields),))


def end(finish: FinishReason = FinishReason.STOP) -> list[CompletionChunk]:
    return [delta(finish_reason=finish), CompletionChunk("chatcmpl-7", 0, "upstream", usage=USAGE)]


class Run:
    """One stream written out: the bytes, what `finished` got, and the order of the two."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.finished: list[dict[str, Any]] = []
        self.order: list[str] = []
        self.stream: Batches | None = None

    async def __call__(self, *batches: Sequence[CompletionChunk] | Exception, **sent: Any) -> Run:
        self.sent = sent
        self.call = parse_responses_request(body(**sent))
        self.stream = Batches(*batches)

        async def finished(response: dict[str, Any]) -> None:
            self.finished.append(response)
            self.order.append("finished")

        async for data in response_events(
            self.stream, self.call, response_id="resp_1", created_at=1_700_000_000, finished=finished
        ):
            self.writes.append(data)
            self.order.append("write")
        return self

    def events(self) -> list[dict[str, Any]]:
        found = []
        for raw in b"".join(self.writes).decode().split("\n\n"):
            if raw:
                name, payload = raw.split("\n")
                event = json.loads(payload.removeprefix("data: "))
                assert name == f"event: {event['type']}"
                found.append(event)
        return found

    def names(self) -> list[str]:
        return [event["type"] for event in self.events()]

    def final(self) -> dict[str, Any]:
        return self.events()[-1]["response"]

    def checked(self) -> Any:
        """Every event valid for the SDK, numbered in order, accumulated by the SDK's own stream state;
        the response it completes with."""
        state = ResponseStreamState(input_tools=self.sent.get("tools", omit), text_format=omit)
        completed = None
        for number, event in enumerate(self.events()):
            assert event["sequence_number"] == number
            for handled in state.handle_event(EVENT.validate_python(event)):
                if handled.type in ("response.completed", "response.incomplete", "response.failed"):
                    completed = handled.response
        Response.model_validate(self.final())
        return completed


@pytest.fixture
def run() -> Run:
    return Run()


async def test_a_text_reply_streams_as_openai_streams_a_message(run: Run) -> None:
    await run([delta(role="assistant", content="Hel"), delta(content="lo")], end())

    assert run.names() == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    completed = run.checked()
    assert completed.output_text == "Hello"
    final = run.final()
    assert final["status"] == "completed" and final["model"] == "gpt-5"
    assert (
        final["usage"]["input_tokens"] == 10
        and final["usage"]["output_tokens_details"]["reasoning_tokens"] == 2
    )
    created = run.events()[0]["response"]
    assert (created["status"], created["output"], created["usage"]) == ("in_progress", [], None)
    assert run.finished == [final]
    assert run.stream is not None and run.stream.closed


async def test_each_batch_is_one_write_and_the_end_is_written_after_finished_has_the_response(
    run: Run,
) -> None:
    await run([delta(content="a"), delta(content="b")], [delta(content="c")], end())

    # The last batch (finish reason and usage) has no event of its own: it goes with the end.
    assert run.order == ["write", "write", "finished", "write"]


async def test_every_streamed_item_is_in_the_final_output_with_the_same_id(run: Run) -> None:
    await run(
        [delta(reasoning_content="Let me think."), delta(thinking_signature="EqQBsig==")],
        [delta(content="Calling.")],
        [call(0, id="call_a", name="get_weather", arguments='{"city":')],
        [
            call(0, arguments='"Paris"}'),
            call(1, id="call_b", name="get_weather", arguments='{"city":"Rome"}'),
        ],
        end(FinishReason.TOOL_CALLS),
        tools=[WEATHER],
    )

    run.checked()
    added = [event["item"]["id"] for event in run.events() if event["type"] == "response.output_item.added"]
    done = [event["item"] for event in run.events() if event["type"] == "response.output_item.done"]
    output = run.final()["output"]
    assert [item["id"] for item in output] == added == [item["id"] for item in done]
    assert [item["type"] for item in output] == ["reasoning", "message", "function_call", "function_call"]
    assert output[2]["arguments"] == '{"city":"Paris"}' and output[3]["call_id"] == "call_b"
    assert output == done


async def test_parallel_function_calls_stream_their_arguments_and_end_with_the_name(run: Run) -> None:
    await run(
        [call(0, id="call_a", name="get_weather", arguments='{"ci'), call(0, arguments='ty":"Paris"}')],
        [call(1, id="call_b", name="get_weather", arguments='{"city":"Rome"}')],
        end(FinishReason.TOOL_CALLS),
        tools=[WEATHER],
    )

    completed = run.checked()
    events = run.events()
    assert [
        event["delta"] for event in events if event["type"] == "response.function_call_arguments.delta"
    ] == [
        '{"ci',
        'ty":"Paris"}',
        '{"city":"Rome"}',
    ]
    done = [event for event in events if event["type"] == "response.function_call_arguments.done"]
    assert [(event["arguments"], event["name"]) for event in done] == [
        ('{"city":"Paris"}', "get_weather"),
        ('{"city":"Rome"}', "get_weather"),
    ]
    assert [item.call_id for item in completed.output] == ["call_a", "call_b"]
    assert completed.output[0].parsed_arguments == {"city": "Paris"}


async def test_a_fragment_for_a_call_already_done_still_reaches_the_final_arguments(run: Run) -> None:
    await run(
        [call(0, id="call_a", name="get_weather", arguments='{"city":')],
        [
            call(1, id="call_b", name="get_weather", arguments='{"city":"Rome"}'),
            call(0, arguments='"Paris"}'),
        ],
        end(FinishReason.TOOL_CALLS),
        tools=[WEATHER],
    )

    completed = run.checked()
    assert [item.arguments for item in completed.output] == ['{"city":"Paris"}', '{"city":"Rome"}']
    assert run.finished[0]["output"][0]["arguments"] == '{"city":"Paris"}'


async def test_a_custom_tool_call_streams_its_decoded_input_whole(run: Run) -> None:
    await run(
        [
            call(0, id="call_p", name="apply_patch", arguments='{"input":"*** Begin'),
            call(0, arguments=' Patch\\n"}'),
        ],
        end(FinishReason.TOOL_CALLS),
        tools=[APPLY_PATCH],
    )

    run.checked()
    assert run.names()[2:] == [
        "response.output_item.added",
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done",
        "response.output_item.done",
        "response.completed",
    ]
    (item,) = run.final()["output"]
    assert item["id"].startswith("ctc_")
    assert {**item, "id": "x"} == {
        "id": "x",
        "type": "custom_tool_call",
        "call_id": "call_p",
        "input": "*** Begin Patch\n",
        "name": "apply_patch",
    }
    assert run.events()[3]["delta"] == run.events()[4]["input"] == "*** Begin Patch\n"


async def test_a_flattened_namespace_tool_is_named_back_with_its_namespace(run: Run) -> None:
    await run([call(0, id="call_1", name="github__create_issue", arguments="{}")], end(), tools=[GITHUB])

    completed = run.checked()
    added = run.events()[2]["item"]
    assert (added["name"], added["namespace"]) == ("create_issue", "github")
    assert (completed.output[0].name, completed.output[0].namespace) == ("create_issue", "github")


async def test_reasoning_streams_as_a_summary_and_its_signature_reaches_only_finished(run: Run) -> None:
    await run(
        [
            delta(reasoning_content="Think"),
            delta(reasoning_content="ing."),
            delta(thinking_signature="EqQBsig=="),
        ],
        [delta(redacted_thinking="opaque==")],
        [delta(content="42")],
        end(),
    )

    run.checked()
    assert run.names()[2:11] == [
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.output_item.done",
    ]
    thought, redacted, _ = run.finished[0]["output"]
    assert thought["summary"] == [{"type": "summary_text", "text": "Thinking."}]
    assert thought["encrypted_content"] == "EqQBsig=="
    assert redacted == {
        "id": redacted["id"],
        "type": "reasoning",
        "summary": [],
        "encrypted_content": REDACTED + "opaque==",
    }
    assert b"EqQBsig==" not in b"".join(run.writes)
    assert all("encrypted_content" not in item for item in run.final()["output"])


async def test_the_signature_is_streamed_when_the_client_includes_it(run: Run) -> None:
    await run(
        [delta(reasoning_content="Hm."), delta(thinking_signature="EqQBsig==")],
        end(),
        include=["reasoning.encrypted_content"],
    )

    run.checked()
    assert run.final()["output"][0]["encrypted_content"] == "EqQBsig=="
    done = next(event for event in run.events() if event["type"] == "response.output_item.done")
    assert done["item"]["encrypted_content"] == "EqQBsig=="


async def test_a_refusal_streams_as_a_refusal_part(run: Run) -> None:
    await run([delta(refusal="No.")], end())

    run.checked()
    assert "response.refusal.delta" in run.names() and "response.refusal.done" in run.names()
    assert run.final()["output"][0]["content"] == [{"type": "refusal", "refusal": "No."}]


async def test_a_reply_cut_at_the_token_limit_ends_with_response_incomplete(run: Run) -> None:
    await run([delta(content="Once upon a")], end(FinishReason.LENGTH))

    run.checked()
    assert run.names()[-1] == "response.incomplete"
    final = run.final()
    assert final["status"] == "incomplete" and final["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["output"][0]["status"] == "incomplete"


async def test_an_empty_stream_is_still_a_whole_response(run: Run) -> None:
    await run()

    run.checked()
    assert run.names() == ["response.created", "response.in_progress", "response.completed"]
    assert run.final()["output"] == []


async def test_a_failure_mid_stream_ends_it_with_response_failed_after_finished_has_it(run: Run) -> None:
    await run(
        [delta(content="Hel")],
        [call(0, id="call_1", name="get_weather", arguments='{"ci')],
        ContextWindowExceededError("too long"),
        tools=[WEATHER],
    )

    names = run.names()
    for event in run.events()[:-1]:  # the SDK's list of codes lacks context_length_exceeded
        EVENT.validate_python(event)
    assert names[-1] == "response.failed"
    assert "response.function_call_arguments.done" not in names  # half a call is never handed to run
    failed = run.final()
    assert failed["status"] == "failed"
    assert failed["error"] == {"code": "context_length_exceeded", "message": "too long"}
    assert [item["status"] for item in failed["output"]] == ["completed", "incomplete"]
    assert run.finished == [failed]
    assert run.order[-2:] == ["finished", "write"]
    assert [event["sequence_number"] for event in run.events()] == list(range(len(names)))
    assert run.stream is not None and run.stream.closed


async def test_a_failure_before_any_chunk_still_starts_the_response(run: Run) -> None:
    await run(RuntimeError("boom"))

    run.checked()
    assert run.names() == ["response.created", "response.in_progress", "response.failed"]
    assert run.final()["error"] == {"code": "server_error", "message": "The stream failed"}


NATIVE_START = (
    b'event: response.created\ndata: {"type":"response.created","sequence_number":0,'
    b'"response":{"id":"resp_up","object":"response","status":"in_progress","output":[]}}\n\n'
)
NATIVE_DELTA = (
    b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":1,'
    b'"item_id":"msg_up","output_index":0,"content_index":0,"delta":"response.completed","logprobs":[]}\n\n'
)
NATIVE_END = (
    b'event: response.completed\r\ndata: {"type":"response.completed","sequence_number":2,'
    b'"response":{"id":"resp_up","object":"response","status":"completed","output":[]}}\r\n\r\n'
)


def native(data: bytes) -> CompletionChunk:
    return CompletionChunk("resp_up", 0, "upstream", native=data)


async def test_native_bytes_are_written_as_they_came_and_finished_gets_the_upstreams_response(
    run: Run,
) -> None:
    await run(
        [native(NATIVE_START), native(b"")], [native(NATIVE_DELTA)], [native(NATIVE_END), delta(content="x")]
    )

    assert run.writes == [NATIVE_START, NATIVE_DELTA, NATIVE_END]
    assert run.finished == [{"id": "resp_up", "object": "response", "status": "completed", "output": []}]
    assert run.order == ["write", "write", "finished", "write"]


async def test_a_native_stream_that_breaks_off_ends_with_response_failed_in_its_own_numbering(
    run: Run,
) -> None:
    await run([native(NATIVE_START)], [native(NATIVE_DELTA)])

    assert run.writes[:2] == [NATIVE_START, NATIVE_DELTA]
    failed = run.events()[-1]
    assert failed["type"] == "response.failed" and failed["sequence_number"] == 2
    assert failed["response"]["id"] == "resp_up"
    assert run.finished == [failed["response"]]
    assert run.order == ["write", "write", "finished", "write"]

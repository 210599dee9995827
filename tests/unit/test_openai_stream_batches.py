"""How an OpenAI-format stream is handed on: the first chunk at once, the rest a batch per network read."""

from __future__ import annotations

from pathlib import Path

import httpx

from adapters.llm.openai import OpenAIProvider
from domain.completions import CompletionRequest
from domain.deployments import Deployment
from domain.messages import Message, Role

STREAM = (Path(__file__).parents[1] / "contract" / "fixtures" / "openai" / "chat_stream.sse").read_bytes()
DEPLOYMENT = Deployment(
    id="d", model_name="gpt", provider="openai", upstream_model="gpt-4o-mini", api_base="http://up/v1"
)
REQUEST = CompletionRequest(model="gpt", messages=(Message(Role.USER, "Hi"),), stream=True)


def _answering(*reads: bytes) -> OpenAIProvider:
    async def body() -> object:
        for read in reads:
            yield read

    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())

    return OpenAIProvider(httpx.AsyncClient(transport=httpx.MockTransport(answer)))


async def _batch_sizes(provider: OpenAIProvider) -> list[int]:
    stream = await provider.stream(REQUEST, DEPLOYMENT)
    return [len(batch) async for batch in stream.batches()]


async def test_a_reply_read_whole_hands_on_its_first_chunk_alone_then_the_rest_together() -> None:
    events = STREAM.count(b"data: {")

    assert await _batch_sizes(_answering(STREAM)) == [1, events - 1]


async def test_later_reads_are_handed_on_a_batch_each() -> None:
    cut = STREAM.index(b"data: {", STREAM.index(b"data: {") + 1)  # after the first event
    second = STREAM.index(b"data: {", STREAM.index(b"data: {", cut + 1) + 1)  # after two more

    sizes = await _batch_sizes(_answering(STREAM[:cut], STREAM[cut:second], STREAM[second:]))

    assert sizes == [1, 2, STREAM.count(b"data: {") - 3]


async def test_an_opening_event_without_a_chunk_leaves_the_first_chunk_to_go_alone() -> None:
    # Azure opens its streams with an event carrying only prompt_filter_results, and some hosts with a
    # comment: the first chunk with content still goes on alone.
    opening = b': keep-alive\n\ndata: {"id":"x","object":"chat.completion.chunk","choices":[]}\n\n'

    assert await _batch_sizes(_answering(opening + STREAM)) == [1, STREAM.count(b"data: {") - 1]


async def test_a_reply_with_crlf_line_endings_reads_as_the_same_chunks() -> None:
    plain = await _chunks_of(_answering(STREAM))
    crlf = await _chunks_of(_answering(STREAM.replace(b"\n", b"\r\n")))

    assert crlf == plain and len(plain) == STREAM.count(b"data: {")


async def test_a_reply_cut_anywhere_reads_as_the_same_chunks() -> None:
    whole = await _chunks_of(_answering(STREAM))

    for cut in (1, 7, STREAM.index(b"\n\n") + 1, STREAM.index(b"\n\n") + 2, len(STREAM) // 2):
        assert await _chunks_of(_answering(STREAM[:cut], STREAM[cut:])) == whole


async def _chunks_of(provider: OpenAIProvider) -> list[object]:
    stream = await provider.stream(REQUEST, DEPLOYMENT)
    return [chunk async for batch in stream.batches() for chunk in batch]

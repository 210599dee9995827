"""POST /v1/completions (the legacy text completion)."""

from __future__ import annotations

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency

from adapters.http.exchange import (
    HttpRequest,
    Inference,
    admitted,
    answered,
    exchange,
    released_on_failure,
    whole_reply,
    with_header_tags,
)
from adapters.http.sse import EventStream, sse_events
from adapters.openai_format.text_completions import (
    parse_text_completion_request,
    render_text_chunk,
    render_text_completion,
)

CALL_TYPE = "text_completion"


class TextCompletionsController(Controller):
    @post(["/v1/completions", "/completions"], status_code=200)
    async def create(self, request: Request, inference: NamedDependency[Inference]) -> Response:
        return await create_text_completion(request, inference)


async def create_text_completion(request: HttpRequest, inference: Inference) -> Response:
    """POST /v1/completions, as Litestar routes it and as the inference lane does."""
    completions = inference.completions

    async def handle(body: object, call_id: str, started: float) -> Response:
        asked = with_header_tags(parse_text_completion_request(body), request)
        user = asked.params.user
        if not asked.stream:
            return await whole_reply(
                inference, request, asked, user, call_id=call_id, started=started, call_type=CALL_TYPE,
                call=lambda ticket: completions.chat(
                    asked, call_id=call_id, caller=ticket.caller, call_type=CALL_TYPE
                ),
                render=render_text_completion,
            )  # fmt: skip
        kind = f"{CALL_TYPE}.stream"
        ticket = await admitted(inference, request, asked, user, call_id=call_id, call_type=kind)
        opened = await released_on_failure(
            ticket, completions.stream(asked, call_id=call_id, caller=ticket.caller, call_type=kind)
        )
        events = sse_events(ticket.guard(opened.value), render_text_chunk)
        return EventStream(events, answered(call_id, opened, started, ticket))

    return await exchange(request, handle, inference.in_flight)

"""POST /v1/chat/completions."""

from __future__ import annotations

import orjson
from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency

from adapters.http.exchange import (
    JSON,
    HttpRequest,
    Inference,
    admitted,
    answered,
    exchange,
    release_served,
    released_on_failure,
    with_header_tags,
)
from adapters.http.sse import EventStream, sse_events
from adapters.openai_format import parse_chat_request, render_response


class ChatController(Controller):
    @post(["/v1/chat/completions", "/chat/completions"], status_code=200)
    async def create(self, request: Request, inference: NamedDependency[Inference]) -> Response:
        return await create_chat(request, inference)


async def create_chat(request: HttpRequest, inference: Inference) -> Response:
    """POST /v1/chat/completions, as Litestar routes it and as the inference lane does."""
    completions = inference.completions

    async def handle(body: object, call_id: str, started: float) -> Response:
        chat_request = with_header_tags(parse_chat_request(body), request)
        kind = "stream" if chat_request.stream else "chat"
        user = chat_request.params.user
        ticket = await admitted(inference, request, chat_request, user, call_id=call_id, call_type=kind)
        caller = ticket.caller
        if chat_request.stream:
            opened = await released_on_failure(
                ticket, completions.stream(chat_request, call_id=call_id, caller=caller, call_type=kind)
            )
            events = sse_events(ticket.guard(opened.value))
            return EventStream(events, answered(call_id, opened, started, ticket))
        served = await released_on_failure(
            ticket, completions.chat(chat_request, call_id=call_id, caller=caller)
        )
        release_served(ticket, served)
        headers = answered(call_id, served, started, ticket)
        return Response(orjson.dumps(render_response(served.value)), media_type=JSON, headers=headers)

    return await exchange(request, handle, inference.in_flight)

"""POST /v1/messages and /v1/messages/count_tokens: Anthropic's Messages API, for every model.

The same use case as /v1/chat/completions, rendered in Anthropic's format; a request routed to an
Anthropic deployment goes through as the client sent it (see `domain.completions.NativeRequest`).
"""

from __future__ import annotations

import orjson
from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency

from adapters.anthropic_format import (
    message_events,
    parse_count_tokens_request,
    parse_messages_request,
    render_count_tokens,
    render_message,
)
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
from adapters.http.principal import principal_of
from adapters.http.sse import EventStream

_FORMAT_HEADERS = (b"anthropic-version", b"anthropic-beta")


def format_headers(request: Request) -> dict[str, str]:
    """Anthropic's own request headers the client sent, for an Anthropic deployment to get them too."""
    found: dict[str, str] = {}
    for name, value in request.scope["headers"]:
        if name in _FORMAT_HEADERS:
            key = name.decode()
            text = value.decode("latin-1")
            found[key] = f"{found[key]},{text}" if key in found else text
    return found


class MessagesController(Controller):
    @post("/v1/messages", status_code=200)
    async def create(self, request: Request, inference: NamedDependency[Inference]) -> Response:
        return await create_message(request, inference)

    @post("/v1/messages/count_tokens", status_code=200)
    async def count_tokens(self, request: Request, inference: NamedDependency[Inference]) -> Response:
        async def handle(body: object, call_id: str, started: float) -> Response:
            asked = parse_count_tokens_request(body, format_headers(request))
            # Counting calls no model, but who may not use a model may not probe it either.
            await inference.gatekeeper.check_model(principal_of(request), asked.model)
            tokens = await inference.token_counting.count(asked)
            return Response(
                orjson.dumps(render_count_tokens(tokens)),
                media_type=JSON,
                headers={"x-switchyard-call-id": call_id},
            )

        return await exchange(request, handle)


async def create_message(request: HttpRequest, inference: Inference) -> Response:
    """POST /v1/messages, as Litestar routes it and as the inference lane does."""
    completions = inference.completions

    async def handle(body: object, call_id: str, started: float) -> Response:
        asked = with_header_tags(parse_messages_request(body, format_headers(request)), request)
        call_type = "messages.stream" if asked.stream else "messages"
        ticket = await admitted(
            inference, request, asked, asked.params.user, call_id=call_id, call_type=call_type
        )
        caller = ticket.caller
        if asked.stream:
            opened = await released_on_failure(
                ticket, completions.stream(asked, call_id=call_id, caller=caller, call_type=call_type)
            )
            events = message_events(ticket.guard(opened.value), asked.model)
            return EventStream(events, answered(call_id, opened, started, ticket))
        served = await released_on_failure(
            ticket, completions.chat(asked, call_id=call_id, caller=caller, call_type=call_type)
        )
        release_served(ticket, served)
        body_out = orjson.dumps(render_message(served.value, asked.model))
        return Response(body_out, media_type=JSON, headers=answered(call_id, served, started, ticket))

    return await exchange(request, handle, inference.in_flight)

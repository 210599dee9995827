"""POST /v1/chat/completions."""

from __future__ import annotations

import orjson
from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency

from adapters.http.exchange import JSON, exchange, served_headers, with_header_tags
from adapters.http.sse import EventStream, sse_events
from adapters.openai_format import parse_chat_request, render_response
from application.completions import Completions


class ChatController(Controller):
    @post(["/v1/chat/completions", "/chat/completions"], status_code=200)
    async def create(self, request: Request, completions: NamedDependency[Completions]) -> Response:
        async def handle(body: object, call_id: str, started: float) -> Response:
            chat_request = with_header_tags(parse_chat_request(body), request)
            if chat_request.stream:
                opened = await completions.stream(chat_request, call_id=call_id)
                return EventStream(sse_events(opened.value), served_headers(call_id, opened, started))
            served = await completions.chat(chat_request, call_id=call_id)
            return Response(
                orjson.dumps(render_response(served.value)),
                media_type=JSON,
                headers=served_headers(call_id, served, started),
            )

        return await exchange(request, handle)

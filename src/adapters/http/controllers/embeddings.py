"""POST /v1/embeddings."""

from __future__ import annotations

import orjson
from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency

from adapters.http.exchange import (
    JSON,
    Inference,
    admitted,
    answered,
    exchange,
    release_served,
    released_on_failure,
    with_header_tags,
)
from adapters.openai_format import parse_embedding_request, render_embeddings


class EmbeddingsController(Controller):
    @post(["/v1/embeddings", "/embeddings"], status_code=200)
    async def create(
        self,
        request: Request,
        inference: NamedDependency[Inference],
    ) -> Response:
        completions = inference.completions

        async def handle(body: object, call_id: str, started: float) -> Response:
            embedding_request = with_header_tags(parse_embedding_request(body), request)
            ticket = await admitted(
                inference,
                request,
                embedding_request,
                embedding_request.user,
                call_id=call_id,
                call_type="embeddings",
            )
            served = await released_on_failure(
                ticket, completions.embed(embedding_request, call_id=call_id, caller=ticket.caller)
            )
            release_served(ticket, served)
            return Response(
                orjson.dumps(render_embeddings(served.value, embedding_request.encoding_format)),
                media_type=JSON,
                headers=answered(call_id, served, started, ticket),
            )

        return await exchange(request, handle, inference.in_flight)

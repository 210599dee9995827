"""POST /v1/embeddings."""

from __future__ import annotations

import orjson
from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency

from adapters.http.exchange import JSON, exchange, served_headers, with_header_tags
from adapters.openai_format import parse_embedding_request, render_embeddings
from application.completions import Completions


class EmbeddingsController(Controller):
    @post(["/v1/embeddings", "/embeddings"], status_code=200)
    async def create(self, request: Request, completions: NamedDependency[Completions]) -> Response:
        async def handle(body: object, call_id: str, started: float) -> Response:
            embedding_request = with_header_tags(parse_embedding_request(body), request)
            served = await completions.embed(embedding_request, call_id=call_id)
            return Response(
                orjson.dumps(render_embeddings(served.value, embedding_request.encoding_format)),
                media_type=JSON,
                headers=served_headers(call_id, served, started),
            )

        return await exchange(request, handle)

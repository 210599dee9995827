"""POST /v1/embeddings."""

from __future__ import annotations

import orjson
from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency

from adapters.http.auth import rate_limit_headers
from adapters.http.exchange import JSON, Inference, exchange, served_headers, with_header_tags
from adapters.http.principal import principal_of
from adapters.openai_format import parse_embedding_request, render_embeddings


class EmbeddingsController(Controller):
    @post(["/v1/embeddings", "/embeddings"], status_code=200)
    async def create(
        self,
        request: Request,
        inference: NamedDependency[Inference],
    ) -> Response:
        completions, gatekeeper = inference.completions, inference.gatekeeper

        async def handle(body: object, call_id: str, started: float) -> Response:
            embedding_request = with_header_tags(parse_embedding_request(body), request)
            ticket = await gatekeeper.admit(
                principal_of(request), embedding_request.model, embedding_request.user
            )
            try:
                served = await completions.embed(embedding_request, call_id=call_id)
            except BaseException:
                ticket.release()
                raise
            ticket.release(served.value.usage.total_tokens if served.value.usage else 0)
            headers = served_headers(call_id, served, started)
            headers.update(rate_limit_headers(ticket))
            return Response(
                orjson.dumps(render_embeddings(served.value, embedding_request.encoding_format)),
                media_type=JSON,
                headers=headers,
            )

        return await exchange(request, handle)

"""POST /v1/embeddings."""

from __future__ import annotations

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency

from adapters.http.exchange import HttpRequest, Inference, exchange, whole_reply, with_header_tags
from adapters.openai_format import parse_embedding_request, render_embeddings


class EmbeddingsController(Controller):
    @post(["/v1/embeddings", "/embeddings"], status_code=200)
    async def create(self, request: Request, inference: NamedDependency[Inference]) -> Response:
        return await create_embeddings(request, inference)


async def create_embeddings(request: HttpRequest, inference: Inference) -> Response:
    """POST /v1/embeddings, as Litestar routes it and as the inference lane does."""
    completions = inference.completions

    async def handle(body: object, call_id: str, started: float) -> Response:
        asked = with_header_tags(parse_embedding_request(body), request)
        return await whole_reply(
            inference, request, asked, asked.user,
            call_id=call_id, started=started, call_type="embeddings",
            call=lambda ticket: completions.embed(asked, call_id=call_id, caller=ticket.caller),
            render=lambda reply: render_embeddings(reply, asked.encoding_format),
        )  # fmt: skip

    return await exchange(request, handle, inference.in_flight)

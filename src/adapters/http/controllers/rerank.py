"""POST /v1/rerank (also /rerank and /v2/rerank): Cohere's rerank shape."""

from __future__ import annotations

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency

from adapters.http.exchange import Inference, served_json
from adapters.openai_format.rerank import parse_rerank_request, render_rerank


class RerankController(Controller):
    @post(["/v1/rerank", "/rerank", "/v2/rerank"], status_code=200)
    async def create(self, request: Request, inference: NamedDependency[Inference]) -> Response:
        rerank = inference.completions.rerank
        return await served_json(
            request, inference, parse_rerank_request, "rerank",
            lambda asked, call_id, caller: rerank(asked, call_id=call_id, caller=caller),
            render_rerank,
        )  # fmt: skip

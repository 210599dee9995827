"""POST /v1/moderations."""

from __future__ import annotations

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency

from adapters.http.exchange import Inference, served_json
from adapters.openai_format.moderations import parse_moderation_request, render_moderation


class ModerationsController(Controller):
    @post(["/v1/moderations", "/moderations"], status_code=200)
    async def create(self, request: Request, inference: NamedDependency[Inference]) -> Response:
        moderate = inference.completions.moderate
        return await served_json(
            request, inference, parse_moderation_request, "moderation",
            lambda asked, call_id, caller: moderate(asked, call_id=call_id, caller=caller),
            render_moderation,
        )  # fmt: skip

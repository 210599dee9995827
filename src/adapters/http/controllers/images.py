"""POST /v1/images/generations (also /images/generations)."""

from __future__ import annotations

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency

from adapters.http.exchange import Inference, served_json
from adapters.openai_format.images import parse_image_request, render_images


class ImagesController(Controller):
    @post(["/v1/images/generations", "/images/generations"], status_code=200)
    async def generate(self, request: Request, inference: NamedDependency[Inference]) -> Response:
        generate_images = inference.completions.generate_images
        return await served_json(
            request, inference, parse_image_request, "image_generation",
            lambda asked, call_id, caller: generate_images(asked, call_id=call_id, caller=caller),
            render_images,
        )  # fmt: skip

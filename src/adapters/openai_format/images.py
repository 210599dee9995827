"""The image generation format (`/v1/images/generations`), both ways: a client's request parsed, a reply
rendered, an OpenAI upstream's body built and its reply read."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from adapters.openai_format import wire
from adapters.openai_format.replies import _malformed
from adapters.openai_format.requests import _controls
from adapters.openai_format.validation import bad_request
from domain.completions import Usage
from domain.images import MAX_IMAGES, GeneratedImage, ImageRequest, ImageResponse

_OPTIONS = ("n", "size", "quality", "style", "response_format", "background", "output_format", "user")
"""The request's options, by their wire names (also the domain request's fields); sent upstream when set."""


class ImageBody(wire.GatewayFields):
    model_config = ConfigDict(strict=True, extra="allow")

    model: str = Field(min_length=1)
    prompt: str = Field(min_length=1)
    n: int | None = Field(None, ge=1, le=MAX_IMAGES)
    size: str | None = None
    quality: str | None = None
    style: Literal["vivid", "natural"] | None = None
    response_format: Literal["url", "b64_json"] | None = None
    background: Literal["transparent", "opaque", "auto"] | None = None
    output_format: str | None = None
    user: str | None = None


def parse_image_request(body: object) -> ImageRequest:
    """A `/v1/images/generations` body as a domain request; BadRequestError naming the field otherwise.
    Fields the gateway does not read (`moderation`, `output_compression`, ...) travel upstream as sent."""
    try:
        request = ImageBody.model_validate(body)
    except ValidationError as exc:
        raise bad_request(exc, what="request body") from exc
    return ImageRequest(
        model=request.model,
        prompt=request.prompt,
        **{name: getattr(request, name) for name in _OPTIONS},
        metadata=request.metadata or {},
        controls=_controls(request),
        extra_body=request.__pydantic_extra__ or {},
    )


def render_images(response: ImageResponse) -> dict[str, Any]:
    """OpenAI's images response: `created`, one `data` item per image (`b64_json` or `url`, with
    `revised_prompt` where the model rewrote the prompt), the settings used and, where tokens were
    counted (GPT image models), `usage`."""
    rendered: dict[str, Any] = {
        "created": response.created,
        "data": [_image(image) for image in response.images],
    }
    for name in ("background", "output_format", "quality", "size"):
        if (value := getattr(response, name)) is not None:
            rendered[name] = value
    usage = response.usage
    if usage.total_tokens:
        rendered["usage"] = {
            "input_tokens": usage.prompt_tokens,
            "input_tokens_details": {"text_tokens": usage.prompt_tokens, "image_tokens": 0},
            "output_tokens": usage.completion_tokens,
            "output_tokens_details": {"text_tokens": 0, "image_tokens": usage.completion_tokens},
            "total_tokens": usage.total_tokens,
        }
    return rendered


def _image(image: GeneratedImage) -> dict[str, Any]:
    fields = {"b64_json": image.b64_json, "url": image.url, "revised_prompt": image.revised_prompt}
    return {name: value for name, value in fields.items() if value is not None}


def image_body(request: ImageRequest, upstream_model: str) -> dict[str, Any]:
    """The body for an OpenAI upstream's `/images/generations`: the options the caller set, nothing else."""
    options = {name: value for name in _OPTIONS if (value := getattr(request, name)) is not None}
    return {**request.extra_body, "model": upstream_model, "prompt": request.prompt, **options}


class _Image(wire._Lenient):
    b64_json: str | None = None
    url: str | None = None
    revised_prompt: str | None = None


class _ImageUsage(wire._Lenient):
    input_tokens: int = 0
    output_tokens: int = 0


class _Images(wire._Lenient):
    created: int
    data: list[_Image]
    usage: _ImageUsage | None = None
    background: str | None = None
    output_format: str | None = None
    quality: str | None = None
    size: str | None = None


def read_images(body: object, model: str) -> ImageResponse:
    """A decoded images reply from an upstream (made by `model`); BadGatewayError when it is not one."""
    try:
        reply = _Images.model_validate(body)
    except ValidationError as exc:
        raise _malformed("images response", exc) from exc
    tokens = reply.usage or _ImageUsage()
    return ImageResponse(
        created=reply.created,
        model=model,
        images=tuple(GeneratedImage(image.b64_json, image.url, image.revised_prompt) for image in reply.data),
        usage=Usage(tokens.input_tokens, tokens.output_tokens, images=len(reply.data)),
        background=reply.background,
        output_format=reply.output_format,
        quality=reply.quality,
        size=reply.size,
    )

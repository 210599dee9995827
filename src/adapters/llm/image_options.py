"""What the image adapters that do not speak OpenAI's images API share: OpenAI's `size` as an aspect
ratio or a width and height, the options such an upstream has no place for, and an image read back as
base64 or a `data:` URL. Pure functions."""

from __future__ import annotations

from collections.abc import Collection

from domain.deployments import Deployment
from domain.errors import BadRequestError, UnsupportedParameterError
from domain.images import GeneratedImage, ImageRequest

ASPECT_RATIOS = {"1024x1024": "1:1", "1792x1024": "16:9", "1024x1792": "9:16"}
"""OpenAI's sizes, as the aspect ratios that Imagen and Stability take."""
_OPTIONS = ("quality", "style", "background", "output_format")


def aspect_ratio(size: str | None, provider: str) -> str | None:
    """The aspect ratio of OpenAI's `size` (None when not set); a 400 naming `size` for another size."""
    if size is None:
        return None
    ratio = ASPECT_RATIOS.get(size)
    if ratio is None:
        raise BadRequestError(
            f"{provider} makes images of size {', '.join(ASPECT_RATIOS)} only, not {size}", param="size"
        )
    return ratio


def width_height(size: str | None) -> tuple[int, int] | None:
    """OpenAI's `size` (`{width}x{height}`) as numbers (None when not set); a 400 naming `size` when it is
    not of that form. Which sizes the model makes is the upstream's to say."""
    if size is None:
        return None
    width, _, height = size.partition("x")
    if not (width.isdigit() and height.isdigit()):
        raise BadRequestError(f"size must be WIDTHxHEIGHT, not {size}", param="size")
    return int(width), int(height)


def refuse_unsupported(
    request: ImageRequest, deployment: Deployment, supported: Collection[str], provider: str
) -> None:
    """UnsupportedParameterError for the first option set that the upstream has no place for, unless
    drop_params lets such options go (`user` is never sent: it is the caller's tag)."""
    if deployment.drop_params or request.controls.get("drop_params"):
        return
    for name in _OPTIONS:
        if name not in supported and getattr(request, name) is not None:
            raise UnsupportedParameterError(
                f"{provider} does not support the parameter '{name}' for model {deployment.upstream_model}; "
                "send drop_params: true (or set it in the config) to drop it.",
                param=name,
                provider=provider,
            )


def image_of(
    b64: str, mime_type: str, request: ImageRequest, revised_prompt: str | None = None
) -> GeneratedImage:
    """An image the upstream sent as base64, as the call asked: base64, or (`url`) a `data:` URL."""
    if request.response_format == "url":
        return GeneratedImage(url=f"data:{mime_type};base64,{b64}", revised_prompt=revised_prompt)
    return GeneratedImage(b64_json=b64, revised_prompt=revised_prompt)

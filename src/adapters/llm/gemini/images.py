"""Domain image requests to Google's image models (the Gemini API's and Vertex AI's alike), and their
replies. Pure functions.

Imagen takes `:predict`: `{"instances": [{"prompt"}], "parameters": {"sampleCount", "aspectRatio", ...}}`
answered by `{"predictions": [{"bytesBase64Encoded", "mimeType"} | {"raiFilteredReason"}]}`. Gemini's own
image models (`gemini-2.5-flash-image`, `gemini-2.0-flash-preview-image-generation`, ...) take
`:generateContent` asking for image output (`generationConfig.responseModalities` with IMAGE,
`imageConfig.aspectRatio`), answered by a GenerateContentResponse whose parts hold the images as
`inlineData` and maybe some text; one image a call, billed in tokens
(https://ai.google.dev/gemini-api/docs/image-generation).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

from adapters.llm.gemini import replies, wire
from adapters.llm.image_options import ASPECT_RATIOS, aspect_ratio, image_of, refuse_unsupported
from domain.completions import Usage
from domain.deployments import Deployment
from domain.errors import BadGatewayError, BadRequestError, ContentPolicyViolationError
from domain.images import GeneratedImage, ImageRequest, ImageResponse

PROVIDER = "gemini"
GEMINI_RATIOS = frozenset({"1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"})
"""The aspect ratios Gemini's image models make (https://ai.google.dev/gemini-api/docs/image-generation)."""
# GenerateContentRequest's own fields; any other field the caller adds goes in `generationConfig`.
_REQUEST_FIELDS = frozenset({"safetySettings", "systemInstruction", "cachedContent", "labels"})


def makes_images_by_content(model: str) -> bool:
    """Whether the model is one of Gemini's own image models (generateContent), not Imagen (:predict)."""
    return model.rpartition("/")[2].startswith("gemini")


def predict_body(request: ImageRequest, deployment: Deployment) -> dict[str, Any]:
    """The `:predict` body; fields the gateway does not read (`negativePrompt`, `personGeneration`,
    ...) travel in `parameters` as sent."""
    refuse_unsupported(request, deployment, (), PROVIDER)
    parameters: dict[str, Any] = {**request.extra_body, "sampleCount": request.count}
    if (ratio := aspect_ratio(request.size, PROVIDER)) is not None:
        parameters["aspectRatio"] = ratio
    return {"instances": [{"prompt": request.prompt}], "parameters": parameters}


def read_images(payload: object, request: ImageRequest, model: str) -> ImageResponse:
    """The images of a `:predict` reply; ContentPolicyViolationError when Google filtered them all,
    BadGatewayError when it is no such reply."""
    predictions = payload.get("predictions", []) if isinstance(payload, dict) else None
    if not isinstance(predictions, list):
        raise BadGatewayError("Imagen sent a malformed :predict reply (predictions: not a list).")
    images: list[GeneratedImage] = []
    filtered: list[str] = []
    for prediction in predictions:
        if not isinstance(prediction, dict):
            raise BadGatewayError("Imagen sent a malformed :predict reply (a prediction not an object).")
        data = prediction.get("bytesBase64Encoded")
        if isinstance(data, str) and data:
            revised = prediction.get("prompt")
            mime_type = str(prediction.get("mimeType") or "image/png")
            images.append(image_of(data, mime_type, request, revised if isinstance(revised, str) else None))
        elif reason := prediction.get("raiFilteredReason"):
            filtered.append(str(reason))
    if not images:
        if filtered or not predictions:  # Google answers `{}` when it filtered every image
            reason = "; ".join(filtered) or "every image was filtered"
            raise ContentPolicyViolationError(f"Imagen made no image: {reason}", provider=PROVIDER)
        raise BadGatewayError("Imagen sent no images.")
    return image_response(images, Usage(images=len(images)), request, model)


def content_body(request: ImageRequest, deployment: Deployment) -> dict[str, Any]:
    """The generateContent body of one image. Fields the gateway does not read travel as sent: the
    request's own (`safetySettings`, ...) at the top, `imageConfig` (`imageSize`, ...) merged with the
    aspect ratio, any other (`seed`, `temperature`, ...) in `generationConfig`. Text is asked for too, as
    `gemini-2.0-flash-preview-image-generation` makes no image without it."""
    refuse_unsupported(request, deployment, (), PROVIDER)
    body: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": request.prompt}]}]}
    config: dict[str, Any] = {"responseModalities": ["TEXT", "IMAGE"]}
    image_config: dict[str, Any] = {}
    for name, value in request.extra_body.items():
        if name in _REQUEST_FIELDS:
            body[name] = value
        elif name == "imageConfig" and isinstance(value, Mapping):
            image_config.update(value)
        else:
            config[name] = value
    if (ratio := gemini_ratio(request.size)) is not None:
        image_config["aspectRatio"] = ratio
    if image_config:
        config["imageConfig"] = image_config
    body["generationConfig"] = config
    return body


def gemini_ratio(size: str | None) -> str | None:
    """OpenAI's `size` as one of Gemini's aspect ratios (None when not set or `auto`): DALL-E 3's sizes
    as Imagen takes them, another `{width}x{height}` reduced; a 400 naming `size` for one Gemini lacks."""
    if size is None or size == "auto":
        return None
    if size in ASPECT_RATIOS:
        return ASPECT_RATIOS[size]
    width, _, height = size.partition("x")
    if width.isdigit() and height.isdigit() and (ratio := _REDUCED.get(_reduced(int(width), int(height)))):
        return ratio
    raise BadRequestError(
        f"{PROVIDER} makes images of aspect ratio {', '.join(sorted(GEMINI_RATIOS))} only, not {size}",
        param="size",
    )


def _reduced(width: int, height: int) -> tuple[int, int]:
    divisor = math.gcd(width, height) or 1
    return width // divisor, height // divisor


_REDUCED = {_reduced(*map(int, ratio.split(":"))): ratio for ratio in GEMINI_RATIOS}
"""Each of Gemini's aspect ratios by its lowest terms (21:9 is 7:3)."""


def read_content_images(payload: object, request: ImageRequest) -> tuple[list[GeneratedImage], Usage]:
    """The images of one generateContent reply (its thought images, drafts, left out), the reply's text
    as their revised prompt, and its usage: the tokens Google bills and the images made."""
    reply = replies.read_reply(payload)
    found: list[wire.Blob] = []
    text: list[str] = []
    for candidate in reply.candidates or ():
        for part in (candidate.content.parts or ()) if candidate.content is not None else ():
            if part.thought:
                continue
            if part.inlineData is not None and part.inlineData.data:
                found.append(part.inlineData)
            elif part.text:
                text.append(part.text)
    revised = "".join(text) or None
    if not found:
        raise _no_image(reply, revised)
    images = [image_of(blob.data, blob.mimeType or "image/png", request, revised) for blob in found]
    return images, replies.usage_of(reply.usageMetadata) + Usage(images=len(images))


def _no_image(reply: wire.GenerateContentResponse, text: str | None) -> Exception:
    """ContentPolicyViolationError when Google filtered the image, else BadGatewayError, naming the
    finish reasons (and what the model said instead)."""
    candidates = reply.candidates or ()
    reasons = [
        f"{candidate.finishReason}: {candidate.finishMessage}"
        if candidate.finishMessage
        else candidate.finishReason
        for candidate in candidates
        if candidate.finishReason
    ]
    detail = "; ".join(reasons) or "no reason given"
    if any(replies.is_filtered(candidate.finishReason) for candidate in candidates):
        return ContentPolicyViolationError(f"Gemini made no image ({detail})", provider=PROVIDER)
    said = f": {text[:200]!r}" if text else ""
    return BadGatewayError(f"Gemini answered without an image ({detail}){said}")


def image_response(
    images: list[GeneratedImage], usage: Usage, request: ImageRequest, model: str
) -> ImageResponse:
    return ImageResponse(
        created=int(time.time()), model=model, images=tuple(images), usage=usage, size=request.size
    )

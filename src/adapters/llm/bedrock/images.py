"""Image requests as InvokeModel bodies of the image models Bedrock hosts, and their replies. Pure
functions.

Amazon Titan Image Generator: `{"taskType": "TEXT_IMAGE", "textToImageParams": {"text"},
"imageGenerationConfig": {"numberOfImages", "width", "height", "quality"}}` answered by `{"images":
[base64 PNG], "error"}`. Stability AI (Stable Image Core / Ultra, SD3): `{"prompt", "mode":
"text-to-image", "aspect_ratio", "output_format"}`, one image a call, answered by `{"images", "seeds",
"finish_reasons"}` (a reason that is not null: the image was filtered).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

import orjson

from adapters.llm.image_options import aspect_ratio, image_of, refuse_unsupported, width_height
from domain.deployments import Deployment
from domain.errors import BadGatewayError, ContentPolicyViolationError, UnsupportedParameterError
from domain.images import GeneratedImage, ImageRequest

Family = Literal["titan", "stability"]
PROVIDER = "bedrock"
_TITAN = re.compile(r"(^|[.:/])amazon\.titan-image-generator", re.I)
_STABILITY = re.compile(r"(^|[.:/])stability\.", re.I)
# OpenAI's qualities as Titan's two.
_TITAN_QUALITY = {"standard": "standard", "low": "standard", "medium": "standard", "hd": "premium",
                  "high": "premium", "premium": "premium"}  # fmt: skip
_TITAN_TEXT_PARAMS = ("negativeText", "conditionImage", "controlMode", "controlStrength")


def family(model: str) -> Family:
    if _TITAN.search(model):
        return "titan"
    if _STABILITY.search(model):
        return "stability"
    raise UnsupportedParameterError(
        f"Bedrock images are made by Amazon Titan Image Generator and Stability AI models, not {model}.",
        param="model",
        provider=PROVIDER,
    )


def titan_body(request: ImageRequest, deployment: Deployment) -> dict[str, Any]:
    """Fields the gateway does not read travel as sent: `negativeText` (and the image conditioning
    ones) in `textToImageParams`, the rest (`cfgScale`, `seed`) in `imageGenerationConfig`."""
    refuse_unsupported(request, deployment, ("quality",), PROVIDER)
    text: dict[str, Any] = {"text": request.prompt}
    config: dict[str, Any] = {"numberOfImages": request.count}
    for name, value in request.extra_body.items():
        (text if name in _TITAN_TEXT_PARAMS else config)[name] = value
    if (size := width_height(request.size)) is not None:
        config["width"], config["height"] = size
    if request.quality is not None and request.quality != "auto":
        config["quality"] = _TITAN_QUALITY.get(request.quality, request.quality)
    return {"taskType": "TEXT_IMAGE", "textToImageParams": text, "imageGenerationConfig": config}


def stability_body(request: ImageRequest, deployment: Deployment) -> dict[str, Any]:
    """Fields the gateway does not read (`negative_prompt`, `seed`, ...) travel as sent."""
    refuse_unsupported(request, deployment, ("output_format",), PROVIDER)
    body: dict[str, Any] = {**request.extra_body, "prompt": request.prompt, "mode": "text-to-image"}
    if (ratio := aspect_ratio(request.size, PROVIDER)) is not None:
        body["aspect_ratio"] = ratio
    if request.output_format is not None:
        body["output_format"] = request.output_format
    return body


def read_titan(content: bytes, request: ImageRequest) -> list[GeneratedImage]:
    reply = _object(content, "Titan image reply")
    found = _strings(reply.get("images"), "Titan image reply")
    if not found:
        raise BadGatewayError(f"Bedrock sent no Titan images ({reply.get('error') or 'no error given'}).")
    return [image_of(data, "image/png", request) for data in found]


def read_stability(content: bytes, request: ImageRequest) -> list[GeneratedImage]:
    reply = _object(content, "Stability image reply")
    reasons = [reason for reason in reply.get("finish_reasons") or () if reason]
    if reasons:
        raise ContentPolicyViolationError(
            f"Stability made no image: {'; '.join(map(str, reasons))}", provider=PROVIDER
        )
    found = _strings(reply.get("images"), "Stability image reply")
    if not found:
        raise BadGatewayError("Bedrock sent no Stability images.")
    mime = "image/jpeg" if request.output_format in ("jpeg", "jpg") else "image/png"
    return [image_of(data, mime, request) for data in found]


def _object(content: bytes, what: str) -> dict[str, Any]:
    try:
        reply = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise BadGatewayError(f"Bedrock sent a malformed {what} (not JSON).") from exc
    if not isinstance(reply, dict):
        raise BadGatewayError(f"Bedrock sent a malformed {what} (not an object).")
    return reply


def _strings(value: object, what: str) -> Sequence[str]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadGatewayError(f"Bedrock sent a malformed {what} (images: not a list of base64 strings).")
    return value

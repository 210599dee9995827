"""Image requests as InvokeModel bodies of the image models Bedrock hosts, and their replies. Pure
functions.

Amazon Titan Image Generator and Amazon Nova Canvas: `{"taskType": "TEXT_IMAGE", "textToImageParams":
{"text"}, "imageGenerationConfig": {"numberOfImages", "width", "height", "quality"}}` answered by
`{"images": [base64 PNG], "error"}` (https://docs.aws.amazon.com/nova/latest/userguide/
image-gen-req-resp-structure.html; `error` says when the content filters withheld images). Stability AI
(Stable Image Core / Ultra, SD3): `{"prompt", "mode": "text-to-image", "aspect_ratio", "output_format"}`,
one image a call, answered by `{"images", "seeds", "finish_reasons"}` (a reason that is not null: the
image was filtered). Stable Diffusion XL 1.0: `{"text_prompts": [{"text", "weight"}], "width", "height",
"cfg_scale", "steps", "seed", ...}`, one image a call, answered by `{"result", "artifacts": [{"base64",
"seed", "finishReason"}]}` (https://docs.aws.amazon.com/bedrock/latest/userguide/
model-parameters-diffusion-1-0-text-image.html).
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

Family = Literal["titan", "nova", "stability", "sdxl"]
PROVIDER = "bedrock"
# The first family whose pattern the model id matches (SDXL before the other Stability models).
_FAMILIES: tuple[tuple[Family, re.Pattern[str]], ...] = (
    ("titan", re.compile(r"(^|[.:/])amazon\.titan-image-generator", re.I)),
    ("nova", re.compile(r"(^|[.:/])amazon\.nova-canvas", re.I)),
    ("sdxl", re.compile(r"(^|[.:/])stability\.stable-diffusion-xl", re.I)),
    ("stability", re.compile(r"(^|[.:/])stability\.", re.I)),
)
# OpenAI's qualities as Titan's two.
_TITAN_QUALITY = {"standard": "standard", "low": "standard", "medium": "standard", "hd": "premium",
                  "high": "premium", "premium": "premium"}  # fmt: skip
_TITAN_TEXT_PARAMS = ("negativeText", "conditionImage", "controlMode", "controlStrength")


def family(model: str) -> Family:
    for name, pattern in _FAMILIES:
        if pattern.search(model):
            return name
    raise UnsupportedParameterError(
        "Bedrock images are made by Amazon Titan Image Generator, Amazon Nova Canvas and Stability AI "
        f"models, not {model}.",
        param="model",
        provider=PROVIDER,
    )


def titan_body(request: ImageRequest, deployment: Deployment) -> dict[str, Any]:
    """The TEXT_IMAGE body of Titan and Nova Canvas. Fields the gateway does not read travel as sent:
    `negativeText` (and the image conditioning ones) in `textToImageParams`, the rest (`cfgScale`,
    `seed`) in `imageGenerationConfig`."""
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


def sdxl_body(request: ImageRequest, deployment: Deployment) -> dict[str, Any]:
    """One image's body (Bedrock makes one a call). Fields the gateway does not read (`cfg_scale`,
    `steps`, `seed`, `style_preset`, ...) travel as sent; `negative_prompt` becomes a prompt of weight
    -1, which SDXL reads as one to avoid."""
    refuse_unsupported(request, deployment, (), PROVIDER)
    extra = dict(request.extra_body)
    prompts = [{"text": request.prompt, "weight": 1.0}]
    if negative := extra.pop("negative_prompt", None):
        prompts.append({"text": negative, "weight": -1.0})
    body: dict[str, Any] = {**extra, "text_prompts": prompts}
    if (size := width_height(request.size)) is not None:
        body["width"], body["height"] = size
    return body


def read_titan(content: bytes, request: ImageRequest) -> list[GeneratedImage]:
    """The images of a Titan or Nova Canvas reply; ContentPolicyViolationError when the content filters
    withheld them all (`error` says so, in a 200)."""
    reply = _object(content, "Titan image reply")
    found = _strings(reply.get("images"), "Titan image reply")
    if not found:
        error = str(reply.get("error") or "no error given")
        if "content filter" in error:
            raise ContentPolicyViolationError(f"Bedrock made no image: {error}", provider=PROVIDER)
        raise BadGatewayError(f"Bedrock sent no Titan images ({error}).")
    return [image_of(data, "image/png", request) for data in found]


def read_sdxl(content: bytes, request: ImageRequest) -> list[GeneratedImage]:
    """The images of an SDXL reply; an artifact CONTENT_FILTERED is a ContentPolicyViolationError, one
    ERROR a BadGatewayError."""
    reply = _object(content, "SDXL image reply")
    artifacts = reply.get("artifacts")
    if not isinstance(artifacts, list) or not all(isinstance(item, dict) for item in artifacts):
        raise BadGatewayError("Bedrock sent a malformed SDXL image reply (artifacts: not a list of objects).")
    reasons = {str(item.get("finishReason")) for item in artifacts} - {"SUCCESS", "None"}
    if "CONTENT_FILTERED" in reasons:
        raise ContentPolicyViolationError(
            "Stable Diffusion XL made no image: CONTENT_FILTERED", provider=PROVIDER
        )
    found = _strings([item.get("base64") for item in artifacts], "SDXL image reply")
    if reasons or not found:
        raise BadGatewayError(
            f"Bedrock made no SDXL image ({', '.join(sorted(reasons)) or reply.get('result')})."
        )
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

"""Domain image requests as the `:predict` body of Google's Imagen models (the Gemini API's and Vertex
AI's alike), and their replies: `{"instances": [{"prompt"}], "parameters": {"sampleCount", "aspectRatio",
...}}` answered by `{"predictions": [{"bytesBase64Encoded", "mimeType"} | {"raiFilteredReason"}]}`."""

from __future__ import annotations

import time
from typing import Any

from adapters.llm.image_options import aspect_ratio, image_of, refuse_unsupported
from domain.completions import Usage
from domain.deployments import Deployment
from domain.errors import BadGatewayError, ContentPolicyViolationError
from domain.images import GeneratedImage, ImageRequest, ImageResponse

PROVIDER = "gemini"


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
            image = image_of(data, str(prediction.get("mimeType") or "image/png"), request)
            revised = prediction.get("prompt")
            if isinstance(revised, str):
                image = GeneratedImage(image.b64_json, image.url, revised)
            images.append(image)
        elif reason := prediction.get("raiFilteredReason"):
            filtered.append(str(reason))
    if not images:
        if filtered or not predictions:  # Google answers `{}` when it filtered every image
            reason = "; ".join(filtered) or "every image was filtered"
            raise ContentPolicyViolationError(f"Imagen made no image: {reason}", provider=PROVIDER)
        raise BadGatewayError("Imagen sent no images.")
    return ImageResponse(
        created=int(time.time()),
        model=model,
        images=tuple(images),
        usage=Usage(images=len(images)),
        size=request.size,
    )

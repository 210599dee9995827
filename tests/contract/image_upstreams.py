"""The image backends of the images contract suite that do not speak OpenAI's images API, and the fake
upstream answering each of them as its provider does: Imagen's `:predict`, Gemini's image models'
`:generateContent` (one `inlineData` image a call, billed in tokens), and Bedrock's InvokeModel of Titan
Image Generator, Nova Canvas, Stability AI and Stable Diffusion XL (the family read from the model id in
the URL, as Bedrock routes it)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from adapters.llm.mock.script import PIXEL_PNG
from tests.contract.harnesses.base import ProviderHarness
from tests.contract.harnesses.bedrock import BedrockHarness
from tests.contract.harnesses.gemini import GeminiHarness, VertexHarness

IMAGE_BACKENDS: dict[str, Callable[[], ProviderHarness]] = {
    "imagen": functools.partial(GeminiHarness, upstream_model="imagen-4.0-generate-001"),
    "vertex_imagen": functools.partial(VertexHarness, upstream_model="imagen-4.0-fast-generate-001"),
    "gemini_image": functools.partial(GeminiHarness, upstream_model="gemini-2.5-flash-image"),
    "vertex_gemini_image": functools.partial(
        VertexHarness, upstream_model="gemini-2.0-flash-preview-image-generation"
    ),
    "titan_image": functools.partial(BedrockHarness, upstream_model="amazon.titan-image-generator-v2:0"),
    "nova_canvas": functools.partial(BedrockHarness, upstream_model="amazon.nova-canvas-v1:0"),
    "stability": functools.partial(BedrockHarness, upstream_model="stability.stable-image-core-v1:1"),
    "sdxl": functools.partial(BedrockHarness, upstream_model="stability.stable-diffusion-xl-v1"),
}
"""Each backend's harness, its deployment naming an image model."""
IMAGE_PATHS = (":predict", ":generateContent", "/invoke")
"""The endpoints `image_reply` answers."""


def image_reply(request: httpx.Request) -> httpx.Response:
    """The provider's answer to an image request at one of IMAGE_PATHS, made from what it asks."""
    body = orjson.loads(request.content)
    path = request.url.path
    if path.endswith(":predict"):
        count = body["parameters"].get("sampleCount", 1)
        return httpx.Response(
            200, json={"predictions": [{"bytesBase64Encoded": PIXEL_PNG, "mimeType": "image/png"}] * count}
        )
    if path.endswith(":generateContent"):
        return httpx.Response(200, json=_generated_content(body))
    return httpx.Response(200, json=_invoked(path, body))


def _generated_content(body: dict[str, Any]) -> dict[str, Any]:
    assert "IMAGE" in body["generationConfig"]["responseModalities"]
    parts = [
        {"text": "A lighthouse, as asked."},
        {"inlineData": {"mimeType": "image/png", "data": PIXEL_PNG}},
    ]
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 6, "candidatesTokenCount": 1296, "totalTokenCount": 1302},
    }


def _invoked(path: str, body: dict[str, Any]) -> dict[str, Any]:
    model = path.split("/model/", 1)[1].removesuffix("/invoke")
    if model.startswith(("amazon.titan-image", "amazon.nova-canvas")):
        assert body["taskType"] == "TEXT_IMAGE"
        return {"images": [PIXEL_PNG] * body["imageGenerationConfig"]["numberOfImages"], "error": None}
    if model.startswith("stability.stable-diffusion-xl"):
        assert body["text_prompts"]
        return {
            "result": "success",
            "artifacts": [{"seed": 1, "base64": PIXEL_PNG, "finishReason": "SUCCESS"}],
        }
    assert body["prompt"]
    return {"seeds": [1], "finish_reasons": [None], "images": [PIXEL_PNG]}

"""POST /v1/images/generations through the app to Google's Imagen and Gemini image models (the Gemini
API) and Bedrock's Titan Image Generator, Nova Canvas and Stable Diffusion XL, over fake upstreams; and
the config that marks their image models by name."""

from __future__ import annotations

import httpx
import orjson
import pytest
from litestar.testing import AsyncTestClient

from adapters.config import load_config
from adapters.llm.bedrock import BedrockProvider
from adapters.llm.gemini import GeminiProvider
from domain.deployments import Capabilities, Credentials, Deployment, Secret
from tests.unit import test_http_api

PAINTER = Capabilities(chat=False, images=True, mode="image_generation")
AWS = {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "secret", "aws_region_name": "us-east-1"}


def _upstream(reply: dict, sent: list[httpx.Request]) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=reply)

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


@pytest.mark.parametrize(
    ("provider", "upstream_model", "credentials", "reply", "host"),
    [
        (
            "gemini",
            "imagen-4.0-generate-001",
            Credentials(api_key=Secret("AIzaSy-test")),
            {"predictions": [{"bytesBase64Encoded": "aGk=", "mimeType": "image/png"}]},
            "generativelanguage.googleapis.com",
        ),
        (
            "gemini",
            "gemini-2.5-flash-image",
            Credentials(api_key=Secret("AIzaSy-test")),
            {
                "candidates": [
                    {"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": "aGk="}}]}}
                ]
            },
            "generativelanguage.googleapis.com",
        ),
        (
            "bedrock",
            "amazon.titan-image-generator-v2:0",
            Credentials(extra=AWS),
            {"images": ["aGk="], "error": None},
            "bedrock-runtime.us-east-1.amazonaws.com",
        ),
        (
            "bedrock",
            "amazon.nova-canvas-v1:0",
            Credentials(extra=AWS),
            {"images": ["aGk="], "error": None},
            "bedrock-runtime.us-east-1.amazonaws.com",
        ),
        (
            "bedrock",
            "stability.stable-diffusion-xl-v1",
            Credentials(extra=AWS),
            {"result": "success", "artifacts": [{"seed": 1, "base64": "aGk=", "finishReason": "SUCCESS"}]},
            "bedrock-runtime.us-east-1.amazonaws.com",
        ),
    ],
)
async def test_images_through_the_app(provider, upstream_model, credentials, reply, host) -> None:
    sent: list[httpx.Request] = []
    client = _upstream(reply, sent)
    adapter = GeminiProvider(client) if provider == "gemini" else BedrockProvider(client, environ={})
    painter = Deployment(
        id="dep-p", model_name="painter", provider=provider, upstream_model=upstream_model,
        credentials=credentials, capabilities=PAINTER,
    )  # fmt: skip
    app = test_http_api._app(adapter, more=(painter,))  # type: ignore[arg-type]
    async with AsyncTestClient(app) as test_client:
        response = await test_client.post(
            "/v1/images/generations",
            json={"model": "painter", "prompt": "a red fox", "size": "1024x1024", "response_format": "url"},
        )
    await client.aclose()

    assert response.status_code == 200, response.text
    assert response.json()["data"] == [{"url": "data:image/png;base64,aGk="}]
    (request,) = sent
    assert request.url.host == host and b"a red fox" in request.content
    assert orjson.loads(request.content)


def test_the_config_marks_imagen_gemini_image_titan_nova_and_stability_models_as_image_models() -> None:
    images = {
        "imagen": "gemini/imagen-4.0-generate-001",
        "vertex-imagen": "vertex_ai/imagen-3.0-generate-002",
        "gemini-image": "gemini/gemini-2.5-flash-image",
        "gemini-3-image": "gemini/gemini-3-pro-image-preview",
        "vertex-gemini-image": "vertex_ai/gemini-2.0-flash-preview-image-generation",
        "titan": "bedrock/amazon.titan-image-generator-v2:0",
        "nova-canvas": "bedrock/amazon.nova-canvas-v1:0",
        "stability": "bedrock/stability.stable-image-ultra-v1:1",
        "sdxl": "bedrock/stability.stable-diffusion-xl-v1",
    }
    names = {
        **images,
        "chat": "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0",
        "titan-embed": "bedrock/amazon.titan-embed-text-v2:0",
    }
    config = load_config(
        {
            "model_list": [
                {"model_name": name, "litellm_params": {"model": model, "api_key": "k"}}
                for name, model in names.items()
            ]
        },
        {},
    )

    by_name = {d.model_name: d.capabilities for d in config.deployments}
    for name in images:
        assert (by_name[name].images, by_name[name].chat, by_name[name].mode) == (
            True,
            False,
            "image_generation",
        ), name
    assert not by_name["chat"].images and by_name["chat"].chat
    assert by_name["titan-embed"].mode == "embedding"

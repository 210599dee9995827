"""What the image adapters put on the wire and read back: OpenAI's POST /images/generations (`{model,
prompt, n, size, quality, style, response_format, background, output_format, user}`, only the options
set; reply `{created, data: [{b64_json | url, revised_prompt}], usage}`), and Azure's, at its
deployment's URL."""

from __future__ import annotations

import httpx
import pytest

from adapters.openai_format.images import parse_image_request
from domain.errors import BadGatewayError
from tests.contract.harnesses.azure import API_BASE, AzureHarness
from tests.contract.harnesses.openai import OpenAIHarness
from tests.contract.outgoing import harness_fixture, sent_json

openai = harness_fixture(OpenAIHarness, "openai")
azure = harness_fixture(AzureHarness, "azure")

REQUEST = {
    "model": "painter",
    "prompt": "A lighthouse at dusk",
    "n": 2,
    "size": "1024x1024",
    "quality": "high",
    "background": "transparent",
    "output_format": "png",
    "user": "user-7",
    "moderation": "low",
    "num_retries": 2,
}
REPLY = {
    "created": 1713833628,
    "data": [{"b64_json": "aGk="}, {"b64_json": "aG8=", "revised_prompt": "A lighthouse"}],
    "background": "transparent",
    "output_format": "png",
    "quality": "high",
    "size": "1024x1024",
    "usage": {
        "input_tokens": 50,
        "input_tokens_details": {"text_tokens": 50, "image_tokens": 0},
        "output_tokens": 4160,
        "total_tokens": 4210,
    },
}


def _answer(harness, body: object) -> None:
    harness.upstream.answer = lambda _: httpx.Response(200, json=body)


async def test_openai_posts_images_generations_with_only_the_options_set(openai) -> None:
    _answer(openai, REPLY)

    reply = await openai.provider.generate_images(parse_image_request(REQUEST), openai.deployment)

    (sent,) = openai.upstream.sent
    assert str(sent.url) == "https://api.openai.example/v1/images/generations"
    assert sent.headers["authorization"] == "Bearer sk-test-123"
    # Every field as sent, `moderation` (not read by the gateway) too, but the gateway's own `num_retries`.
    sent_fields = {name: value for name, value in REQUEST.items() if name != "num_retries"}
    assert sent_json(sent) == {**sent_fields, "model": "gpt-4o-mini"}
    assert [(image.b64_json, image.revised_prompt) for image in reply.images] == [
        ("aGk=", None),
        ("aG8=", "A lighthouse"),
    ]
    assert (reply.created, reply.size, reply.quality) == (1713833628, "1024x1024", "high")
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.usage.images) == (50, 4160, 2)


async def test_a_url_reply_is_read_as_urls(openai) -> None:
    _answer(openai, {"created": 1, "data": [{"url": "https://images.example/1.png", "revised_prompt": "x"}]})
    request = parse_image_request({"model": "painter", "prompt": "p", "response_format": "url"})

    reply = await openai.provider.generate_images(request, openai.deployment)

    assert sent_json(openai.upstream.sent[0]) == {
        "model": "gpt-4o-mini",
        "prompt": "p",
        "response_format": "url",
    }
    assert reply.images[0].url == "https://images.example/1.png"
    assert (reply.usage.total_tokens, reply.usage.images) == (0, 1)


async def test_a_reply_without_data_is_a_bad_gateway(openai) -> None:
    _answer(openai, {"created": 1})

    with pytest.raises(BadGatewayError):
        await openai.provider.generate_images(parse_image_request(REQUEST), openai.deployment)


async def test_azure_posts_its_deployments_images_generations(azure) -> None:
    _answer(azure, REPLY)

    await azure.provider.generate_images(parse_image_request(REQUEST), azure.deployment)

    (sent,) = azure.upstream.sent
    assert str(sent.url) == (
        f"{API_BASE}/openai/deployments/gpt-4o-deployment/images/generations?api-version=2024-10-21"
    )
    assert sent.headers["api-key"] == "azure-key-123"
    assert sent_json(sent)["prompt"] == "A lighthouse at dusk"

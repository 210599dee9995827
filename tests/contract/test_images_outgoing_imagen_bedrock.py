"""What the image adapters that do not speak OpenAI's images API put on the wire and read back: Google's
Imagen `:predict` (`{instances: [{prompt}], parameters: {sampleCount, aspectRatio}}` → `predictions[]
.bytesBase64Encoded`) on the Gemini API and Vertex AI, and Bedrock's InvokeModel bodies of Amazon Titan
Image Generator (`TEXT_IMAGE`) and Stability AI (`text-to-image`, one image a call), SigV4-signed."""

from __future__ import annotations

import httpx
import pytest

from adapters.openai_format.images import parse_image_request
from domain.deployments import Deployment
from domain.errors import BadRequestError, ContentPolicyViolationError, UnsupportedParameterError
from tests.contract.harnesses.bedrock import BedrockHarness
from tests.contract.harnesses.gemini import GeminiHarness, VertexHarness
from tests.contract.outgoing import harness_fixture, sent_json

gemini = harness_fixture(GeminiHarness, "gemini")
vertex = harness_fixture(VertexHarness, "vertex")
bedrock = harness_fixture(BedrockHarness, "bedrock")

IMAGEN = "imagen-4.0-generate-001"
PREDICTIONS = {
    "predictions": [
        {"bytesBase64Encoded": "aGk=", "mimeType": "image/png"},
        {"bytesBase64Encoded": "aG8=", "mimeType": "image/jpeg", "prompt": "A lighthouse, enhanced"},
    ]
}


def _answer(harness, body: object) -> None:
    harness.upstream.answer = lambda _: httpx.Response(200, json=body)


def _upstream(harness, model: str) -> None:
    harness.deployment = Deployment(**(harness.settings() | {"upstream_model": model}))


def _request(**fields):
    return parse_image_request({"model": "painter", "prompt": "A lighthouse at dusk", **fields})


def _sent(harness) -> list[httpx.Request]:
    return [sent for sent in harness.upstream.sent if sent.url.host != "oauth2.googleapis.com"]


async def test_gemini_posts_imagen_predict_keyed_by_header(gemini) -> None:
    _upstream(gemini, IMAGEN)
    _answer(gemini, PREDICTIONS)

    reply = await gemini.provider.generate_images(
        _request(n=2, size="1792x1024", negativePrompt="fog"), gemini.deployment
    )

    (sent,) = _sent(gemini)
    assert str(sent.url) == (f"https://generativelanguage.googleapis.com/v1beta/models/{IMAGEN}:predict")
    assert sent.headers["x-goog-api-key"] == "AIzaSy-test-key" and "key=" not in str(sent.url)
    assert sent_json(sent) == {
        "instances": [{"prompt": "A lighthouse at dusk"}],
        "parameters": {"sampleCount": 2, "aspectRatio": "16:9", "negativePrompt": "fog"},
    }
    assert [(image.b64_json, image.url, image.revised_prompt) for image in reply.images] == [
        ("aGk=", None, None),
        ("aG8=", None, "A lighthouse, enhanced"),
    ]
    assert (reply.usage.images, reply.usage.total_tokens, reply.size) == (2, 0, "1792x1024")


async def test_vertex_posts_imagen_predict_with_its_oauth_token(vertex) -> None:
    _upstream(vertex, IMAGEN)
    _answer(vertex, PREDICTIONS)

    reply = await vertex.provider.generate_images(
        _request(size="1024x1792", response_format="url"), vertex.deployment
    )

    (sent,) = _sent(vertex)
    assert str(sent.url) == (
        "https://us-central1-aiplatform.googleapis.com/v1/projects/switchyard-test/locations/us-central1"
        f"/publishers/google/models/{IMAGEN}:predict"
    )
    assert sent.headers["authorization"].startswith("Bearer ya29.")
    assert sent_json(sent)["parameters"] == {"sampleCount": 1, "aspectRatio": "9:16"}
    assert [image.url for image in reply.images] == [
        "data:image/png;base64,aGk=",
        "data:image/jpeg;base64,aG8=",
    ]
    assert reply.images[0].b64_json is None


async def test_imagen_refuses_a_size_it_has_no_ratio_for_before_calling(gemini) -> None:
    _upstream(gemini, IMAGEN)

    with pytest.raises(BadRequestError) as raised:
        await gemini.provider.generate_images(_request(size="256x256"), gemini.deployment)

    assert raised.value.param == "size" and "256x256" in str(raised.value)
    assert not _sent(gemini)


async def test_imagen_refuses_openai_only_options_unless_dropped(gemini) -> None:
    _upstream(gemini, IMAGEN)
    _answer(gemini, PREDICTIONS)

    with pytest.raises(UnsupportedParameterError) as raised:
        await gemini.provider.generate_images(_request(quality="hd"), gemini.deployment)
    assert raised.value.param == "quality"

    await gemini.provider.generate_images(_request(quality="hd", drop_params=True), gemini.deployment)
    assert "quality" not in str(sent_json(_sent(gemini)[-1]))


async def test_imagen_filtering_every_image_is_a_content_policy_error(gemini) -> None:
    _upstream(gemini, IMAGEN)
    _answer(gemini, {"predictions": [{"raiFilteredReason": "39322892: violence"}]})

    with pytest.raises(ContentPolicyViolationError, match="violence"):
        await gemini.provider.generate_images(_request(), gemini.deployment)


async def test_bedrock_invokes_titan_image_generator_signed(bedrock) -> None:
    _upstream(bedrock, "amazon.titan-image-generator-v2:0")
    _answer(bedrock, {"images": ["aGk=", "aG8="], "error": None})

    reply = await bedrock.provider.generate_images(
        _request(n=2, size="1024x1024", quality="hd", cfgScale=8.0, negativeText="fog"), bedrock.deployment
    )

    (sent,) = bedrock.upstream.sent
    assert str(sent.url) == (
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.titan-image-generator-v2:0/invoke"
    )
    assert sent.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "x-amz-date" in sent.headers
    assert sent_json(sent) == {
        "taskType": "TEXT_IMAGE",
        "textToImageParams": {"text": "A lighthouse at dusk", "negativeText": "fog"},
        "imageGenerationConfig": {
            "numberOfImages": 2,
            "width": 1024,
            "height": 1024,
            "quality": "premium",
            "cfgScale": 8.0,
        },
    }
    assert [image.b64_json for image in reply.images] == ["aGk=", "aG8="]
    assert reply.usage.images == 2


async def test_bedrock_invokes_stability_once_per_image(bedrock) -> None:
    model = "stability.stable-image-core-v1:1"
    _upstream(bedrock, model)
    _answer(bedrock, {"seeds": [7], "finish_reasons": [None], "images": ["aGk="]})

    reply = await bedrock.provider.generate_images(
        _request(n=2, size="1792x1024", output_format="jpeg", response_format="url", seed=7),
        bedrock.deployment,
    )

    assert len(bedrock.upstream.sent) == 2
    sent = bedrock.upstream.sent[0]
    assert str(sent.url) == f"https://bedrock-runtime.us-east-1.amazonaws.com/model/{model}/invoke"
    assert sent.headers["authorization"].startswith("AWS4-HMAC-SHA256 ")
    assert sent_json(sent) == {
        "prompt": "A lighthouse at dusk",
        "mode": "text-to-image",
        "aspect_ratio": "16:9",
        "output_format": "jpeg",
        "seed": 7,
    }
    assert [image.url for image in reply.images] == ["data:image/jpeg;base64,aGk="] * 2
    assert reply.usage.images == 2


async def test_a_filtered_stability_image_is_a_content_policy_error(bedrock) -> None:
    _upstream(bedrock, "stability.sd3-5-large-v1:0")
    _answer(bedrock, {"finish_reasons": ["Filter reason: prompt"]})

    with pytest.raises(ContentPolicyViolationError, match="Filter reason: prompt"):
        await bedrock.provider.generate_images(_request(), bedrock.deployment)


async def test_bedrock_refuses_a_model_that_makes_no_images(bedrock) -> None:
    with pytest.raises(UnsupportedParameterError) as raised:
        await bedrock.provider.generate_images(_request(), bedrock.deployment)

    assert raised.value.param == "model" and not bedrock.upstream.sent

"""What the image adapters that do not speak OpenAI's images API put on the wire and read back: Google's
Imagen `:predict` (`{instances: [{prompt}], parameters: {sampleCount, aspectRatio}}` → `predictions[]
.bytesBase64Encoded`) and Gemini's image models through `:generateContent` (`responseModalities` with
IMAGE → `inlineData` parts, one image a call, billed in tokens; the body checked against the one
google-genai sends, the reply read by google-genai) on the Gemini API and Vertex AI, and Bedrock's
InvokeModel bodies of Amazon Titan Image Generator and Nova Canvas (`TEXT_IMAGE`), Stability AI
(`text-to-image`, one image a call) and Stable Diffusion XL (`text_prompts`, one image a call),
SigV4-signed."""

from __future__ import annotations

import base64

import httpx
import orjson
import pytest
from google import genai
from google.genai import types

from adapters.llm.gemini.images import content_body
from adapters.openai_format.images import parse_image_request
from domain.deployments import Deployment
from domain.errors import (
    BadGatewayError,
    BadRequestError,
    ContentPolicyViolationError,
    UnsupportedParameterError,
)
from tests.contract.harnesses.bedrock import BedrockHarness
from tests.contract.harnesses.gemini import GeminiHarness, VertexHarness
from tests.contract.outgoing import harness_fixture, sent_json

gemini = harness_fixture(GeminiHarness, "gemini")
vertex = harness_fixture(VertexHarness, "vertex")
bedrock = harness_fixture(BedrockHarness, "bedrock")

IMAGEN = "imagen-4.0-generate-001"
GEMINI_IMAGE = "gemini-2.5-flash-image"
# A generateContent reply of an image model: a thought image (a draft, left out), some text, the image.
GEMINI_IMAGE_REPLY = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"inlineData": {"mimeType": "image/png", "data": "ZHJhZnQ="}, "thought": True},
                    {"text": "Here is a lighthouse at dusk."},
                    {"inlineData": {"mimeType": "image/png", "data": "aGk="}},
                ],
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 7,
        "candidatesTokenCount": 1298,
        "totalTokenCount": 1305,
        "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1290}],
    },
    "modelVersion": GEMINI_IMAGE,
    "responseId": "r-1",
}
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


@pytest.mark.parametrize(("model", "size"), [(IMAGEN, "256x256"), (GEMINI_IMAGE, "256x100")])
async def test_a_size_of_no_ratio_the_model_makes_is_refused_before_calling(
    gemini, model: str, size: str
) -> None:
    _upstream(gemini, model)

    with pytest.raises(BadRequestError) as raised:
        await gemini.provider.generate_images(_request(size=size), gemini.deployment)

    assert raised.value.param == "size" and size in str(raised.value)
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


async def test_a_gemini_image_model_takes_generate_content_once_per_image(gemini) -> None:
    _upstream(gemini, GEMINI_IMAGE)
    _answer(gemini, GEMINI_IMAGE_REPLY)

    reply = await gemini.provider.generate_images(
        _request(n=2, size="1536x1024", imageConfig={"imageSize": "2K"}, seed=3, safetySettings=[]),
        gemini.deployment,
    )

    first, second = _sent(gemini)
    assert str(first.url) == (
        f"https://generativelanguage.googleapis.com/v1beta/models/{GEMINI_IMAGE}:generateContent"
    )
    assert first.headers["x-goog-api-key"] == "AIzaSy-test-key"
    assert (
        sent_json(first)
        == sent_json(second)
        == {
            "contents": [{"role": "user", "parts": [{"text": "A lighthouse at dusk"}]}],
            "safetySettings": [],
            "generationConfig": {
                "responseModalities": ["TEXT", "IMAGE"],
                "seed": 3,
                "imageConfig": {"imageSize": "2K", "aspectRatio": "3:2"},
            },
        }
    )
    assert [(image.b64_json, image.revised_prompt) for image in reply.images] == [
        ("aGk=", "Here is a lighthouse at dusk."),
    ] * 2
    usage = reply.usage
    assert (usage.images, usage.prompt_tokens, usage.completion_tokens) == (2, 14, 2596)


async def test_vertex_serves_gemini_image_models_through_generate_content(vertex) -> None:
    _upstream(vertex, "gemini-2.0-flash-preview-image-generation")
    _answer(vertex, GEMINI_IMAGE_REPLY)

    reply = await vertex.provider.generate_images(_request(response_format="url"), vertex.deployment)

    (sent,) = _sent(vertex)
    assert str(sent.url).endswith(
        "/publishers/google/models/gemini-2.0-flash-preview-image-generation:generateContent"
    )
    assert sent.headers["authorization"].startswith("Bearer ya29.")
    assert "imageConfig" not in sent_json(sent)["generationConfig"]
    assert [image.url for image in reply.images] == ["data:image/png;base64,aGk="]


def test_the_generate_content_body_is_the_one_google_genai_sends_and_the_reply_one_it_reads() -> None:
    sent: list[httpx.Request] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=GEMINI_IMAGE_REPLY)

    client = genai.Client(
        api_key="AIzaSy-test-key",
        http_options=types.HttpOptions(httpx_client=httpx.Client(transport=httpx.MockTransport(upstream))),
    )
    config = types.GenerateContentConfig(
        response_modalities=["TEXT", "IMAGE"], image_config=types.ImageConfig(aspect_ratio="16:9")
    )

    answer = client.models.generate_content(
        model=GEMINI_IMAGE, contents="A lighthouse at dusk", config=config
    )

    ours = content_body(_request(size="1792x1024"), Deployment(**GeminiHarness().settings()))
    assert orjson.loads(sent[0].content) == ours
    parts = answer.candidates[0].content.parts
    assert parts[2].inline_data.data == base64.b64decode("aGk=")
    assert parts[2].inline_data.mime_type == "image/png" and parts[0].thought


async def test_a_gemini_image_filtered_is_a_content_policy_error_and_text_alone_a_bad_gateway(gemini) -> None:
    _upstream(gemini, GEMINI_IMAGE)
    _answer(gemini, {"candidates": [{"finishReason": "IMAGE_SAFETY", "finishMessage": "unsafe", "index": 0}]})
    with pytest.raises(ContentPolicyViolationError, match="IMAGE_SAFETY: unsafe"):
        await gemini.provider.generate_images(_request(), gemini.deployment)

    _answer(gemini, {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}})
    with pytest.raises(ContentPolicyViolationError, match="PROHIBITED_CONTENT"):
        await gemini.provider.generate_images(_request(), gemini.deployment)

    said = {"candidates": [{"content": {"parts": [{"text": "I cannot draw that."}]}, "finishReason": "STOP"}]}
    _answer(gemini, said)
    with pytest.raises(BadGatewayError, match="I cannot draw that"):
        await gemini.provider.generate_images(_request(), gemini.deployment)


@pytest.mark.parametrize(
    ("size", "ratio"), [("1024x1024", "1:1"), ("1024x1792", "9:16"), ("1344x576", "21:9")]
)
async def test_a_gemini_image_models_size_is_its_aspect_ratio(gemini, size: str, ratio: str) -> None:
    _upstream(gemini, GEMINI_IMAGE)
    _answer(gemini, GEMINI_IMAGE_REPLY)

    await gemini.provider.generate_images(_request(size=size), gemini.deployment)

    assert sent_json(_sent(gemini)[-1])["generationConfig"]["imageConfig"] == {"aspectRatio": ratio}


async def test_bedrock_invokes_nova_canvas_as_titan(bedrock) -> None:
    _upstream(bedrock, "amazon.nova-canvas-v1:0")
    _answer(bedrock, {"images": ["aGk=", "aG8="], "error": None})

    reply = await bedrock.provider.generate_images(
        _request(n=2, size="1280x720", quality="standard", negativeText="fog", cfgScale=6.5, seed=42),
        bedrock.deployment,
    )

    (sent,) = bedrock.upstream.sent
    assert (
        str(sent.url)
        == "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.nova-canvas-v1:0/invoke"
    )
    assert sent.headers["authorization"].startswith("AWS4-HMAC-SHA256 ")
    assert sent_json(sent) == {
        "taskType": "TEXT_IMAGE",
        "textToImageParams": {"text": "A lighthouse at dusk", "negativeText": "fog"},
        "imageGenerationConfig": {
            "numberOfImages": 2,
            "width": 1280,
            "height": 720,
            "quality": "standard",
            "cfgScale": 6.5,
            "seed": 42,
        },
    }
    assert [image.b64_json for image in reply.images] == ["aGk=", "aG8="]
    assert reply.usage.images == 2


async def test_nova_canvas_images_withheld_by_its_filters_are_a_content_policy_error(bedrock) -> None:
    _upstream(bedrock, "amazon.nova-canvas-v1:0")
    _answer(
        bedrock,
        {"images": [], "error": "All of the generated images have been blocked by our content filters."},
    )

    with pytest.raises(ContentPolicyViolationError, match="content filters"):
        await bedrock.provider.generate_images(_request(), bedrock.deployment)


async def test_bedrock_invokes_stable_diffusion_xl_once_per_image(bedrock) -> None:
    model = "stability.stable-diffusion-xl-v1"
    _upstream(bedrock, model)
    _answer(
        bedrock,
        {"result": "success", "artifacts": [{"seed": 9, "base64": "aGk=", "finishReason": "SUCCESS"}]},
    )

    reply = await bedrock.provider.generate_images(
        _request(n=3, size="1152x896", cfg_scale=7, steps=30, seed=9, negative_prompt="fog"),
        bedrock.deployment,
    )

    assert len(bedrock.upstream.sent) == 3
    sent = bedrock.upstream.sent[0]
    assert str(sent.url) == f"https://bedrock-runtime.us-east-1.amazonaws.com/model/{model}/invoke"
    assert sent_json(sent) == {
        "text_prompts": [{"text": "A lighthouse at dusk", "weight": 1.0}, {"text": "fog", "weight": -1.0}],
        "cfg_scale": 7,
        "steps": 30,
        "seed": 9,
        "width": 1152,
        "height": 896,
    }
    assert [image.b64_json for image in reply.images] == ["aGk="] * 3
    assert reply.usage.images == 3


@pytest.mark.parametrize(
    ("reason", "error"), [("CONTENT_FILTERED", ContentPolicyViolationError), ("ERROR", BadGatewayError)]
)
async def test_an_sdxl_artifact_that_failed_is_raised_as_its_error(bedrock, reason: str, error: type) -> None:
    _upstream(bedrock, "stability.stable-diffusion-xl-v1")
    _answer(bedrock, {"result": "success", "artifacts": [{"seed": 1, "base64": "", "finishReason": reason}]})

    with pytest.raises(error, match=reason):
        await bedrock.provider.generate_images(_request(), bedrock.deployment)


async def test_sdxl_refuses_openai_only_options(bedrock) -> None:
    _upstream(bedrock, "stability.stable-diffusion-xl-v1")

    with pytest.raises(UnsupportedParameterError) as raised:
        await bedrock.provider.generate_images(_request(style="vivid"), bedrock.deployment)

    assert raised.value.param == "style" and not bedrock.upstream.sent

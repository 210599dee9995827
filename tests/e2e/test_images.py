"""POST /v1/images/generations through the real server, driven by the official `openai` client
(`client.images.generate`) against a mock deployment marked `mode: image_generation`: both response
formats, the mode in /v1/model/info, and a chat model refusing (a mock deployment makes images
whatever its mode, as it moderates and reranks). Then a Gemini image model behind the fake Gemini
upstream: one generateContent call per image, priced per image, and a key's budget refusing a call
that asks for more images than it has room for."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import openai
import pytest

from tests.e2e.conftest import gateway_serving
from tests.e2e.gemini_upstream import GeminiUpstream

pytestmark = pytest.mark.e2e

MODELS = [
    {"model_name": "demo", "litellm_params": {"model": "mock/demo"}},
    # A chat model of a real provider (never called: the call is refused before any upstream is chosen).
    {
        "model_name": "writer",
        "litellm_params": {
            "model": "openai/gpt-4o",
            "api_key": "sk-unused",
            "api_base": "http://127.0.0.1:9/v1",
        },
    },
    {
        "model_name": "painter",
        "litellm_params": {"model": "mock/painter"},
        "model_info": {"mode": "image_generation", "output_cost_per_image": 0.04},
    },
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    directory: Path = tmp_path_factory.mktemp("images")
    with gateway_serving(MODELS, directory) as gateway:
        yield gateway


def test_images_come_back_as_base64_pngs(client) -> None:
    result = client.images.generate(model="painter", prompt="a lighthouse", n=2, response_format="b64_json")

    assert len(result.data) == 2
    assert base64.b64decode(result.data[0].b64_json).startswith(b"\x89PNG\r\n\x1a\n")
    assert result.data[0].revised_prompt == "a lighthouse"
    assert result.created > 0
    assert result.usage is not None and result.usage.input_tokens > 0


def test_an_image_asked_as_a_url_comes_back_as_one(client) -> None:
    result = client.images.generate(
        model="painter", prompt="a lighthouse", response_format="url", size="1024x1024"
    )

    (image,) = result.data
    assert image.url is not None and image.url.startswith("data:image/png;base64,")
    assert image.b64_json is None and result.size == "1024x1024"


def test_a_chat_model_cannot_make_images(client) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model="writer", prompt="a lighthouse")

    assert caught.value.body["param"] == "model"  # type: ignore[index]


def test_model_info_shows_the_image_generation_mode(client) -> None:
    response = httpx.get(
        f"{client.base_url}model/info", headers={"Authorization": f"Bearer {client.api_key}"}
    )

    modes = {row["model_name"]: row["model_info"]["mode"] for row in response.json()["data"]}
    assert modes == {"demo": "chat", "writer": "chat", "painter": "image_generation"}


@pytest.fixture(scope="module")
def google(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[openai.OpenAI, GeminiUpstream]]:
    with GeminiUpstream() as upstream:
        model = {
            "model_name": "nano-banana",
            "litellm_params": {
                "model": "gemini/gemini-2.5-flash-image",
                "api_base": upstream.base_url,
                "api_key": "AIzaSy-e2e",
            },
            # Priced per image: the image tokens Google bills are that price, not charged again.
            "model_info": {"output_cost_per_image": 0.039, "input_cost_per_token": 0},
        }
        with gateway_serving([model], tmp_path_factory.mktemp("google-images")) as gateway:
            yield gateway, upstream


def test_a_gemini_image_model_makes_each_image_in_a_generate_content_call(google) -> None:
    client, upstream = google
    upstream.requests.clear()

    raw = client.images.with_raw_response.generate(
        model="nano-banana", prompt="a lighthouse", n=2, size="1792x1024"
    )

    result = raw.parse()
    assert [base64.b64decode(image.b64_json)[:4] for image in result.data] == [b"\x89PNG"] * 2
    assert result.data[0].revised_prompt == "A lighthouse at dusk."
    assert [request["path"] for request in upstream.requests] == [
        "/v1beta/models/gemini-2.5-flash-image:generateContent"
    ] * 2
    config = upstream.requests[0]["body"]["generationConfig"]
    assert config == {"responseModalities": ["TEXT", "IMAGE"], "imageConfig": {"aspectRatio": "16:9"}}
    assert Decimal(raw.headers["x-switchyard-response-cost"]) == Decimal("0.078")


def test_a_key_without_room_for_the_images_asked_is_refused_before_any_is_made(google) -> None:
    client, upstream = google
    answer = httpx.post(
        str(client.base_url.join("/key/generate")),
        json={"models": ["nano-banana"], "max_budget": 0.1},
        headers={"Authorization": f"Bearer {client.api_key}"},
    )
    artist = client.with_options(api_key=answer.json()["key"])
    upstream.requests.clear()

    with pytest.raises(openai.BadRequestError) as refused:
        artist.images.generate(model="nano-banana", prompt="a lighthouse", n=3)

    assert refused.value.code == "budget_exceeded" and not upstream.requests
    assert len(artist.images.generate(model="nano-banana", prompt="a lighthouse", n=2).data) == 2

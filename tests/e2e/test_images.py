"""POST /v1/images/generations through the real server, driven by the official `openai` client
(`client.images.generate`) against a mock deployment marked `mode: image_generation`: both response
formats, the mode in /v1/model/info, and a chat model refusing (a mock deployment makes images
whatever its mode, as it moderates and reranks)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.e2e.conftest import gateway_serving

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

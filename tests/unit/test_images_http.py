"""POST /v1/images/generations through the app: OpenAI's shape, routed only to deployments that make
images, priced per image, logged; and the config that marks such deployments."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient

from adapters.config import load_config
from adapters.llm.mock import MockProvider
from domain.completions import Usage
from domain.deployments import Capabilities, Deployment
from domain.pricing import Cost, ModelPrices, cost_of
from tests.fakes import FakeTokenCounter
from tests.unit import test_http_api
from tests.unit.test_text_completions_http import _Journals, _records

PAINTER = Capabilities(chat=False, images=True, mode="image_generation")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def client(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AsyncTestClient]:
    _Journals.opened = []
    monkeypatch.setattr(test_http_api, "InMemorySpendJournal", _Journals)
    more = (
        Deployment(id="dep-i1", model_name="painter", provider="anthropic", upstream_model="claude"),
        Deployment(
            id="dep-i2",
            model_name="painter",
            provider="mock",
            upstream_model="gpt-image-mock",
            capabilities=PAINTER,
            prices=ModelPrices(output_per_image=Decimal("0.04")),
        ),
        Deployment(
            id="dep-i3",
            model_name="sketcher",
            provider="mock",
            upstream_model="dall-e-mock",
            capabilities=PAINTER,
        ),
    )
    provider = MockProvider(FakeTokenCounter())
    async with AsyncTestClient(test_http_api._app(provider, more=more)) as test_client:  # type: ignore[arg-type]
        yield test_client


async def test_images_come_back_as_base64_pngs_priced_per_image_and_logged(client) -> None:
    for _ in range(4):  # whichever the router would pick, only the deployment that makes images serves it
        response = await client.post(
            "/v1/images/generations",
            json={"model": "painter", "prompt": "a red fox", "n": 2, "size": "256x256"},
        )

        assert response.status_code == 200, response.text
        assert response.headers["x-switchyard-model-id"] == "dep-i2"
    body = response.json()
    assert isinstance(body["created"], int) and body["size"] == "256x256"
    assert len(body["data"]) == 2
    first = body["data"][0]
    assert base64.b64decode(first["b64_json"]).startswith(PNG_SIGNATURE)
    assert first["revised_prompt"] == "a red fox" and "url" not in first
    assert body["usage"]["input_tokens"] > 0
    assert response.headers["x-switchyard-response-cost"] == "0.08"
    records = await _records()
    assert records and {record.call_type for record in records} == {"image_generation"}
    assert records[-1].cost == Decimal("0.08")


async def test_a_url_reply_is_a_data_url(client) -> None:
    response = await client.post(
        "/images/generations", json={"model": "sketcher", "prompt": "a fox", "response_format": "url"}
    )

    assert response.status_code == 200, response.text
    (image,) = response.json()["data"]
    assert image["url"].startswith("data:image/png;base64,") and "b64_json" not in image
    records = await _records()
    assert records[-1].cost == 0  # the mock, unpriced, is free


def test_images_are_priced_per_image_on_top_of_tokens_and_unpriced_models_cost_null() -> None:
    usage = Usage(prompt_tokens=10, completion_tokens=100, images=2)
    prices = ModelPrices(
        input=Decimal("0.001"), input_per_image=Decimal("0.01"), output_per_image=Decimal("0.04")
    )

    assert cost_of(usage, prices) == Cost(Decimal("0.03"), Decimal("0.08"))
    assert cost_of(usage, ModelPrices()) is None


async def test_a_model_that_cannot_make_images_refuses_naming_the_model(client) -> None:
    response = await client.post("/v1/images/generations", json={"model": "gpt-x", "prompt": "a fox"})

    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "model"
    assert "images" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": "p"}, "model"),
        ({"model": "painter"}, "prompt"),
        ({"model": "painter", "prompt": ""}, "prompt"),
        ({"model": "painter", "prompt": 3}, "prompt"),
        ({"model": "painter", "prompt": "p", "n": 0}, "n"),
        ({"model": "painter", "prompt": "p", "n": 11}, "n"),
        ({"model": "painter", "prompt": "p", "n": "2"}, "n"),
        ({"model": "painter", "prompt": "p", "response_format": "png"}, "response_format"),
        ({"model": "painter", "prompt": "p", "style": "bold"}, "style"),
        ({"model": "painter", "prompt": "p", "background": "green"}, "background"),
        ({"model": "painter", "prompt": "p", "size": 1024}, "size"),
    ],
)
async def test_a_bad_field_is_a_400_naming_it(client, body, param) -> None:
    response = await client.post("/v1/images/generations", json=body)

    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


async def test_model_info_shows_the_image_mode_and_its_image_price(client) -> None:
    rows = (await client.get("/v1/model/info")).json()["data"]

    info = next(row["model_info"] for row in rows if row["model_info"]["id"] == "dep-i2")
    assert info["mode"] == "image_generation"
    assert info["output_cost_per_image"] == 0.04 and info["input_cost_per_image"] is None


def test_the_config_marks_image_models_by_mode_or_by_name_with_their_image_prices() -> None:
    config = load_config(
        {
            "model_list": [
                {
                    "model_name": "painter",
                    "litellm_params": {"model": "openai/my-painter", "api_key": "k"},
                    "model_info": {"mode": "image_generation", "output_cost_per_image": 0.04},
                },
                {
                    "model_name": "dalle",
                    "litellm_params": {"model": "azure/dall-e-3", "api_base": "https://a.example"},
                },
                {"model_name": "chat", "litellm_params": {"model": "openai/gpt-4o", "api_key": "k"}},
            ]
        },
        {},
    )

    by_name = {d.model_name: d for d in config.deployments}
    painter = by_name["painter"].capabilities
    assert (painter.images, painter.chat, painter.mode) == (True, False, "image_generation")
    assert by_name["painter"].prices.output_per_image == Decimal("0.04")
    assert by_name["dalle"].capabilities.images and by_name["dalle"].capabilities.mode == "image_generation"
    assert not by_name["chat"].capabilities.images

"""The image generation contract (LLMProvider.generate_images): every adapter that serves it, the mock
and each real one behind a fake upstream in its wire format (OpenAI's /images/generations, at Azure's
deployment URL too; Imagen's :predict and Gemini's image models' :generateContent on the Gemini API and
Vertex AI; Bedrock's Titan, Nova Canvas, Stability and SDXL, see image_upstreams.py), makes the images
asked for, each as base64 or a URL as asked, and counts them in the usage; the real ones raise each
upstream failure as its domain error."""

from __future__ import annotations

import base64

import pytest

from domain import errors
from domain.images import ImageRequest
from tests.contract.harnesses.base import ProviderHarness
from tests.contract.surfaces import FAILURES, backend_fixture, fail_with

backend = backend_fixture("generate_images")
upstream_backend = backend_fixture("generate_images", real_only=True)


def _request(**changes: object) -> ImageRequest:
    fields: dict[str, object] = {"model": "painter", "prompt": "A lighthouse at dusk"} | changes
    return ImageRequest(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [None, 1, 3])
async def test_the_images_asked_for_are_made_and_counted(backend: ProviderHarness, n: int | None) -> None:
    request = _request(n=n)

    reply = await backend.provider.generate_images(request, backend.deployment)

    assert len(reply.images) == request.count
    assert reply.usage.images == request.count
    assert reply.created > 0


@pytest.mark.parametrize("n", [1, 2])
async def test_b64_json_gives_each_image_as_base64(backend: ProviderHarness, n: int) -> None:
    reply = await backend.provider.generate_images(
        _request(n=n, response_format="b64_json"), backend.deployment
    )

    for image in reply.images:
        assert image.url is None
        assert image.b64_json
        assert base64.b64decode(image.b64_json, validate=True)


@pytest.mark.parametrize("n", [1, 2])
async def test_url_gives_each_image_as_a_link(backend: ProviderHarness, n: int) -> None:
    reply = await backend.provider.generate_images(_request(n=n, response_format="url"), backend.deployment)

    for image in reply.images:
        assert image.b64_json is None
        assert image.url and image.url.startswith(("https://", "data:image/"))


async def test_the_reply_names_the_deployments_model(backend: ProviderHarness) -> None:
    reply = await backend.provider.generate_images(_request(), backend.deployment)

    assert reply.model == backend.deployment.upstream_model


@pytest.mark.parametrize("kind", sorted(FAILURES))
async def test_each_upstream_failure_is_raised_as_its_domain_error(
    upstream_backend: ProviderHarness, kind: str
) -> None:
    fail_with(upstream_backend, kind)

    with pytest.raises(errors.SwitchyardError) as raised:
        await upstream_backend.provider.generate_images(_request(n=2), upstream_backend.deployment)

    assert type(raised.value) is FAILURES[kind]
    assert raised.value.message

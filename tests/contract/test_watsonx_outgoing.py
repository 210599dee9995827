"""What the watsonx.ai adapter puts on the wire: URL, headers, the text chat and embeddings bodies, and
the IBM Cloud IAM exchange, exactly."""

from __future__ import annotations

import asyncio
import urllib.parse

import pytest

from domain import errors
from domain.completions import SamplingParams
from domain.deployments import Credentials, Secret
from domain.embeddings import EmbeddingRequest
from domain.errors import UnsupportedParameterError
from domain.messages import NamedToolChoice, ToolChoiceMode
from tests.contract.harnesses.base import TEXTS, WEATHER_TOOL, chat_request
from tests.contract.harnesses.watsonx import API_BASE, IAM_TOKEN, IAM_URL, PROJECT_ID, WatsonxHarness
from tests.contract.outgoing import harness_fixture, sent_body, sent_chat, sent_json

harness = harness_fixture(WatsonxHarness)
MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Hello!"},
]


async def test_a_chat_posts_to_text_chat_with_the_version_and_an_iam_bearer_token(
    harness: WatsonxHarness,
) -> None:
    (sent,) = await sent_chat(harness)

    assert sent.method == "POST"
    assert str(sent.url) == f"{API_BASE}/ml/v1/text/chat?version=2024-03-13"
    assert sent.headers["authorization"] == f"Bearer {IAM_TOKEN}"
    assert sent.headers["content-type"] == "application/json"
    assert sent_json(sent) == {
        "model_id": "ibm/granite-3-8b-instruct",
        "project_id": PROJECT_ID,
        "messages": MESSAGES,
    }


async def test_the_api_key_is_exchanged_at_iam_with_the_apikey_grant(harness: WatsonxHarness) -> None:
    await sent_chat(harness)

    (exchange,) = harness.token_requests
    assert str(exchange.url) == IAM_URL
    assert exchange.headers["content-type"] == "application/x-www-form-urlencoded"
    assert urllib.parse.parse_qs(exchange.content.decode()) == {
        "grant_type": ["urn:ibm:params:oauth:grant-type:apikey"],
        "apikey": ["ibm-cloud-api-key-123"],
    }


async def test_concurrent_calls_share_one_iam_exchange_and_later_calls_reuse_its_token(
    harness: WatsonxHarness,
) -> None:
    harness.text_reply(stream=False)
    calls = [harness.provider.complete(chat_request(), harness.deployment) for _ in range(5)]

    await asyncio.gather(*calls)
    await harness.provider.complete(chat_request(), harness.deployment)

    assert len(harness.token_requests) == 1
    assert {sent.headers["authorization"] for sent in harness.upstream.sent} == {f"Bearer {IAM_TOKEN}"}


async def test_a_stream_posts_to_chat_stream_without_stream_fields_in_the_body(
    harness: WatsonxHarness,
) -> None:
    harness.text_reply(stream=True)

    stream = await harness.provider.stream(chat_request(stream=True, include_usage=True), harness.deployment)
    await stream.aclose()

    sent = harness.upstream.sent[-1]
    assert str(sent.url) == f"{API_BASE}/ml/v1/text/chat_stream?version=2024-03-13"
    assert sent.headers["accept"] == "text/event-stream"
    assert "stream" not in sent_json(sent) and "stream_options" not in sent_json(sent)


async def test_sampling_parameters_and_tools_take_watsonx_names(harness: WatsonxHarness) -> None:
    params = SamplingParams(temperature=0.3, top_p=0.75, max_tokens=64, stop=("END",), seed=7)

    body = await sent_body(harness, params=params, tools=(WEATHER_TOOL,), tool_choice=ToolChoiceMode.REQUIRED)

    assert body["tool_choice_option"] == "required"
    assert "tool_choice" not in body
    assert body["tools"][0]["function"]["name"] == WEATHER_TOOL.name
    assert {k: body[k] for k in ("temperature", "top_p", "max_tokens", "stop", "seed")} == {
        "temperature": 0.3, "top_p": 0.75, "max_tokens": 64, "stop": ["END"], "seed": 7,
    }  # fmt: skip


async def test_a_named_tool_choice_goes_as_tool_choice(harness: WatsonxHarness) -> None:
    body = await sent_body(harness, tools=(WEATHER_TOOL,), tool_choice=NamedToolChoice(WEATHER_TOOL.name))

    assert body["tool_choice"] == {"type": "function", "function": {"name": WEATHER_TOOL.name}}
    assert "tool_choice_option" not in body


async def test_a_deployment_space_a_configured_version_and_a_static_token_are_used() -> None:
    credentials = Credentials(
        extra={"space_id": "space-9", "token": "static-bearer", "api_version": "2025-02-11"}
    )
    harness = WatsonxHarness(credentials=credentials)
    (sent,) = await sent_chat(harness)

    assert str(sent.url) == f"{API_BASE}/ml/v1/text/chat?version=2025-02-11"
    assert sent.headers["authorization"] == "Bearer static-bearer"
    assert sent_json(sent)["space_id"] == "space-9" and "project_id" not in sent_json(sent)
    assert harness.token_requests == []


async def test_a_software_zen_api_key_is_sent_as_such() -> None:
    sent = await sent_chat(
        WatsonxHarness(credentials=Credentials(extra={"zen_api_key": "zen-1", "project_id": "p"}))
    )

    assert sent[0].headers["authorization"] == "ZenApiKey zen-1"


async def test_a_deployed_model_is_called_at_its_deployment_without_model_or_project() -> None:
    (sent,) = await sent_chat(WatsonxHarness(upstream_model="deployment/my-tuned-granite"))

    assert str(sent.url) == f"{API_BASE}/ml/v1/deployments/my-tuned-granite/text/chat?version=2024-03-13"
    assert sent_json(sent) == {"messages": MESSAGES}


async def test_embeddings_post_the_texts_with_model_and_project(harness: WatsonxHarness) -> None:
    harness.embeddings(wire="float")

    await harness.provider.embed(EmbeddingRequest(model="e", inputs=TEXTS), harness.deployment)

    sent = harness.upstream.sent[-1]
    assert str(sent.url) == f"{API_BASE}/ml/v1/text/embeddings?version=2024-03-13"
    assert sent_json(sent) == {
        "inputs": list(TEXTS),
        "model_id": "ibm/granite-3-8b-instruct",
        "project_id": PROJECT_ID,
    }


async def test_embeddings_refuse_dimensions_unless_dropped(harness: WatsonxHarness) -> None:
    with pytest.raises(UnsupportedParameterError) as raised:
        await harness.provider.embed(
            EmbeddingRequest(model="e", inputs=TEXTS, dimensions=8), harness.deployment
        )

    assert raised.value.param == "dimensions"


def test_parameters_watsonx_cannot_honour_are_named(harness: WatsonxHarness) -> None:
    request = chat_request(params=SamplingParams(user="u-1", top_k=5, parallel_tool_calls=False))

    assert sorted(harness.provider.unsupported_params(request, harness.deployment)) == [
        "parallel_tool_calls", "top_k", "user",
    ]  # fmt: skip


async def test_credentials_iam_refuses_are_an_authentication_error_naming_its_reason(
    harness: WatsonxHarness,
) -> None:
    harness.iam_reply = (
        400,
        {"errorCode": "BXNIM0415E", "errorMessage": "Provided API key could not be found."},
    )

    with pytest.raises(errors.AuthenticationError) as raised:
        await harness.provider.complete(chat_request(), harness.deployment)

    assert "Provided API key could not be found." in raised.value.message
    assert harness.upstream.sent == []


async def test_a_deployment_without_any_credential_is_refused_before_calling(harness: WatsonxHarness) -> None:
    harness.deployment = WatsonxHarness(credentials=Credentials(extra={"project_id": "p"})).deployment

    with pytest.raises(errors.AuthenticationError, match="WATSONX_APIKEY"):
        await harness.provider.complete(chat_request(), harness.deployment)

    assert harness.upstream.sent == []


async def test_a_deployment_without_project_or_space_is_refused_naming_them() -> None:
    harness = WatsonxHarness(credentials=Credentials(api_key=Secret("k"), extra={"iam_url": IAM_URL}))

    with pytest.raises(errors.AuthenticationError, match="project_id or space_id"):
        await harness.provider.complete(chat_request(), harness.deployment)
    await harness.close()

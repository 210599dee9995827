"""What the Azure adapters put on the wire: deployment and v1 URLs, api-version, api-key or Entra ID
bearer tokens (with the client-credentials exchange), and the Foundry models endpoint."""

from __future__ import annotations

import urllib.parse

import httpx
import pytest

from adapters.llm.azure import AzureAIProvider
from adapters.llm.azure.entra import EntraTokens
from domain.completions import FinishReason, SamplingParams, assemble
from domain.deployments import Capabilities, Credentials, Secret
from domain.embeddings import EmbeddingRequest
from domain.errors import AuthenticationError, ContentPolicyViolationError
from tests.contract.harnesses.azure import API_BASE, FIXTURES, AzureHarness
from tests.contract.harnesses.base import chat_request
from tests.contract.outgoing import harness_fixture, sent_chat, sent_json

CLIENT_CREDENTIALS = {"tenant_id": "contoso-tenant", "client_id": "app-123", "client_secret": "s3cret"}
TOKEN_URL = "https://login.microsoftonline.com/contoso-tenant/oauth2/v2.0/token"


harness = harness_fixture(AzureHarness)


def _token_then_chat(harness: AzureHarness, token_status: int = 200) -> None:
    """The login endpoint answers token requests, the resource the chat."""
    chat = (FIXTURES / "chat_completion.json").read_bytes()
    token = FIXTURES / ("entra_token.json" if token_status == 200 else "errors/entra_invalid_client.json")

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "login.microsoftonline.com":
            return httpx.Response(token_status, content=token.read_bytes())
        return httpx.Response(200, content=chat, headers={"content-type": "application/json"})

    harness.upstream.answer = answer


async def test_a_chat_goes_to_its_deployment_with_the_api_version_and_the_api_key_header(
    harness: AzureHarness,
) -> None:
    (sent,) = await sent_chat(harness)

    assert (
        str(sent.url)
        == f"{API_BASE}/openai/deployments/gpt-4o-deployment/chat/completions?api-version=2024-10-21"
    )
    assert sent.headers["api-key"] == "azure-key-123"
    assert "authorization" not in sent.headers
    assert sent_json(sent)["messages"][1] == {"role": "user", "content": "Hello!"}


async def test_without_an_api_version_the_latest_ga_version_is_used() -> None:
    sent = await sent_chat(AzureHarness(credentials=Credentials(api_key=Secret("k"))))

    assert sent[0].url.params["api-version"] == "2024-10-21"


async def test_embeddings_go_to_the_deployments_embeddings(harness: AzureHarness) -> None:
    harness.embeddings(wire="base64")

    await harness.provider.embed(EmbeddingRequest(model="e", inputs=("hi",)), harness.deployment)

    url = str(harness.upstream.sent[0].url)
    assert url == f"{API_BASE}/openai/deployments/gpt-4o-deployment/embeddings?api-version=2024-10-21"


@pytest.mark.parametrize(
    ("api_base", "version", "url"),
    [
        (API_BASE, "v1", f"{API_BASE}/openai/v1/chat/completions"),
        (API_BASE, "latest", f"{API_BASE}/openai/v1/chat/completions"),
        (API_BASE, "preview", f"{API_BASE}/openai/v1/chat/completions?api-version=preview"),
        (f"{API_BASE}/openai/v1/", None, f"{API_BASE}/openai/v1/chat/completions"),
        (f"{API_BASE}/openai", "2025-04-01-preview", None),
    ],
)
async def test_the_v1_api_is_used_when_the_version_or_the_base_says_so(
    api_base: str, version: str | None, url: str | None
) -> None:
    extra = {"api_version": version} if version else {}
    harness = AzureHarness(api_base=api_base, credentials=Credentials(api_key=Secret("k"), extra=extra))

    sent = (await sent_chat(harness))[0]

    expected = url or (
        f"{API_BASE}/openai/deployments/gpt-4o-deployment/chat/completions?api-version=2025-04-01-preview"
    )
    assert str(sent.url) == expected
    assert sent_json(sent)["model"] == "gpt-4o-deployment"  # v1 picks the deployment by model


async def test_a_configured_entra_id_token_is_sent_as_a_bearer_token() -> None:
    extra = {"azure_ad_token": "eyJ-configured", "api_version": "2024-10-21"}
    sent = (await sent_chat(AzureHarness(credentials=Credentials(extra=extra))))[0]

    assert sent.headers["authorization"] == "Bearer eyJ-configured"
    assert "api-key" not in sent.headers


async def test_client_credentials_are_exchanged_once_and_the_token_reused_until_it_expires() -> None:
    harness = AzureHarness(credentials=Credentials(extra=CLIENT_CREDENTIALS))
    _token_then_chat(harness)

    await harness.provider.complete(chat_request(), harness.deployment)
    await harness.provider.complete(chat_request(), harness.deployment)
    await harness.close()

    token_request, first, second = harness.upstream.sent
    assert str(token_request.url) == TOKEN_URL
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert dict(urllib.parse.parse_qsl(token_request.content.decode())) == {
        "grant_type": "client_credentials",
        "client_id": "app-123",
        "client_secret": "s3cret",
        "scope": "https://cognitiveservices.azure.com/.default",
    }
    for call in (first, second):
        assert call.headers["authorization"] == "Bearer eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.entra-test-token"
        assert call.url.path == "/openai/deployments/gpt-4o-deployment/chat/completions"


async def test_a_token_is_fetched_anew_shortly_before_it_expires() -> None:
    now = [1000.0]
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, content=(FIXTURES / "entra_token.json").read_bytes())

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        tokens = EntraTokens(client, clock=lambda: now[0])
        await tokens.token(CLIENT_CREDENTIALS, 10.0)
        now[0] += 3599 - 301  # just outside the five minutes before expiry: still good
        await tokens.token(CLIENT_CREDENTIALS, 10.0)
        fetched_before = len(sent)
        now[0] += 2  # inside them
        await tokens.token(CLIENT_CREDENTIALS, 10.0)
        await tokens.token(CLIENT_CREDENTIALS, 10.0)

    assert (fetched_before, len(sent)) == (1, 2)


async def test_refused_client_credentials_are_an_authentication_error_naming_entras_reason() -> None:
    harness = AzureHarness(credentials=Credentials(extra=CLIENT_CREDENTIALS))
    _token_then_chat(harness, token_status=401)

    with pytest.raises(AuthenticationError) as raised:
        await harness.provider.complete(chat_request(), harness.deployment)
    await harness.close()

    assert "AADSTS7000215" in raised.value.message
    assert len(harness.upstream.sent) == 1  # the chat was never sent


async def test_a_filtered_prompt_is_a_content_policy_violation(harness: AzureHarness) -> None:
    request = harness.failure("content_policy", stream=False)

    with pytest.raises(ContentPolicyViolationError) as raised:
        await harness.provider.complete(request, harness.deployment)

    assert "content management policy" in raised.value.message


async def test_a_stream_stopped_by_the_output_filter_ends_with_finish_reason_content_filter(
    harness: AzureHarness,
) -> None:
    harness.upstream.sse((FIXTURES / "chat_stream_content_filter.sse").read_bytes())

    stream = await harness.provider.stream(chat_request(stream=True), harness.deployment)
    chunks = [chunk async for chunk in stream]

    (choice,) = assemble(chunks).choices
    assert choice.message.content == "Here is"
    assert choice.finish_reason is FinishReason.CONTENT_FILTER
    assert all(chunk.id == "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG" for chunk in chunks)


async def test_azure_ai_posts_to_the_foundry_models_endpoint_with_its_api_version_and_api_key() -> None:
    harness = AzureHarness(
        provider="azure_ai",
        api_base="https://switchyard-test.services.ai.azure.com/models",
        upstream_model="mistral-large-2411",
        credentials=Credentials(api_key=Secret("foundry-key")),
    )
    harness.provider = AzureAIProvider(harness.client)
    harness.text_reply(stream=False)

    await harness.provider.complete(chat_request(), harness.deployment)
    await harness.close()

    sent = harness.upstream.sent[0]
    assert str(sent.url) == (
        "https://switchyard-test.services.ai.azure.com/models/chat/completions?api-version=2024-05-01-preview"
    )
    assert sent.headers["api-key"] == "foundry-key"
    assert sent_json(sent)["model"] == "mistral-large-2411"


async def test_azure_ai_serverless_endpoints_take_the_key_as_a_bearer_token_without_an_api_version() -> None:
    harness = AzureHarness(
        provider="azure_ai",
        api_base="https://Mistral-large-serverless.eastus2.models.ai.azure.com",
        credentials=Credentials(api_key=Secret("serverless-key")),
    )
    harness.provider = AzureAIProvider(harness.client)
    harness.text_reply(stream=False)

    await harness.provider.complete(chat_request(), harness.deployment)
    await harness.close()

    sent = harness.upstream.sent[0]
    assert str(sent.url) == "https://mistral-large-serverless.eastus2.models.ai.azure.com/chat/completions"
    assert sent.headers["authorization"] == "Bearer serverless-key"
    assert "api-key" not in sent.headers


def test_azure_refuses_top_k_and_a_thinking_budget_for_a_deployment_not_declared_reasoning(
    harness: AzureHarness,
) -> None:
    request = chat_request(params=SamplingParams(top_k=40, thinking_budget=2048))

    assert list(harness.provider.unsupported_params(request, harness.deployment)) == [
        "top_k",
        "thinking_budget",
    ]


async def test_a_deployment_declared_reasoning_gets_a_thinking_budget_as_reasoning_effort() -> None:
    # Azure's upstream model is the deployment's name, which says nothing of the model behind it.
    harness = AzureHarness(capabilities=Capabilities(reasoning=True))
    request = chat_request(params=SamplingParams(thinking_budget=10000))

    assert list(harness.provider.unsupported_params(request, harness.deployment)) == []
    (sent,) = await sent_chat(harness, request)
    assert sent_json(sent)["reasoning_effort"] == "medium"

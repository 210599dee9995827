"""What the Databricks adapter puts on the wire: the serving endpoints' OpenAI-format URLs, the workspace
token or the OAuth M2M exchange, exactly."""

from __future__ import annotations

import asyncio
import base64
import urllib.parse

import pytest

from domain import errors
from domain.deployments import Credentials, Secret
from domain.embeddings import EmbeddingRequest
from tests.contract.harnesses.base import TEXTS, chat_request
from tests.contract.harnesses.databricks import API_BASE, OAUTH_TOKEN, WORKSPACE, DatabricksHarness
from tests.contract.outgoing import harness_fixture, sent_chat, sent_json

harness = harness_fixture(DatabricksHarness)
M2M = Credentials(extra={"client_id": "sp-client-1", "client_secret": "dose-secret-1"})


async def test_a_chat_posts_openais_body_to_the_serving_endpoints_with_the_token(
    harness: DatabricksHarness,
) -> None:
    (sent,) = await sent_chat(harness)

    assert str(sent.url) == f"{API_BASE}/chat/completions"
    assert sent.headers["authorization"] == "Bearer dapi-test-123"
    assert sent_json(sent) == {
        "model": "databricks-meta-llama-3-3-70b-instruct",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Hello!"},
        ],
    }


async def test_a_bare_workspace_url_gets_the_serving_endpoints_segment() -> None:
    (sent,) = await sent_chat(DatabricksHarness(api_base=WORKSPACE + "/"))

    assert str(sent.url) == f"{API_BASE}/chat/completions"


async def test_embeddings_post_to_the_serving_endpoints_embeddings(harness: DatabricksHarness) -> None:
    harness.embeddings(wire="float")

    await harness.provider.embed(EmbeddingRequest(model="e", inputs=TEXTS), harness.deployment)

    sent = harness.upstream.sent[-1]
    assert str(sent.url) == f"{API_BASE}/embeddings"
    assert sent_json(sent)["model"] == "databricks-meta-llama-3-3-70b-instruct"


async def test_oauth_m2m_credentials_are_exchanged_at_the_workspace_once_for_concurrent_calls() -> None:
    harness = DatabricksHarness(credentials=M2M)
    harness.text_reply(stream=False)

    await asyncio.gather(*(harness.provider.complete(chat_request(), harness.deployment) for _ in range(4)))

    (exchange,) = harness.token_requests
    assert str(exchange.url) == f"{WORKSPACE}/oidc/v1/token"
    basic = base64.b64encode(b"sp-client-1:dose-secret-1").decode()
    assert exchange.headers["authorization"] == f"Basic {basic}"
    assert urllib.parse.parse_qs(exchange.content.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["all-apis"],
    }
    assert {sent.headers["authorization"] for sent in harness.upstream.sent} == {f"Bearer {OAUTH_TOKEN}"}
    await harness.close()


async def test_a_workspace_token_wins_over_oauth_credentials() -> None:
    harness = DatabricksHarness(credentials=Credentials(api_key=Secret("dapi-test-123"), extra=M2M.extra))
    (sent,) = await sent_chat(harness)

    assert sent.headers["authorization"] == "Bearer dapi-test-123"
    assert harness.token_requests == []


async def test_without_a_token_or_oauth_credentials_the_call_is_refused_naming_them() -> None:
    harness = DatabricksHarness(credentials=Credentials())

    with pytest.raises(errors.AuthenticationError, match="DATABRICKS_CLIENT_ID"):
        await harness.provider.complete(chat_request(), harness.deployment)

    assert harness.upstream.sent == []
    await harness.close()


def test_databricks_serves_chat_and_embeddings_only(harness: DatabricksHarness) -> None:
    capabilities = harness.provider.capabilities()

    assert (capabilities.chat, capabilities.embeddings) == (True, True)
    assert not (capabilities.moderation or capabilities.images or capabilities.transcription)

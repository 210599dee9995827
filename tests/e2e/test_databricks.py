"""The real server in front of a fake Databricks workspace, driven by the official `openai` client; the
same client pointed at the fake as Databricks' docs point it at a workspace proves the fake's format."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.e2e.conftest import MESSAGES, gateway_serving
from tests.e2e.databricks_upstream import CLIENT_ID, CLIENT_SECRET, OAUTH_TOKEN, PAT, FakeDatabricks

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def databricks() -> Iterator[FakeDatabricks]:
    with FakeDatabricks() as server:
        yield server


@pytest.fixture(scope="module")
def client(databricks: FakeDatabricks, tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    token = {"api_base": databricks.base_url, "api_key": PAT}
    # A bare workspace URL and OAuth M2M credentials instead of a token.
    oauth = {"api_base": databricks.root, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    model_list = [
        {"model_name": "llama", "litellm_params": {"model": "databricks/ok", **token}},
        {"model_name": "llama-m2m", "litellm_params": {"model": "databricks/m2m-ok", **oauth}},
        {"model_name": "llama-limited", "litellm_params": {"model": "databricks/rate-limited", **token}},
        {
            "model_name": "gte",
            "litellm_params": {"model": "databricks/databricks-gte-large-en", **token},
            "model_info": {"mode": "embedding"},
        },
    ]
    with gateway_serving(
        model_list, Path(tmp_path_factory.mktemp("e2e-databricks")), router_settings={"num_retries": 0}
    ) as client:
        yield client


def test_the_fake_answers_the_openai_client_as_a_workspace_does(databricks: FakeDatabricks) -> None:
    workspace = openai.OpenAI(base_url=databricks.base_url, api_key=PAT, max_retries=0)

    reply = workspace.chat.completions.create(model="ok", messages=MESSAGES)

    assert reply.choices[0].message.content == "Hello from upstream!"
    assert databricks.requests[-1]["path"] == "/serving-endpoints/chat/completions"


def test_a_chat_reaches_the_serving_endpoint_with_the_workspace_token(
    client: openai.OpenAI, databricks: FakeDatabricks
) -> None:
    reply = client.chat.completions.create(model="llama", messages=MESSAGES)

    assert reply.choices[0].message.content == "Hello from upstream!"
    sent = databricks.requests[-1]
    assert sent["path"] == "/serving-endpoints/chat/completions"
    assert sent["headers"]["authorization"] == f"Bearer {PAT}"
    assert sent["body"]["model"] == "ok"


def test_oauth_m2m_credentials_buy_a_token_at_the_workspace(
    client: openai.OpenAI, databricks: FakeDatabricks
) -> None:
    chunks = list(client.chat.completions.create(model="llama-m2m", messages=MESSAGES, stream=True))

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    exchange = next(r for r in databricks.requests if r["path"] == "/oidc/v1/token")
    assert exchange["body"] == {"grant_type": "client_credentials", "scope": "all-apis"}
    sent = databricks.requests[-1]
    assert sent["path"] == "/serving-endpoints/chat/completions"
    assert sent["headers"]["authorization"] == f"Bearer {OAUTH_TOKEN}"


def test_a_rate_limit_keeps_its_status_and_retry_after(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model="llama-limited", messages=MESSAGES)

    assert raised.value.response.headers["retry-after"] == "3"


def test_embeddings_come_back_from_the_serving_endpoints(
    client: openai.OpenAI, databricks: FakeDatabricks
) -> None:
    result = client.embeddings.create(model="gte", input=["a", "b"], encoding_format="float")

    assert [item.embedding for item in result.data] == [[0.25, -0.5, 1.0]] * 2
    assert databricks.requests[-1]["path"] == "/serving-endpoints/embeddings"

"""The real server in front of Hugging Face, Voyage AI, Jina AI, Cloudflare Workers AI and Snowflake
Cortex (one local fake in their wire formats), driven by the official `openai` client and plain HTTP for
/v1/rerank; the fake itself checked against the providers' own SDKs where they have one (voyageai,
huggingface_hub)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import openai
import pytest
import voyageai
from huggingface_hub import InferenceClient

from tests.e2e.conftest import USER, gateway_serving
from tests.e2e.native_hosts_upstream import FakeNativeHosts, vector

pytestmark = pytest.mark.e2e

TOKEN_PRICE = 0.0000001
DOCUMENTS = ["Paris is the capital of France.", "Bananas are yellow.", "France exports wine."]


@pytest.fixture(scope="module")
def hosts() -> Iterator[FakeNativeHosts]:
    with FakeNativeHosts() as server:
        yield server


@pytest.fixture(scope="module")
def client(hosts: FakeNativeHosts, tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    root = hosts.root

    def entry(name: str, model: str, api_base: str, mode: str | None = None, **params: object) -> dict:
        prices = {"input_cost_per_token": TOKEN_PRICE, "output_cost_per_token": TOKEN_PRICE}
        info = {**prices, **({"mode": mode} if mode else {})}
        params = {"model": model, "api_base": api_base, "api_key": f"{name}-key", **params}
        return {"model_name": name, "litellm_params": params, "model_info": info}

    cloudflare = f"{root}/client/v4/accounts/acc-123/ai/v1"
    model_list = [
        entry("voyage-embed", "voyage/voyage-3.5", f"{root}/voyage/v1"),
        entry("voyage-rerank", "voyage/rerank-2.5", f"{root}/voyage/v1", "rerank"),
        entry("jina-embed", "jina_ai/jina-embeddings-v3", f"{root}/jina/v1"),
        entry("jina-rerank", "jina_ai/jina-reranker-v2-base-multilingual", f"{root}/jina/v1", "rerank"),
        entry("hf-chat", "huggingface/together/meta-llama/Llama-3.3-70B-Instruct", f"{root}/hf/v1"),
        entry("hf-embed", "huggingface/BAAI/bge-small-en-v1.5", f"{root}/hf/v1", "embedding"),
        entry("cf-chat", "cloudflare/@cf/meta/llama-3.1-8b-instruct", cloudflare),
        entry("cf-embed", "cloudflare/@cf/baai/bge-large-en-v1.5", cloudflare, "embedding"),
        entry("sf-chat", "snowflake/llama3.1-70b", f"{root}/sf", api_key="pat/sf-pat"),
        entry("sf-embed", "snowflake/snowflake-arctic-embed-m-v1.5", f"{root}/sf"),
    ]
    with gateway_serving(model_list, Path(tmp_path_factory.mktemp("e2e-native-hosts"))) as client:
        yield client


def _cost(response: httpx.Response | openai.APIResponse) -> Decimal:  # type: ignore[type-arg]
    return Decimal(response.headers["x-switchyard-response-cost"])


def _rerank(client: openai.OpenAI, model: str, **fields: object) -> httpx.Response:
    body = {"model": model, "query": "capital of France", "documents": DOCUMENTS, **fields}
    headers = {"authorization": f"Bearer {client.api_key}"}
    return httpx.post(f"{client.base_url}rerank", json=body, headers=headers, timeout=10)


@pytest.mark.parametrize("name", ["voyage-embed", "jina-embed", "hf-embed", "cf-embed", "sf-embed"])
def test_embeddings_come_back_as_the_openai_client_asks_them(client: openai.OpenAI, name: str) -> None:
    raw = client.embeddings.with_raw_response.create(model=name, input=["hi", "hello"])

    reply = raw.parse()
    assert [list(item.embedding) for item in reply.data] == [vector("hi"), vector("hello")]
    assert raw.headers["x-switchyard-response-cost"]


def test_voyage_is_asked_for_packed_vectors_its_dimension_and_input_type_and_billed_its_tokens(
    client: openai.OpenAI, hosts: FakeNativeHosts
) -> None:
    raw = client.embeddings.with_raw_response.create(
        model="voyage-embed", input="hi", dimensions=4, extra_body={"input_type": "query"}
    )

    sent = hosts.requests[-1]
    assert sent["path"] == "/voyage/v1/embeddings"
    assert sent["headers"]["authorization"] == "Bearer voyage-embed-key"
    assert sent["body"] == {
        "model": "voyage-3.5",
        "input": ["hi"],
        "encoding_format": "base64",
        "output_dimension": 4,
        "input_type": "query",
    }
    assert raw.parse().usage.prompt_tokens == 10
    assert _cost(raw) == Decimal("10") * Decimal(str(TOKEN_PRICE))


@pytest.mark.parametrize(("name", "cut"), [("voyage-rerank", "top_k"), ("jina-rerank", "top_n")])
def test_a_rerank_comes_back_in_cohere_shape_billed_per_token(
    client: openai.OpenAI, hosts: FakeNativeHosts, name: str, cut: str
) -> None:
    response = _rerank(client, name, top_n=2, return_documents=True)

    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["index"] for r in results] == [0, 2]
    assert results[0]["document"] == {"text": DOCUMENTS[0]}
    assert hosts.requests[-1]["body"][cut] == 2
    assert _cost(response) == Decimal("30") * Decimal(str(TOKEN_PRICE))


def test_hugging_face_gets_the_named_provider_as_the_models_suffix(
    client: openai.OpenAI, hosts: FakeNativeHosts
) -> None:
    reply = client.chat.completions.create(model="hf-chat", messages=USER)

    assert reply.choices[0].message.content == "Hello from Hugging Face!"
    sent = hosts.requests[-1]
    assert (sent["path"], sent["body"]["model"]) == (
        "/hf/v1/chat/completions",
        "meta-llama/Llama-3.3-70B-Instruct:together",
    )
    assert sent["headers"]["authorization"] == "Bearer hf-chat-key"


def test_hugging_face_embeddings_go_to_the_hf_inference_pipeline(
    client: openai.OpenAI, hosts: FakeNativeHosts
) -> None:
    client.embeddings.create(model="hf-embed", input="hi")

    sent = hosts.requests[-1]
    assert sent["path"] == "/hf/hf-inference/models/BAAI/bge-small-en-v1.5/pipeline/feature-extraction"
    assert sent["body"] == {"inputs": ["hi"]}


@pytest.mark.parametrize(("name", "host"), [("cf-chat", "Cloudflare"), ("sf-chat", "Snowflake")])
def test_a_stream_spells_the_reply_and_ends_with_its_usage(
    client: openai.OpenAI, name: str, host: str
) -> None:
    chunks = list(
        client.chat.completions.create(
            model=name, messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == f"Hello from {host}!"
    assert chunks[-1].usage.total_tokens == 12


def test_cloudflare_takes_its_token_and_the_catalogs_model_id(
    client: openai.OpenAI, hosts: FakeNativeHosts
) -> None:
    raw = client.chat.completions.with_raw_response.create(model="cf-chat", messages=USER)

    sent = hosts.requests[-1]
    assert sent["path"] == "/client/v4/accounts/acc-123/ai/v1/chat/completions"
    assert sent["headers"]["authorization"] == "Bearer cf-chat-key"
    assert sent["body"]["model"] == "@cf/meta/llama-3.1-8b-instruct"
    assert _cost(raw) == Decimal("12") * Decimal(str(TOKEN_PRICE))


def test_snowflake_gets_its_pat_with_the_tokens_kind_and_embeds_at_cortex_embed(
    client: openai.OpenAI, hosts: FakeNativeHosts
) -> None:
    client.chat.completions.create(model="sf-chat", messages=USER)
    chat = hosts.requests[-1]
    client.embeddings.create(model="sf-embed", input="hi")
    embed = hosts.requests[-1]

    assert chat["path"] == "/sf/api/v2/cortex/v1/chat/completions"
    assert chat["headers"]["authorization"] == "Bearer sf-pat"
    assert chat["headers"]["x-snowflake-authorization-token-type"] == "PROGRAMMATIC_ACCESS_TOKEN"
    assert embed["path"] == "/sf/api/v2/cortex/inference:embed"
    assert embed["body"] == {"model": "snowflake-arctic-embed-m-v1.5", "text": ["hi"]}


def test_a_voyage_deployment_refuses_chat_by_name(client: openai.OpenAI, hosts: FakeNativeHosts) -> None:
    before = len(hosts.requests)

    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="voyage-embed", messages=USER)

    assert (raised.value.code, raised.value.param) == ("unsupported_parameter", "model")
    assert "not chat" in raised.value.message
    assert len(hosts.requests) == before


# The fake itself, as the providers' own SDKs read it.


def test_the_voyage_sdk_reads_the_fakes_embeddings_and_rerank(hosts: FakeNativeHosts) -> None:
    sdk = voyageai.Client(api_key="vk", base_url=f"{hosts.root}/voyage/v1", max_retries=0)

    embedded = sdk.embed(["hi", "hello"], model="voyage-3.5", input_type="document")
    ranked = sdk.rerank("capital of France", DOCUMENTS, model="rerank-2.5", top_k=1)

    assert [list(v) for v in embedded.embeddings] == [vector("hi"), vector("hello")]
    assert embedded.total_tokens == 10
    assert [r.index for r in ranked.results] == [0]
    assert ranked.results[0].document == DOCUMENTS[0]


def test_the_hugging_face_sdk_reads_the_fakes_chat_and_feature_extraction(hosts: FakeNativeHosts) -> None:
    chat = InferenceClient(base_url=f"{hosts.root}/hf/v1", api_key="hf_x").chat_completion(
        messages=USER, model="meta-llama/Llama-3.3-70B-Instruct:together"
    )
    pipeline = f"{hosts.root}/hf/hf-inference/models/BAAI/bge-small-en-v1.5/pipeline/feature-extraction"

    vectors = InferenceClient(model=pipeline, api_key="hf_x").feature_extraction("hi")

    assert chat.choices[0].message.content == "Hello from Hugging Face!"
    assert [float(x) for x in vectors.reshape(-1)] == vector("hi")

"""What the adapters of OpenAI-format hosts with their own URLs and sign-in put on the wire: Hugging Face's
router (the provider as the model's `:suffix`, hf-inference embeddings), Cloudflare Workers AI (the
account in the URL) and Snowflake Cortex (the account's host, the token's kind in a header)."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from adapters.openai_format.text_completions import TEXT_COMPLETION
from domain.completions import NativeRequest
from domain.deployments import Credentials, Secret
from domain.embeddings import EmbeddingRequest
from domain.errors import BadRequestError, UnsupportedParameterError
from tests.contract.harnesses.base import TEXTS, chat_request
from tests.contract.harnesses.chat_hosts import CloudflareHarness, HuggingFaceHarness, SnowflakeHarness
from tests.contract.harnesses.openai import OpenAIHarness
from tests.contract.outgoing import harness_fixture, sent_chat, sent_json

huggingface = harness_fixture(HuggingFaceHarness, "huggingface")
snowflake = harness_fixture(SnowflakeHarness, "snowflake")


async def _embedded(harness: OpenAIHarness, **changes: object) -> httpx.Request:
    """The request the adapter sent for an embedding of TEXTS."""
    script = harness.embeddings(wire="float")
    request = dataclasses.replace(script.request, **changes)  # type: ignore[arg-type]
    await harness.provider.embed(request, harness.deployment)
    return harness.upstream.sent[-1]


# Hugging Face


async def test_a_named_provider_reaches_the_router_as_the_models_suffix() -> None:
    (sent,) = await sent_chat(HuggingFaceHarness())

    assert str(sent.url) == "https://router.huggingface.example/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer hf_test123"
    assert sent_json(sent)["model"] == "meta-llama/Llama-3.3-70B-Instruct:together"


@pytest.mark.parametrize(
    "model", ["meta-llama/Llama-3.3-70B-Instruct", "deepseek-ai/DeepSeek-R1:fastest", "my-model"]
)
async def test_a_model_without_a_provider_or_with_a_suffix_goes_as_it_is(model: str) -> None:
    (sent,) = await sent_chat(HuggingFaceHarness(upstream_model=model))

    assert sent_json(sent)["model"] == model


async def test_a_legacy_completion_goes_to_the_router_as_chat(huggingface: HuggingFaceHarness) -> None:
    native = NativeRequest(TEXT_COMPLETION, {"model": "x", "prompt": "Hello!"})

    await sent_chat(huggingface, chat_request(native=native))

    assert huggingface.upstream.sent[-1].url.path == "/v1/chat/completions"


async def test_embeddings_go_to_the_hf_inference_feature_extraction_pipeline(
    huggingface: HuggingFaceHarness,
) -> None:
    sent = await _embedded(huggingface, extra_body={"normalize": True})

    assert str(sent.url) == (
        "https://router.huggingface.example/hf-inference/models/BAAI/bge-small-en-v1.5/pipeline/"
        "feature-extraction"
    )
    assert sent.headers["authorization"] == "Bearer hf_test123"
    assert sent_json(sent) == {"normalize": True, "inputs": list(TEXTS)}


async def test_an_hf_inference_prefix_is_no_part_of_the_pipelines_model(
    huggingface: HuggingFaceHarness,
) -> None:
    huggingface.embeddings(wire="float")
    deployment = dataclasses.replace(huggingface.deployment, upstream_model="hf-inference/BAAI/bge-m3")

    await huggingface.provider.embed(EmbeddingRequest("e", ("hi",)), deployment)

    assert (
        huggingface.upstream.sent[-1].url.path
        == "/hf-inference/models/BAAI/bge-m3/pipeline/feature-extraction"
    )


@pytest.mark.parametrize(
    ("model", "request_", "param"),
    [
        ("together/BAAI/bge-m3", EmbeddingRequest("e", ("hi",)), "model"),
        ("BAAI/bge-m3", EmbeddingRequest("e", ("hi",), dimensions=8), "dimensions"),
        ("BAAI/bge-m3", EmbeddingRequest("e", ((1, 2),)), "input"),
    ],
)
async def test_what_the_pipeline_cannot_take_is_refused_before_anything_is_sent(
    huggingface: HuggingFaceHarness, model: str, request_: EmbeddingRequest, param: str
) -> None:
    deployment = dataclasses.replace(huggingface.deployment, upstream_model=model)

    with pytest.raises(UnsupportedParameterError) as raised:
        await huggingface.provider.embed(request_, deployment)

    assert raised.value.param == param
    assert huggingface.upstream.sent == []


# Cloudflare


async def test_cloudflare_fills_the_account_into_its_openai_compatible_base() -> None:
    (sent,) = await sent_chat(CloudflareHarness())

    assert str(sent.url) == "https://api.cloudflare.com/client/v4/accounts/acc-123/ai/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer cf-token-123"
    assert sent_json(sent)["model"] == "@cf/meta/llama-3.1-8b-instruct"


async def test_a_configured_cloudflare_base_is_taken_whole() -> None:
    gateway = "https://gateway.ai.cloudflare.com/v1/acc-123/my-gateway/workers-ai/v1"

    (sent,) = await sent_chat(CloudflareHarness(api_base=gateway))

    assert str(sent.url) == gateway + "/chat/completions"


async def test_cloudflare_embeddings_use_the_compatible_embeddings_endpoint() -> None:
    harness = CloudflareHarness()

    sent = await _embedded(harness)
    await harness.close()

    assert sent.url.path == "/client/v4/accounts/acc-123/ai/v1/embeddings"


# Snowflake


async def test_snowflake_chat_goes_to_the_accounts_chat_completions_api_with_a_pat() -> None:
    (sent,) = await sent_chat(SnowflakeHarness())

    assert str(sent.url) == "https://myorg-acct.snowflakecomputing.com/api/v2/cortex/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sf-pat-123"
    assert sent.headers["x-snowflake-authorization-token-type"] == "PROGRAMMATIC_ACCESS_TOKEN"
    assert sent_json(sent)["model"] == "llama3.1-70b"


async def test_a_key_without_the_pat_prefix_is_a_key_pair_jwt() -> None:
    jwt = Credentials(api_key=Secret("eyJhbGciOi.jwt"), extra={"account_id": "myorg-acct"})

    (sent,) = await sent_chat(SnowflakeHarness(credentials=jwt))

    assert sent.headers["authorization"] == "Bearer eyJhbGciOi.jwt"
    assert sent.headers["x-snowflake-authorization-token-type"] == "KEYPAIR_JWT"
    assert sent.url.path == "/api/v2/cortex/v1/chat/completions"


@pytest.mark.parametrize(
    "api_base",
    ["https://other-acct.snowflakecomputing.com", "https://other-acct.snowflakecomputing.com/api/v2/"],
)
async def test_a_configured_snowflake_base_gets_api_v2_once(api_base: str) -> None:
    (sent,) = await sent_chat(SnowflakeHarness(api_base=api_base))

    assert str(sent.url) == "https://other-acct.snowflakecomputing.com/api/v2/cortex/v1/chat/completions"


async def test_snowflake_embeddings_go_to_cortex_embed_with_the_texts(snowflake: SnowflakeHarness) -> None:
    sent = await _embedded(snowflake)

    assert str(sent.url) == "https://myorg-acct.snowflakecomputing.com/api/v2/cortex/inference:embed"
    assert sent.headers["x-snowflake-authorization-token-type"] == "PROGRAMMATIC_ACCESS_TOKEN"
    assert sent_json(sent) == {"model": "llama3.1-70b", "text": list(TEXTS)}


@pytest.mark.parametrize("harness_class", [CloudflareHarness, SnowflakeHarness])
async def test_without_an_account_or_a_base_the_call_is_refused_before_anything_is_sent(
    harness_class: type[OpenAIHarness],
) -> None:
    harness = harness_class(credentials=Credentials(api_key=Secret("token-123")))

    with pytest.raises(BadRequestError, match="account_id"):
        await harness.provider.complete(chat_request(), harness.deployment)
    await harness.close()

    assert harness.upstream.sent == []

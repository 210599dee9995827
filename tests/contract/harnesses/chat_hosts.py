"""Harnesses of the adapters that speak OpenAI's chat completions under a host's own URLs and sign-in
(Hugging Face's router, Cloudflare Workers AI, Snowflake Cortex): the OpenAI harness's upstream and
fixtures, their embeddings each in the host's own format."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from adapters.llm.cloudflare import CloudflareProvider
from adapters.llm.huggingface import HuggingFaceProvider
from adapters.llm.snowflake import SnowflakeProvider
from domain.completions import Usage
from domain.deployments import Credentials, Secret
from domain.embeddings import EmbeddingRequest
from tests.contract.harnesses.base import FIXTURES_ROOT, TEXTS, ScriptedEmbeddings
from tests.contract.harnesses.openai import OpenAIHarness

VECTORS = json.loads((FIXTURES_ROOT / "huggingface" / "feature_extraction.json").read_text())


def _fixed_dimension_embeddings(
    harness: OpenAIHarness, wire: str, fixture: str, usage: Usage
) -> ScriptedEmbeddings:
    """Embeddings from a host whose models each have their own dimension, asked as floats."""
    if wire != "float":
        pytest.skip("the host answers float vectors only")
    harness.answer_json(200, FIXTURES_ROOT / fixture)
    return ScriptedEmbeddings(EmbeddingRequest(model="embed-x", inputs=TEXTS), 8, usage, VECTORS)


class HuggingFaceHarness(OpenAIHarness):
    adapter = HuggingFaceProvider

    def settings(self) -> dict[str, Any]:
        return super().settings() | {
            "id": "huggingface-1",
            "provider": "huggingface",
            "upstream_model": "together/meta-llama/Llama-3.3-70B-Instruct",
            "api_base": "https://router.huggingface.example/v1",
            "credentials": Credentials(api_key=Secret("hf_test123")),
        }

    def embeddings(self, *, wire: str) -> ScriptedEmbeddings:
        # The feature-extraction pipeline is hf-inference's: an embedding model names no other provider.
        self.deployment = dataclasses.replace(self.deployment, upstream_model="BAAI/bge-small-en-v1.5")
        return _fixed_dimension_embeddings(self, wire, "huggingface/feature_extraction.json", Usage())


class CloudflareHarness(OpenAIHarness):
    adapter = CloudflareProvider

    def settings(self) -> dict[str, Any]:
        return super().settings() | {
            "id": "cloudflare-1",
            "provider": "cloudflare",
            "upstream_model": "@cf/meta/llama-3.1-8b-instruct",
            "api_base": None,
            "credentials": Credentials(api_key=Secret("cf-token-123"), extra={"account_id": "acc-123"}),
        }


class SnowflakeHarness(OpenAIHarness):
    adapter = SnowflakeProvider

    def settings(self) -> dict[str, Any]:
        return super().settings() | {
            "id": "snowflake-1",
            "provider": "snowflake",
            "upstream_model": "llama3.1-70b",
            "api_base": None,
            "credentials": Credentials(api_key=Secret("pat/sf-pat-123"), extra={"account_id": "myorg-acct"}),
        }

    def embeddings(self, *, wire: str) -> ScriptedEmbeddings:
        return _fixed_dimension_embeddings(self, wire, "snowflake/embed.json", Usage(12))


HARNESSES = {
    "huggingface": HuggingFaceHarness,
    "cloudflare": CloudflareHarness,
    "snowflake": SnowflakeHarness,
}

"""What OpenAI itself needs beyond the shared OpenAI wire format."""

from __future__ import annotations

import functools
import re
from typing import Any

import httpx

from adapters.openai_format import chat_request_body, embedding_request_body
from domain.completions import CompletionRequest
from domain.deployments import Deployment
from domain.embeddings import EmbeddingRequest

DEFAULT_API_BASE = "https://api.openai.com/v1"
# OpenAI's reasoning models refuse `max_tokens` and take the same limit as `max_completion_tokens`.
_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")


def chat_body(request: CompletionRequest, deployment: Deployment) -> dict[str, Any]:
    body = chat_request_body(request, model=deployment.upstream_model)
    if (
        "max_tokens" in body
        and "max_completion_tokens" not in body
        and _REASONING_MODEL.match(deployment.upstream_model)
    ):
        body["max_completion_tokens"] = body.pop("max_tokens")
    return body


def embedding_body(request: EmbeddingRequest, deployment: Deployment) -> dict[str, Any]:
    return embedding_request_body(request, model=deployment.upstream_model)


def url(deployment: Deployment, path: str) -> httpx.URL:
    return _parsed_url(deployment.api_base or DEFAULT_API_BASE, path)


@functools.lru_cache(maxsize=1024)
def _parsed_url(api_base: str, path: str) -> httpx.URL:
    # Parsing a URL costs httpx more than the rest of building a request: do it once per upstream.
    return httpx.URL(api_base.rstrip("/") + path)


@functools.lru_cache(maxsize=1024)
def timeouts(total: float, connect: float, read: float | None) -> dict[str, float]:
    """httpx's per-request timeout extension."""
    return {"connect": connect, "read": read or total, "write": total, "pool": total}


def headers(deployment: Deployment) -> dict[str, str]:
    out = {"Content-Type": "application/json"}
    credentials = deployment.credentials
    if credentials.api_key is not None and credentials.api_key.value:
        out["Authorization"] = f"Bearer {credentials.api_key.value}"
    organization = credentials.extra.get("organization")
    if organization:
        out["OpenAI-Organization"] = str(organization)
    return out

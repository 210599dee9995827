"""What OpenAI itself needs beyond the shared OpenAI wire format."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import httpx

from adapters.llm.hosts import HOSTS
from adapters.llm.http_calls import joined_url
from adapters.openai_format import chat_request_body, embedding_request_body
from domain.completions import CompletionRequest, SamplingParams
from domain.deployments import Deployment
from domain.embeddings import EmbeddingRequest
from domain.messages import ResponseFormatType

DEFAULT_API_BASE = "https://api.openai.com/v1"
# OpenAI's reasoning models refuse `max_tokens` and take the same limit as `max_completion_tokens`.
_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")
_SAMPLING_FIELDS = frozenset(field.name for field in dataclasses.fields(SamplingParams))


def chat_body(request: CompletionRequest, deployment: Deployment) -> dict[str, Any]:
    body = chat_request_body(request, model=deployment.upstream_model)
    if (
        "max_tokens" in body
        and "max_completion_tokens" not in body
        and _REASONING_MODEL.match(deployment.upstream_model)
    ):
        body["max_completion_tokens"] = body.pop("max_tokens")
    host = HOSTS.get(deployment.provider)
    if host is not None and host.renamed:
        for ours, theirs in host.renamed.items():
            if ours in body:
                body[theirs] = body.pop(ours)
    return body


def unsupported(request: CompletionRequest, deployment: Deployment) -> list[str]:
    """The parameters of `request` the deployment's host refuses, by the hosts table."""
    host = HOSTS.get(deployment.provider)
    if host is None:
        return []
    refused = [name for name in sorted(host.unsupported) if _is_set(request, name)]
    params = request.params
    if host.max_choices is not None and params.n is not None and params.n > host.max_choices:
        refused.append("n")
    format_ = request.response_format
    if not host.json_schema and format_ is not None and format_.type is ResponseFormatType.JSON_SCHEMA:
        refused.append("response_format")
    return refused


def _is_set(request: CompletionRequest, name: str) -> bool:
    if name in _SAMPLING_FIELDS:
        return getattr(request.params, name) is not None
    if name == "tools":
        return bool(request.tools)
    if name == "tool_choice":
        return request.tool_choice is not None
    if name == "response_format":
        return request.response_format is not None
    return name in request.extra_body


def embedding_body(request: EmbeddingRequest, deployment: Deployment) -> dict[str, Any]:
    return embedding_request_body(request, model=deployment.upstream_model)


def url(deployment: Deployment, path: str) -> httpx.URL:
    return joined_url(deployment.api_base or DEFAULT_API_BASE, path)


def headers(deployment: Deployment) -> dict[str, str]:
    out = {"Content-Type": "application/json"}
    credentials = deployment.credentials
    if credentials.api_key is not None and credentials.api_key.value:
        out["Authorization"] = f"Bearer {credentials.api_key.value}"
    organization = credentials.extra.get("organization")
    if organization:
        out["OpenAI-Organization"] = str(organization)
    host = HOSTS.get(deployment.provider)
    if host is not None and host.headers_from:
        for credential, header in host.headers_from.items():
            value = credentials.extra.get(credential)
            if value:
                out[header] = str(value)
    return out

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
from domain.messages import DocumentPart, ResponseFormatType

DEFAULT_API_BASE = "https://api.openai.com/v1"
# OpenAI's reasoning models refuse `max_tokens` and take the same limit as `max_completion_tokens`.
_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")
_SAMPLING_FIELDS = frozenset(field.name for field in dataclasses.fields(SamplingParams))
# `top_k` is no OpenAI parameter: OpenAI and Azure refuse it, as do the hosts that follow OpenAI's list
# (groq, mistral, deepseek, xai, cerebras, ...). These hosts document it as a sampling parameter of
# their chat completions (vLLM's extra sampling parameters, Together's, Fireworks', OpenRouter's and
# DeepInfra's request references, llama.cpp's server behind llamafile, LM Studio's OpenAI endpoint).
# A server reached as `openai/` with an api_base gets top_k only through extra_body.
TOP_K_HOSTS = frozenset(
    {"hosted_vllm", "together_ai", "fireworks_ai", "openrouter", "deepinfra", "llamafile", "lm_studio"}
)


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
    """The parameters of `request` the deployment's host refuses, by the hosts table; and, for every
    host, what OpenAI's format cannot carry: a document by URL ("documents"), top_k where the host does
    not sample by it, a thinking budget for a model that does not reason (it goes as reasoning_effort)."""
    params = request.params
    refused: list[str] = []
    host = HOSTS.get(deployment.provider)
    if host is not None:
        refused.extend(name for name in sorted(host.unsupported) if _is_set(request, name))
        if host.max_choices is not None and params.n is not None and params.n > host.max_choices:
            refused.append("n")
        format_ = request.response_format
        if not host.json_schema and format_ is not None and format_.type is ResponseFormatType.JSON_SCHEMA:
            refused.append("response_format")
    if params.top_k is not None and deployment.provider not in TOP_K_HOSTS:
        refused.append("top_k")
    if params.thinking_budget is not None and not reasons(deployment):
        refused.append("thinking_budget")
    if any(not part.url.startswith("data:") for part in _documents(request)):
        refused.append("documents")
    return refused


def reasons(deployment: Deployment) -> bool:
    """Whether the deployment's model takes reasoning_effort: OpenAI's reasoning models by name, any
    other when the config declares it (`supports_reasoning`)."""
    return deployment.capabilities.reasoning or _REASONING_MODEL.match(deployment.upstream_model) is not None


def _documents(request: CompletionRequest) -> list[DocumentPart]:
    return [
        part
        for message in request.messages
        if not isinstance(message.content, str | None)
        for part in message.content
        if isinstance(part, DocumentPart)
    ]


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

"""What OpenAI itself needs beyond the shared OpenAI wire format."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

import httpx

from adapters.llm.hosts import HOSTS
from adapters.llm.http_calls import joined_url
from adapters.openai_format import chat_request_body, embedding_request_body
from domain.completions import CompletionRequest, NativeRequest, SamplingParams
from domain.deployments import Deployment
from domain.embeddings import EmbeddingRequest
from domain.messages import DocumentPart, ResponseFormatType

DEFAULT_API_BASE = "https://api.openai.com/v1"
RESPONSES = "responses"
"""The client wire format of the Responses API, as `NativeRequest.format` names it."""
_RESPONSES_PATHS = frozenset({"/v1/responses", "/responses"})
_RESPONSES_BY_DEFAULT = frozenset({"openai", "azure"})
"""Providers whose upstream serves the Responses API unless `supported_endpoints` says otherwise; any
other OpenAI-compatible host is sent chat completions unless its `supported_endpoints` lists it."""
_RESPONSES_PRESETS = ("temperature", "top_p", "service_tier", "parallel_tool_calls")
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
    not sample by it, a thinking budget for a model that does not reason (it goes as reasoning_effort).
    A request native to the Responses API that the deployment serves as such has none: it goes as sent,
    and the upstream itself judges it."""
    if native_responses(request, deployment) is not None:
        return []
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


def serves_responses(deployment: Deployment) -> bool:
    """Whether the deployment's upstream serves the Responses API itself: its `supported_endpoints`
    lists `/v1/responses` (or `/responses`), or, when the config does not say, it is OpenAI's or Azure
    OpenAI's own (a vLLM reached as `openai/` that lists only chat completions is not)."""
    endpoints = deployment.supported_endpoints
    if endpoints is None:
        return deployment.provider in _RESPONSES_BY_DEFAULT
    return any("/" + path.strip("/") in _RESPONSES_PATHS for path in endpoints)


def native_responses(request: CompletionRequest, deployment: Deployment) -> NativeRequest | None:
    """The request as its Responses API client sent it, when the deployment serves that API itself."""
    native = request.native
    if native is None or native.format != RESPONSES or not serves_responses(deployment):
        return None
    return native


def responses_body(native: NativeRequest, deployment: Deployment, *, stream: bool) -> dict[str, Any]:
    """The client's Responses API body with `model` (the deployment's upstream model) and `stream` set
    for this call: true for a stream; for a whole reply false if the client sent it at all, else left
    out. The deployment's configured defaults fill in only what the client left out, by their Responses
    API names: temperature, top_p, service_tier, parallel_tool_calls, max_tokens (or
    max_completion_tokens) as max_output_tokens, reasoning_effort as reasoning.effort, and the keys of a
    preset `extra_body`."""
    body = dict(native.body)
    body["model"] = deployment.upstream_model
    if stream:
        body["stream"] = True
    elif "stream" in body:
        body["stream"] = False
    if deployment.extra_params:
        _fill_responses_defaults(body, deployment.extra_params)
    return body


def _fill_responses_defaults(body: dict[str, Any], presets: Mapping[str, Any]) -> None:
    for name in _RESPONSES_PRESETS:
        if name in presets and name not in body:
            body[name] = presets[name]
    limit = presets.get("max_completion_tokens") or presets.get("max_tokens")
    if limit and "max_output_tokens" not in body:
        body["max_output_tokens"] = limit
    effort = presets.get("reasoning_effort")
    reasoning = body.get("reasoning")
    if effort is not None and (reasoning is None or isinstance(reasoning, dict)):
        body["reasoning"] = {"effort": str(effort), **(reasoning or {})}
    preset_body = presets.get("extra_body")
    if isinstance(preset_body, Mapping):
        for name, value in preset_body.items():
            body.setdefault(name, value)


def extra_headers(deployment: Deployment) -> dict[str, str]:
    """The deployment's preset `extra_headers`, as text."""
    preset = deployment.extra_params.get("extra_headers")
    if not isinstance(preset, Mapping):
        return {}
    return {str(name): str(value) for name, value in preset.items()}


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

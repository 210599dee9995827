"""Claude on Vertex AI (`vertex_ai/claude-...`): Anthropic's Messages API in Vertex's envelope.

As the `anthropic` SDK's AnthropicVertex sends it (src/anthropic/lib/vertex/_client.py; Google's
https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/claude/use-claude):
POST `{endpoint}/v1/projects/{project}/locations/{location}/publishers/anthropic/models/{model}:rawPredict`
(`:streamRawPredict` for a stream), the body without `model` and with `anthropic_version:
"vertex-2023-10-16"` (or the deployment's `anthropic_version`), betas in the `anthropic-beta` header,
an OAuth bearer token; token counts at `.../models/count-tokens:rawPredict` with `model` kept. Replies
and SSE streams are Anthropic's own. (The SDK's newest releases send their own API version as
`anthropic_version`; the value Google documents is the default here.)
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import httpx

from adapters.llm.anthropic import mapping
from adapters.llm.anthropic.client import AnthropicProvider
from adapters.llm.anthropic.envelopes import Envelope, Outbound, api_version
from adapters.llm.anthropic.errors import upstream_error
from adapters.llm.gemini.errors import google_error
from adapters.llm.gemini.vertex_access import VertexAccess, VertexTarget
from adapters.llm.json_io import decode_or_none, encode
from domain.completions import CompletionRequest
from domain.deployments import Deployment
from domain.errors import SwitchyardError

VERSION = "vertex-2023-10-16"
_NOT_SENT = frozenset({"x-api-key", "anthropic-version"})
"""Anthropic's own credentials and version header: Vertex takes a bearer token and the version in the body."""


class VertexClaude(Envelope):
    host: ClassVar[str] = "Vertex AI"

    def __init__(self, client: httpx.AsyncClient) -> None:
        super().__init__(client)
        self._access = VertexAccess(client)

    async def outbound(
        self, deployment: Deployment, request: CompletionRequest, body: dict[str, Any], *, stream: bool
    ) -> Outbound:
        target = await self._access.target(deployment)
        body = dict(body)
        model = str(body.pop("model"))
        body.setdefault("anthropic_version", api_version(deployment, VERSION))
        method = "streamRawPredict" if stream else "rawPredict"
        url = _model_url(target.located(deployment.api_base), model, method)
        return Outbound(url, _headers(target, deployment, request), encode(body))

    async def count_tokens(
        self, deployment: Deployment, request: CompletionRequest, body: dict[str, Any]
    ) -> Outbound:
        target = await self._access.target(deployment)
        body = {
            **body,
            "anthropic_version": body.get("anthropic_version") or api_version(deployment, VERSION),
        }
        url = _model_url(target.located(deployment.api_base), "count-tokens", "rawPredict")
        return Outbound(url, _headers(target, deployment, request), encode(body))

    def failed(self, deployment: Deployment, status: int, content: bytes, headers: Any) -> SwitchyardError:
        # Claude's own refusals come in Anthropic's shape; Google's front door (auth, quota, a model not
        # enabled in the project) answers in Google's.
        self._access.refused(deployment, status)
        payload = decode_or_none(content)
        if isinstance(payload, dict) and payload.get("type") == "error":
            return upstream_error(status, payload, headers)
        return google_error(status, content, headers)


class VertexAnthropicProvider(AnthropicProvider):
    """Claude models on Vertex AI, with the deployment's vertex_project, vertex_location and
    vertex_credentials (or the environment's, as for Vertex's Gemini models)."""

    name: ClassVar[str] = "vertex_ai"
    envelope: ClassVar[type[Envelope]] = VertexClaude


def _headers(target: VertexTarget, deployment: Deployment, request: CompletionRequest) -> dict[str, str]:
    headers = mapping.headers(deployment, request)
    sent = {name: value for name, value in headers.items() if name not in _NOT_SENT}
    sent["authorization"] = f"Bearer {target.token}"
    return sent


@functools.lru_cache(maxsize=1024)
def _model_url(located: str, model: str, method: str) -> httpx.URL:
    return httpx.URL(f"{located}/publishers/anthropic/models/{model}:{method}")

"""How a Messages API call reaches the host that serves the model: one body and one reading of the reply
(mapping.py, native.py, replies.py), several envelopes around them.

An envelope decides the URL, the credentials, what changes in the body on the way (Vertex AI and Bedrock
take the model in the URL and the API version in the body) and how the reply's bytes become Anthropic's
SSE stream. Anthropic's own API is the plain one; vertex.py and ../bedrock/invoke.py hold the others.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from adapters.llm import http_calls
from adapters.llm.anthropic import mapping
from adapters.llm.anthropic.errors import upstream_error
from adapters.llm.json_io import decode, encode
from domain.completions import CompletionRequest
from domain.deployments import Deployment
from domain.errors import BadGatewayError, SwitchyardError


@dataclass(frozen=True, slots=True)
class Outbound:
    url: httpx.URL
    headers: dict[str, str]
    content: bytes


class Envelope(ABC):
    """The transport of Messages API calls to one kind of host, on the composition root's client."""

    host: ClassVar[str]
    """The host's name in error messages."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    @abstractmethod
    async def outbound(
        self, deployment: Deployment, request: CompletionRequest, body: dict[str, Any], *, stream: bool
    ) -> Outbound:
        """The call that sends `body` (a Messages API body, `model` and `stream` set) for `deployment`."""

    @abstractmethod
    async def count_tokens(
        self, deployment: Deployment, request: CompletionRequest, body: dict[str, Any]
    ) -> Outbound:
        """The call that counts the tokens of `body` (a count_tokens body, `model` set)."""

    def failed(self, deployment: Deployment, status: int, content: bytes, headers: Any) -> SwitchyardError:
        """The domain error of a failure status."""
        return upstream_error(status, content, headers)

    async def post(self, deployment: Deployment, outbound: Outbound) -> httpx.Response:
        """The whole answer; a failure status raised as its domain error."""
        return await http_calls.post(
            self._client, outbound.url, outbound.content, outbound.headers,
            limits=deployment.limits, failed=lambda *failure: self.failed(deployment, *failure),
        )  # fmt: skip

    async def open_stream(self, deployment: Deployment, outbound: Outbound) -> httpx.Response:
        """The answer once its head came, the body left to stream; a failure status, or a JSON object
        where a stream was asked for, raised as its domain error."""
        return await http_calls.open_stream(
            self._client, outbound.url, outbound.content, outbound.headers,
            limits=deployment.limits, failed=lambda *failure: self.failed(deployment, *failure),
            not_streamed=self._not_streamed,
        )  # fmt: skip

    def events(self, response: httpx.Response) -> AsyncIterator[bytes]:
        """The stream's bytes as Anthropic's SSE, a piece per network read; the host's own as they are."""
        return response.aiter_bytes()

    def _not_streamed(self, body: bytes) -> SwitchyardError:
        # A stream request answered with one JSON object: an error, or a proxy's refusal.
        payload = decode(body, self.host)
        if isinstance(payload, dict) and payload.get("type") == "error":
            return upstream_error(None, payload)
        return BadGatewayError(f"{self.host} answered a stream request without a stream.")


def api_version(deployment: Deployment, documented: str) -> str:
    """The `anthropic_version` a host takes in the body: the deployment's `anthropic_version`, else the
    one the host documents."""
    return str(deployment.credentials.extra.get("anthropic_version") or documented)


class AnthropicApi(Envelope):
    """Anthropic's API: `{api_base}/v1/messages` with `x-api-key` and `anthropic-version`."""

    host: ClassVar[str] = "Anthropic"

    async def outbound(
        self, deployment: Deployment, request: CompletionRequest, body: dict[str, Any], *, stream: bool
    ) -> Outbound:
        return Outbound(mapping.url(deployment), mapping.headers(deployment, request), encode(body))

    async def count_tokens(
        self, deployment: Deployment, request: CompletionRequest, body: dict[str, Any]
    ) -> Outbound:
        headers = mapping.headers(deployment, request)
        return Outbound(mapping.count_tokens_url(deployment), headers, encode(body))

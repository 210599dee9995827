"""What the adapters of upstreams that embed and rerank but never chat share (Voyage AI, Jina AI): a
JSON POST with the key as a bearer token, failures read by the OpenAI table (their errors are FastAPI's
`{"detail": ...}` or OpenAI-shaped), and the OpenAI-like embeddings list they answer with."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from adapters.llm import http_calls
from adapters.llm.json_io import decode, encode
from adapters.llm.no_chat import NoChatProvider
from adapters.llm.openai.errors import upstream_error
from adapters.llm.openai.mapping import headers
from adapters.openai_format import read_embeddings
from domain.completions import Usage
from domain.deployments import Deployment
from domain.embeddings import EmbeddingRequest, EmbeddingResponse
from domain.errors import UnsupportedParameterError


class RetrievalProvider(NoChatProvider):
    """An upstream of embeddings and rerank at `deployment.api_base` (else `default_api_base`)."""

    supports_embeddings: ClassVar[bool] = True
    supports_rerank: ClassVar[bool] = True
    no_chat: ClassVar[str] = "provider {name} serves embeddings and rerank, not chat"
    default_api_base: ClassVar[str]

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def _post(self, deployment: Deployment, path: str, body: dict[str, Any]) -> object:
        response = await http_calls.post(
            self._client,
            http_calls.joined_url(deployment.api_base or self.default_api_base, path),
            encode(body),
            headers(deployment),
            limits=deployment.limits,
            failed=upstream_error,
        )
        return decode(response.content)


def texts_of(request: EmbeddingRequest, provider: str, *, sized: bool = True) -> list[str]:
    """The inputs, which must be texts: these upstreams (and Hugging Face's, Snowflake's) take no token
    arrays; nor, unless `sized`, a chosen dimension."""
    if not isinstance(request.inputs[0], str):
        raise UnsupportedParameterError(f"{provider} embeds texts, not token arrays", param="input")
    if not sized and request.dimensions is not None:
        raise UnsupportedParameterError(
            f"{provider} embeds in each model's own dimension", param="dimensions"
        )
    return list(request.inputs)  # type: ignore[arg-type]


def read_counted_embeddings(body: object, model: str) -> EmbeddingResponse:
    """An OpenAI-like embeddings list (BadGatewayError when it is not one) whose usage may count only
    `total_tokens`, as Voyage's does: the prompt's tokens, all an embedding bills."""
    reply = read_embeddings(body)
    usage = reply.usage
    if not usage.prompt_tokens:
        counted = body.get("usage") if isinstance(body, dict) else None
        total = counted.get("total_tokens") if isinstance(counted, dict) else None
        usage = Usage(prompt_tokens=total) if isinstance(total, int) and total > 0 else usage
    return EmbeddingResponse(model=reply.model or model, data=reply.data, usage=usage)

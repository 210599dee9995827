"""The watsonx.ai provider: text chat (whole and streamed) and embeddings over one pooled httpx client.

Who it calls as, as LiteLLM's: `token` (WATSONX_TOKEN) as a bearer token; else `zen_api_key`
(WATSONX_ZENAPIKEY, watsonx.ai software) as `ZenApiKey`; else the IBM Cloud API key (`api_key`,
WATSONX_APIKEY) exchanged at IBM Cloud IAM (`iam_url`, WATSONX_IAM_URL) for a bearer token
(cloud.ibm.com/docs/account?topic=account-iamtoken_from_apikey), kept until shortly before it expires.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, ClassVar

import httpx

from adapters.llm import http_calls
from adapters.llm.json_io import decode, encode
from adapters.llm.oauth_tokens import TokenCache, exchange_form
from adapters.llm.watsonx import mapping
from adapters.llm.watsonx.errors import upstream_error
from domain.completions import CompletionChunk, CompletionRequest, CompletionResponse
from domain.deployments import Deployment
from domain.embeddings import EmbeddingRequest, EmbeddingResponse
from domain.errors import AuthenticationError, BadGatewayError, SwitchyardError
from ports.llm_provider import ChunkStream, LLMProvider


class WatsonxProvider(LLMProvider):
    """Speaks watsonx.ai's API to `deployment.api_base`, the region's URL
    (https://us-south.ml.cloud.ibm.com, ...)."""

    name: ClassVar[str] = "watsonx"
    supports_embeddings: ClassVar[bool] = True

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        self._tokens = TokenCache()

    def unsupported_params(self, request: CompletionRequest, deployment: Deployment) -> Collection[str]:
        return mapping.unsupported(request)

    async def complete(self, request: CompletionRequest, deployment: Deployment) -> CompletionResponse:
        payload = await self._post(deployment, mapping.CHAT, mapping.chat_body(request, deployment))
        return mapping.read_reply(payload, deployment)

    async def embed(self, request: EmbeddingRequest, deployment: Deployment) -> EmbeddingResponse:
        payload = await self._post(deployment, mapping.EMBEDDINGS, mapping.embed_body(request, deployment))
        return mapping.read_embeddings(payload, model=deployment.upstream_model)

    async def stream(self, request: CompletionRequest, deployment: Deployment) -> ChunkStream:
        response = await http_calls.open_stream(
            self._client,
            mapping.url(deployment, mapping.CHAT_STREAM),
            encode(mapping.chat_body(request, deployment)),
            await self._headers(deployment, accept="text/event-stream"),
            limits=deployment.limits,
            failed=upstream_error,
            not_streamed=_not_streamed,
        )
        return WatsonxChunkStream(response, mapping.StreamReader(deployment.upstream_model))

    async def _post(self, deployment: Deployment, operation: str, body: dict[str, Any]) -> object:
        response = await http_calls.post(
            self._client,
            mapping.url(deployment, operation),
            encode(body),
            await self._headers(deployment, accept="application/json"),
            limits=deployment.limits,
            failed=upstream_error,
        )
        return decode(response.content)

    async def _headers(self, deployment: Deployment, *, accept: str) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "Accept": accept,
            "Authorization": await self._authorization(deployment),
        }

    async def _authorization(self, deployment: Deployment) -> str:
        extra = deployment.credentials.extra
        if extra.get("token"):
            return f"Bearer {extra['token']}"
        if extra.get("zen_api_key"):
            return f"ZenApiKey {extra['zen_api_key']}"
        key = deployment.credentials.api_key
        if key is None or not key.value:
            raise AuthenticationError(
                "no watsonx credentials: set api_key (WATSONX_APIKEY), token (WATSONX_TOKEN) or "
                "zen_api_key (WATSONX_ZENAPIKEY)"
            )
        iam_url, apikey = str(extra.get("iam_url") or mapping.DEFAULT_IAM_URL), key.value

        async def exchange() -> tuple[str, float]:
            form = {"grant_type": mapping.APIKEY_GRANT, "apikey": apikey}
            return await exchange_form(
                self._client, iam_url, form, issuer="IBM Cloud IAM", timeout=deployment.limits.timeout
            )

        return f"Bearer {await self._tokens.token((iam_url, apikey), exchange)}"


class WatsonxChunkStream(http_calls.SseChunkStream):
    """Chunks read from watsonx.ai's SSE events as they arrive, a batch per network read; the usage
    comes on a last chunk of its own, once the stream closes or ends."""

    def __init__(self, response: httpx.Response, reader: mapping.StreamReader) -> None:
        super().__init__(response)
        self._reader = reader

    def _read_events(self, events: Sequence[tuple[str, bytes]], batch: list[CompletionChunk]) -> bool:
        for event, data in events:
            if event == "error":
                raise upstream_error(None, decode(data, "watsonx.ai"))
            if data != b"[DONE]" and (chunk := self._reader.read(decode(data, "watsonx.ai"))) is not None:
                batch.append(chunk)
            if event == "close" or data == b"[DONE]":
                if (last := self._reader.last()) is not None:
                    batch.append(last)
                return True
        return False

    def _last(self) -> CompletionChunk | None:
        return self._reader.last()


def _not_streamed(body: bytes) -> SwitchyardError:
    payload = decode(body, "watsonx.ai")
    if isinstance(payload, dict) and payload.get("errors"):
        return upstream_error(None, payload)
    return BadGatewayError("watsonx.ai answered a stream request without a stream.")

"""SageMaker Runtime's InvokeEndpoint and InvokeEndpointWithResponseStream, signed with SigV4 (service
`sagemaker`) with the credentials Bedrock's adapter resolves, as LiteLLM calls them:

    POST {base}/endpoints/{name}/invocations                  one JSON reply
    POST {base}/endpoints/{name}/invocations-response-stream  an AWS event stream of `PayloadPart` events
                                                              whose bytes are the container's own stream
                                                              (SSE), cut anywhere
(docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpointWithResponseStream.html).
`base` is `https://runtime.sagemaker.{region}.amazonaws.com`, or the deployment's api_base; LiteLLM's
`sagemaker_base_url` is taken as the whole URL. `model_id` names an inference component
(X-Amzn-SageMaker-Inference-Component).

`sagemaker/<endpoint>` sends Hugging Face TGI's generate format (tgi.py); `sagemaker_chat/<endpoint>`
OpenAI's chat completions body, for containers with the Messages API (TGI, vLLM, LMI).
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from adapters.llm import http_calls
from adapters.llm.bedrock.access import BedrockAccess
from adapters.llm.bedrock.client import expect_event_stream
from adapters.llm.bedrock.eventstream import EventStreamDecoder, EventStreamError
from adapters.llm.bedrock.signing import signed_headers
from adapters.llm.json_io import decode, encode
from adapters.llm.openai import mapping as openai_mapping
from adapters.llm.openai.errors import upstream_error as openai_error
from adapters.llm.sagemaker import tgi
from adapters.llm.sagemaker.errors import stream_exception, upstream_error
from adapters.openai_format import read_chunk, read_response
from domain.completions import CompletionChunk, CompletionRequest, CompletionResponse
from domain.deployments import Deployment
from domain.errors import AuthenticationError, BadGatewayError
from ports.llm_provider import ChunkStream, LLMProvider

SERVICE = "sagemaker"
INVOKE, INVOKE_STREAM = "invocations", "invocations-response-stream"


class SageMakerAccess(BedrockAccess):
    """Bedrock's resolution of AWS credentials (static keys, role, profile, default chain), each
    deployment's kept; the calls signed for SageMaker Runtime."""

    async def signed(
        self, deployment: Deployment, operation: str, content: bytes
    ) -> tuple[httpx.URL, dict[str, str]]:
        access = await self._access_of(deployment)
        if access.source is None:
            raise AuthenticationError(
                "SageMaker takes AWS credentials, not a bearer token: set aws_access_key_id and "
                "aws_secret_access_key, aws_role_name or aws_profile_name, or rely on the default chain"
            )
        extra = deployment.credentials.extra
        url = _url(
            str(extra.get("sagemaker_base_url") or ""), deployment.api_base or "", access.region,
            deployment.upstream_model, operation,
        )  # fmt: skip
        headers = signed_headers(
            await access.source.current(), host=url.netloc.decode("ascii"),
            raw_path=url.raw_path.decode("ascii"), body=content, region=access.region, service=SERVICE,
        )  # fmt: skip
        if component := extra.get("model_id"):
            headers["x-amzn-sagemaker-inference-component"] = str(component)
        return url, headers


class SageMakerProvider(LLMProvider):
    """A SageMaker endpoint serving Hugging Face TGI's generate format: prompt in, text out."""

    name: ClassVar[str] = "sagemaker"
    supports_tools: ClassVar[bool] = False
    supports_vision: ClassVar[bool] = False
    supports_response_schema: ClassVar[bool] = False
    supports_reasoning: ClassVar[bool] = False

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        # No bearer token from the environment: AWS_BEARER_TOKEN_BEDROCK is Bedrock's alone.
        self._access = SageMakerAccess(environ={})

    def unsupported_params(self, request: CompletionRequest, deployment: Deployment) -> Collection[str]:
        return tgi.unsupported(request)

    async def complete(self, request: CompletionRequest, deployment: Deployment) -> CompletionResponse:
        response = await self._invoke(deployment, tgi.generate_body(request, deployment, stream=False))
        return tgi.read_reply(
            decode(response.content, "SageMaker"), response_id=_response_id(response),
            model=deployment.upstream_model, created=int(time.time()),
        )  # fmt: skip

    async def stream(self, request: CompletionRequest, deployment: Deployment) -> ChunkStream:
        response = await self._open(deployment, tgi.generate_body(request, deployment, stream=True))
        reader = tgi.StreamReader(
            response_id=_response_id(response), model=deployment.upstream_model, created=int(time.time())
        )
        return SageMakerChunkStream(response, reader.read)

    async def _invoke(self, deployment: Deployment, body: dict[str, Any]) -> httpx.Response:
        content = encode(body)
        url, headers = await self._access.signed(deployment, INVOKE, content)
        return await http_calls.post(
            self._client, url, content, headers, limits=deployment.limits, failed=upstream_error
        )

    async def _open(self, deployment: Deployment, body: dict[str, Any]) -> httpx.Response:
        """The streamed answer, once its status line and headers came; it must be an event stream."""
        content = encode(body)
        url, headers = await self._access.signed(deployment, INVOKE_STREAM, content)
        response = await http_calls.open_stream(
            self._client, url, content, headers, limits=deployment.limits, failed=upstream_error, timed=True
        )
        await expect_event_stream(response, "SageMaker")
        return response


class SageMakerChatProvider(SageMakerProvider):
    """A SageMaker endpoint whose container serves OpenAI's chat completions (the Messages API)."""

    name: ClassVar[str] = "sagemaker_chat"
    supports_tools: ClassVar[bool] = True
    supports_vision: ClassVar[bool] = True
    supports_response_schema: ClassVar[bool] = True
    supports_reasoning: ClassVar[bool] = True

    def unsupported_params(self, request: CompletionRequest, deployment: Deployment) -> Collection[str]:
        return openai_mapping.unsupported(request, deployment)

    async def complete(self, request: CompletionRequest, deployment: Deployment) -> CompletionResponse:
        response = await self._invoke(deployment, _chat_body(request, deployment, stream=False))
        payload = decode(response.content, "SageMaker")
        if isinstance(payload, dict) and payload.get("error"):
            raise openai_error(None, payload)
        return read_response(payload)

    async def stream(self, request: CompletionRequest, deployment: Deployment) -> ChunkStream:
        response = await self._open(deployment, _chat_body(request, deployment, stream=True))
        return SageMakerChunkStream(response, read_chunk)


class SageMakerChunkStream(http_calls.SseChunkStream):
    """Chunks read from the SSE events inside the event stream's payload parts, a batch per part; an
    error object among them (`{"error": ...}`, as TGI and the OpenAI format send one) is raised."""

    def __init__(self, response: httpx.Response, read: Callable[[object], CompletionChunk | None]) -> None:
        super().__init__(response)
        self._read = read

    def _body(self) -> AsyncIterator[bytes]:
        return _payload_parts(self._response)

    def _read_events(self, events: Sequence[tuple[str, bytes]], batch: list[CompletionChunk]) -> bool:
        for _, data in events:
            if data == b"[DONE]":
                return True
            payload = decode(data, "SageMaker")
            if isinstance(payload, dict) and payload.get("error"):
                raise openai_error(None, payload)
            chunk = self._read(payload)
            if chunk is not None and (chunk.choices or chunk.usage is not None):
                batch.append(chunk)
        return False


async def _payload_parts(response: httpx.Response) -> AsyncIterator[bytes]:
    """The bytes of each PayloadPart event as it arrives; an exception event raised as its error."""
    decoder = EventStreamDecoder()
    try:
        async for piece in response.aiter_bytes():
            for message in decoder.feed(piece):
                headers = message.headers
                if headers.get(":message-type", "event") != "event":
                    raise stream_exception(headers, message.payload)
                if headers.get(":event-type") == "PayloadPart" and message.payload:
                    yield message.payload
        decoder.finish()
    except EventStreamError as exc:
        raise BadGatewayError(f"SageMaker sent a malformed event stream: {exc}") from exc


def _chat_body(request: CompletionRequest, deployment: Deployment, *, stream: bool) -> dict[str, Any]:
    """OpenAI's chat body; `stream` set by the operation called, whatever the request's flag says."""
    body = openai_mapping.chat_body(request, deployment)
    if stream:
        body["stream"], body["stream_options"] = True, {"include_usage": True}
    else:
        body.pop("stream", None)
        body.pop("stream_options", None)
    return body


@functools.lru_cache(maxsize=1024)
def _url(whole: str, api_base: str, region: str, endpoint: str, operation: str) -> httpx.URL:
    if whole:
        return httpx.URL(whole)
    base = (api_base or f"https://runtime.sagemaker.{region}.amazonaws.com").rstrip("/")
    return httpx.URL(f"{base}/endpoints/{quote(endpoint, safe='')}/{operation}")


def _response_id(response: httpx.Response) -> str:
    request_id = response.headers.get("x-amzn-requestid")
    return f"chatcmpl-{request_id or uuid.uuid4().hex}"

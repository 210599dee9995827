"""Claude on Bedrock through InvokeModel (`bedrock/invoke/anthropic.claude-...`): Anthropic's Messages
API in Bedrock's envelope.

As the `anthropic` SDK's AnthropicBedrock sends it (src/anthropic/lib/bedrock/_client.py) and AWS
documents it (https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages.html,
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModelWithResponseStream.html):
POST `{runtime}/model/{modelId}/invoke` (`/invoke-with-response-stream` for a stream), the model id
URL-escaped but for `:` (an inference profile ARN's `/` as %2F), the body without `model` and `stream`,
with `anthropic_version: "bedrock-2023-05-31"` (or the deployment's `anthropic_version`) and the betas
as `anthropic_beta: [...]`, signed with SigV4. The reply is Anthropic's message; the stream is an AWS
event stream whose `chunk` events carry `{"bytes": base64(<an Anthropic stream event's JSON>)}`,
re-emitted here as that event's SSE (`event: {type}\\ndata: {json}\\n\\n`, the JSON byte for byte),
and whose exception messages are raised as their domain errors.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import httpx
import orjson

from adapters.llm.anthropic import mapping
from adapters.llm.anthropic.client import AnthropicProvider
from adapters.llm.anthropic.envelopes import Envelope, Outbound, api_version
from adapters.llm.bedrock.access import BedrockAccess
from adapters.llm.bedrock.client import EVENT_STREAM, decoded_messages, expect_event_stream
from adapters.llm.bedrock.errors import stream_exception, upstream_error
from adapters.llm.bedrock.eventstream import EventStreamDecoder
from adapters.llm.json_io import encode
from domain.completions import CompletionRequest
from domain.deployments import Deployment
from domain.errors import BadGatewayError, BadRequestError, SwitchyardError

VERSION = "bedrock-2023-05-31"
_NOT_SENT = ("model", "stream")  # the model goes in the URL, the stream is the operation's choice


class BedrockInvoke(Envelope):
    host: ClassVar[str] = "Bedrock"

    def __init__(self, client: httpx.AsyncClient) -> None:
        super().__init__(client)
        self._access = BedrockAccess()

    async def outbound(
        self, deployment: Deployment, request: CompletionRequest, body: dict[str, Any], *, stream: bool
    ) -> Outbound:
        sent = {name: value for name, value in body.items() if name not in _NOT_SENT}
        sent.setdefault("anthropic_version", api_version(deployment, VERSION))
        betas = mapping.headers(deployment, request).get("anthropic-beta")
        if betas:
            sent.setdefault("anthropic_beta", betas.split(","))
        content = encode(sent)
        operation = "invoke-with-response-stream" if stream else "invoke"
        url, headers = await self._access.signed(deployment, operation, content)
        headers["accept"] = EVENT_STREAM if stream else "application/json"
        return Outbound(url, headers, content)

    async def count_tokens(
        self, deployment: Deployment, request: CompletionRequest, body: dict[str, Any]
    ) -> Outbound:
        raise BadRequestError("Bedrock's InvokeModel route does not count tokens.", param="model")

    def failed(self, deployment: Deployment, status: int, content: bytes, headers: Any) -> SwitchyardError:
        return upstream_error(status, content, headers)

    async def open_stream(self, deployment: Deployment, outbound: Outbound) -> httpx.Response:
        response = await super().open_stream(deployment, outbound)
        await expect_event_stream(response)
        return response

    def events(self, response: httpx.Response) -> AsyncIterator[bytes]:
        return anthropic_sse(response.aiter_bytes())


class BedrockAnthropicProvider(AnthropicProvider):
    """Claude models on Bedrock's InvokeModel, with the deployment's AWS credentials and region (as the
    Converse adapter takes them)."""

    name: ClassVar[str] = "bedrock"
    supports_count_tokens: ClassVar[bool] = False
    envelope: ClassVar[type[Envelope]] = BedrockInvoke


async def anthropic_sse(pieces: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The SSE bytes of the Anthropic events the event stream's `chunk` messages carry, a piece per
    network read; an exception message is raised as its domain error once the events before it went."""
    decoder = EventStreamDecoder()
    async for piece in pieces:
        out = bytearray()
        for message in decoded_messages(decoder, piece):
            headers = message.headers
            if headers.get(":message-type", "event") != "event":
                if out:
                    yield bytes(out)
                raise stream_exception(headers, message.payload)
            if headers.get(":event-type") == "chunk":
                out += sse_event(message.payload)
        if out:
            yield bytes(out)
    decoded_messages(decoder, None)


def sse_event(payload: bytes) -> bytes:
    """`{"bytes": base64(event JSON)}` -> `event: {type}\\ndata: {event JSON}\\n\\n`."""
    try:
        data = base64.b64decode(orjson.loads(payload)["bytes"], validate=True)
        kind = orjson.loads(data)["type"]
    except (orjson.JSONDecodeError, binascii.Error, KeyError, TypeError, ValueError) as exc:
        shown = payload[:200].decode("utf-8", "replace")
        raise BadGatewayError(f"Bedrock sent a malformed chunk: {shown!r}") from exc
    return b"event: " + str(kind).encode() + b"\ndata: " + data + b"\n\n"

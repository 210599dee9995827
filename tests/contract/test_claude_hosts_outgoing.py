"""What the Anthropic adapter puts on the wire in Vertex AI's and Bedrock InvokeModel's envelopes (URL,
credentials, the body's model, version and betas), how Bedrock's event stream becomes Anthropic's SSE,
and what Vertex's OpenAI-format partner models are sent."""

from __future__ import annotations

import base64

import httpx
import orjson
import pytest

from adapters.llm.bedrock.invoke import anthropic_sse
from adapters.llm.gemini.partners import VertexPartnerProvider
from domain.completions import CompletionChunk, FinishReason, assemble
from domain.deployments import Credentials, Deployment
from domain.errors import BadGatewayError, RateLimitError
from tests.contract.harnesses import bedrock
from tests.contract.harnesses.anthropic import FIXTURES, native_body, native_request
from tests.contract.harnesses.base import RecordingStream, chat_request
from tests.contract.harnesses.claude_hosts import (
    BEDROCK_CLAUDE,
    BedrockClaudeHarness,
    VertexClaudeHarness,
    chunks,
)
from tests.contract.harnesses.gemini import USER_CREDENTIALS
from tests.contract.outgoing import harness_fixture, sent_chat, sent_json

vertex = harness_fixture(VertexClaudeHarness, "vertex")
invoke = harness_fixture(BedrockClaudeHarness, "invoke")
NATIVE_STREAMS = ["stream.sse", "stream_thinking.sse", "stream_thinking_tool_use.sse"]
BETAS = {"anthropic-beta": "interleaved-thinking-2025-05-14,context-1m-2025-08-07"}
VERTEX_BASE = "https://us-east5-aiplatform.googleapis.com/v1/projects/switchyard-test/locations/us-east5"


async def _streamed(harness: VertexClaudeHarness | BedrockClaudeHarness) -> list[CompletionChunk]:
    stream = await harness.provider.stream(native_request(stream=True), harness.deployment)
    return [chunk async for chunk in stream]


# --- Vertex AI ----------------------------------------------------------------------------------------


async def test_vertex_claude_is_posted_to_raw_predict_with_a_bearer_and_the_version_in_the_body(
    vertex: VertexClaudeHarness,
) -> None:
    (sent,) = await sent_chat(vertex)

    assert str(sent.url) == f"{VERTEX_BASE}/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict"
    assert (
        sent.headers["authorization"] == "Bearer ya29.c.b0AXv0zTOQvL1pW2ZlA7Gz1kIq0sFakeAccessTokenForTests"
    )
    assert "x-api-key" not in sent.headers and "anthropic-version" not in sent.headers
    body = sent_json(sent)
    assert "model" not in body
    assert body["anthropic_version"] == "vertex-2023-10-16"
    assert body["messages"] == [{"role": "user", "content": "Hello!"}]


async def test_a_native_request_to_vertex_keeps_its_body_and_betas_and_streams_at_stream_raw_predict(
    vertex: VertexClaudeHarness,
) -> None:
    body = native_body()
    vertex.text_reply(stream=True)

    await (await vertex.provider.stream(native_request(body, headers=BETAS), vertex.deployment)).aclose()

    (sent,) = vertex.upstream.sent
    assert sent.url.path.endswith("/models/claude-sonnet-4-5@20250929:streamRawPredict")
    without_model = {name: value for name, value in body.items() if name != "model"}
    assert sent.content == orjson.dumps(
        without_model | {"stream": True, "anthropic_version": "vertex-2023-10-16"}
    )
    assert sent.headers["anthropic-beta"] == BETAS["anthropic-beta"]


@pytest.mark.parametrize(
    ("location", "host"),
    [("global", "aiplatform.googleapis.com"), ("europe-west1", "europe-west1-aiplatform.googleapis.com")],
)
async def test_vertex_claude_goes_to_the_locations_host(location: str, host: str) -> None:
    extra = {"vertex_project": "p", "vertex_location": location, "vertex_credentials": USER_CREDENTIALS}
    (sent,) = await sent_chat(VertexClaudeHarness(credentials=Credentials(extra=extra)))

    assert sent.url.host == host
    assert sent.url.path.startswith(f"/v1/projects/p/locations/{location}/publishers/anthropic/")


async def test_vertex_counts_tokens_at_its_count_tokens_model_with_the_model_in_the_body(
    vertex: VertexClaudeHarness,
) -> None:
    vertex.upstream.json(200, "count_tokens.json")

    assert await vertex.provider.count_tokens(native_request(), vertex.deployment) > 0

    (sent,) = vertex.upstream.sent
    assert str(sent.url) == f"{VERTEX_BASE}/publishers/anthropic/models/count-tokens:rawPredict"
    assert sent_json(sent)["model"] == "claude-sonnet-4-5@20250929"


@pytest.mark.parametrize("fixture", NATIVE_STREAMS)
async def test_a_native_vertex_stream_is_relayed_byte_for_byte(
    vertex: VertexClaudeHarness, fixture: str
) -> None:
    upstream = (FIXTURES / fixture).read_bytes()
    vertex.answer_stream(upstream)

    streamed = await _streamed(vertex)

    assert b"".join(chunk.native or b"" for chunk in streamed) == upstream


# --- Bedrock InvokeModel -------------------------------------------------------------------------------


async def test_bedrock_claude_is_invoked_signed_without_model_or_stream_and_with_bedrocks_version(
    invoke: BedrockClaudeHarness,
) -> None:
    (sent,) = await sent_chat(invoke)

    assert str(sent.url) == f"https://bedrock-runtime.us-east-1.amazonaws.com/model/{BEDROCK_CLAUDE}/invoke"
    assert sent.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/us-east-1/bedrock/aws4_request" in sent.headers["authorization"]
    body = sent_json(sent)
    assert "model" not in body and "stream" not in body
    assert body["anthropic_version"] == "bedrock-2023-05-31"


async def test_a_native_request_to_bedrock_carries_its_betas_in_the_body(
    invoke: BedrockClaudeHarness,
) -> None:
    body = native_body()
    invoke.text_reply(stream=True)

    await (await invoke.provider.stream(native_request(body, headers=BETAS), invoke.deployment)).aclose()

    (sent,) = invoke.upstream.sent
    assert sent.url.path == f"/model/{BEDROCK_CLAUDE}/invoke-with-response-stream"
    assert sent.headers["accept"] == bedrock.EVENT_STREAM
    assert "anthropic-beta" not in sent.headers
    out = sent_json(sent)
    assert out["anthropic_beta"] == ["interleaved-thinking-2025-05-14", "context-1m-2025-08-07"]
    assert out["thinking"] == body["thinking"] and "stream" not in out


async def test_an_application_inference_profile_arn_is_escaped_in_the_path_and_names_the_region() -> None:
    arn = "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/a1b2c3d4e5"
    credentials = Credentials(
        extra={"aws_access_key_id": bedrock.ACCESS_KEY, "aws_secret_access_key": bedrock.SECRET_KEY}
    )
    harness = BedrockClaudeHarness(upstream_model=f"invoke/{arn}", credentials=credentials)

    (sent,) = await sent_chat(harness)

    assert sent.url.host == "bedrock-runtime.eu-west-1.amazonaws.com"
    assert sent.url.raw_path.decode() == (
        "/model/arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile%2Fa1b2c3d4e5/invoke"
    )
    assert "/eu-west-1/bedrock/aws4_request" in sent.headers["authorization"]


@pytest.mark.parametrize("fixture", NATIVE_STREAMS)
@pytest.mark.parametrize("piece", [1, 13, 100_000])
async def test_bedrocks_event_stream_is_relayed_as_the_anthropic_sse_it_carries(
    invoke: BedrockClaudeHarness, fixture: str, piece: int
) -> None:
    sse = (FIXTURES / fixture).read_bytes()
    body = chunks(sse)
    headers = {"content-type": bedrock.EVENT_STREAM}
    stream = RecordingStream(body, piece=piece)
    invoke.upstream.answer = lambda _: httpx.Response(200, headers=headers, stream=stream)

    streamed = await _streamed(invoke)

    assert b"".join(chunk.native or b"" for chunk in streamed) == sse
    assert assemble(streamed).choices[0].finish_reason in (FinishReason.STOP, FinishReason.TOOL_CALLS)


async def test_a_bedrock_exception_mid_stream_is_raised_after_the_events_before_it() -> None:
    head = chunks((FIXTURES / "stream.sse").read_bytes().split(b"\n\n", 2)[0] + b"\n\n")
    throttled = bedrock.exception("throttlingException", {"message": "Too many requests, slow down."})

    async def pieces():
        yield head + throttled

    relayed = []
    with pytest.raises(RateLimitError, match="slow down"):
        async for piece in anthropic_sse(pieces()):
            relayed.append(piece)
    assert relayed and relayed[0].startswith(b"event: message_start\ndata: {")


async def test_a_chunk_without_base64_event_bytes_is_a_bad_gateway() -> None:
    async def pieces():
        yield bedrock.event("chunk", {"bytes": base64.b64encode(b"not json").decode()})

    with pytest.raises(BadGatewayError, match="malformed chunk"):
        async for _ in anthropic_sse(pieces()):
            pass


# --- Vertex AI's OpenAI-format partner models ---------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "path", "sent_model"),
    [
        (
            "meta/llama-3.3-70b-instruct-maas",
            "/endpoints/openapi/chat/completions",
            "meta/llama-3.3-70b-instruct-maas",
        ),
        ("deepseek-ai/deepseek-r1-0528-maas", "/endpoints/openapi/chat/completions", None),
        ("qwen/qwen3-235b-a22b-instruct-2507-maas", "/endpoints/openapi/chat/completions", None),
        ("mistral-large@2411", "/publishers/mistralai/models/mistral-large@2411:rawPredict", "mistral-large"),
        ("jamba-1.5-large@001", "/publishers/ai21/models/jamba-1.5-large@001:rawPredict", "jamba-1.5-large"),
    ],
)
async def test_vertex_partner_models_are_sent_openais_chat_at_their_endpoint(
    model: str, path: str, sent_model: str | None
) -> None:
    sent: list[httpx.Request] = []
    reply = (FIXTURES.parent / "openai" / "chat_completion.json").read_bytes()

    def upstream(request: httpx.Request) -> httpx.Response:
        if request.url.host == "oauth2.googleapis.com":
            return httpx.Response(200, json={"access_token": "ya29.partner", "expires_in": 3600})
        sent.append(request)
        return httpx.Response(200, content=reply, headers={"content-type": "application/json"})

    extra = {"vertex_project": "p", "vertex_location": "us-central1", "vertex_credentials": USER_CREDENTIALS}
    deployment = Deployment(
        id="partner-1", model_name="m", provider="vertex_ai", upstream_model=model,
        credentials=Credentials(extra=extra),
    )  # fmt: skip
    async with httpx.AsyncClient(transport=httpx.MockTransport(upstream)) as client:
        await VertexPartnerProvider(client).complete(chat_request(), deployment)

    (request,) = sent
    assert (
        str(request.url)
        == f"https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1{path}"
    )
    assert request.headers["authorization"] == "Bearer ya29.partner"
    assert sent_json(request)["model"] == (sent_model or model)

"""Tracing: the spans of the gateway's calls (captured with the SDK's in-memory exporter) and their
export over OTLP to a local receiver."""

from __future__ import annotations

import base64
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent import futures
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import grpc
import orjson
import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client.parser import text_string_to_metric_families

from adapters.config import load_config
from adapters.config.tracing import TracingSettings, tracing_settings
from adapters.observability.tracing import Tracing, open_tracing
from bootstrap import build_container, create_http_app
from domain.errors import ConfigurationError

MASTER = {"Authorization": "Bearer sk-master"}
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
MODELS = [
    {"model_name": "gpt-x", "litellm_params": {"model": "mock/gpt-x-2025"}, "model_info": {"id": "d-ok"}},
    {
        "model_name": "flaky",
        "litellm_params": {"model": "mock/flaky", "mock_response": "litellm.RateLimitError", "order": 1},
        "model_info": {"id": "d-flaky"},
    },
    {
        "model_name": "flaky",
        "litellm_params": {"model": "mock/steady", "order": 2},
        "model_info": {"id": "d-steady"},
    },
]


def _config(callbacks: list[str] | None = None, env: dict[str, str] | None = None) -> Any:
    return load_config(
        {
            "model_list": MODELS,
            "litellm_settings": {"callbacks": callbacks or []},
            "general_settings": {"master_key": "sk-master"},
            "router_settings": {"num_retries": 2, "retry_after": 0},
        },
        {"DATABASE_URL": "memory://", **(env or {})},
    )


@asynccontextmanager
async def _gateway(*, capture: bool = False) -> AsyncIterator[tuple[AsyncTestClient, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    tracing = open_tracing(TracingSettings(otlp=True, capture_content=capture), {}, exporters=[exporter])
    container = build_container(_config(["otel"]))
    container.tracing.override(providers.Object(tracing))
    async with AsyncTestClient(create_http_app(container)) as client:
        client.tracing = tracing  # type: ignore[attr-defined]
        yield client, exporter


def _spans(client: AsyncTestClient, exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    tracing: Tracing = client.tracing  # type: ignore[attr-defined]
    tracing.provider.force_flush()
    return list(exporter.get_finished_spans())


def _chat(model: str = "gpt-x", **fields: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "tell me a secret"}], **fields}


async def test_a_chat_call_is_a_server_span_with_a_client_span_per_upstream_attempt_in_genai_terms() -> None:
    async with _gateway() as (client, exporter):
        team = (await client.post("/team/new", json={"team_alias": "ml"}, headers=MASTER)).json()["team_id"]
        key = (
            await client.post("/key/generate", json={"key_alias": "ci", "team_id": team}, headers=MASTER)
        ).json()["key"]
        response = await client.post(
            "/v1/chat/completions",
            json=_chat(temperature=0.2, max_tokens=50),
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 200
        spans = _spans(client, exporter)

    (server,) = [s for s in spans if s.name == "POST /v1/chat/completions"]
    (attempt,) = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert server.kind is SpanKind.SERVER and attempt.parent.span_id == server.context.span_id
    assert attempt.name == "chat gpt-x"
    a = attempt.attributes
    assert (a["gen_ai.operation.name"], a["gen_ai.provider.name"]) == ("chat", "mock")
    assert (a["gen_ai.request.model"], a["gen_ai.response.model"]) == ("gpt-x", response.json()["model"])
    assert a["gen_ai.response.id"] == response.json()["id"]
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    usage = response.json()["usage"]
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (
        usage["prompt_tokens"], usage["completion_tokens"]
    )  # fmt: skip
    assert (a["gen_ai.request.temperature"], a["gen_ai.request.max_tokens"]) == (0.2, 50)
    assert a["switchyard.deployment.id"] == "d-ok"
    assert "gen_ai.input.messages" not in a and "gen_ai.output.messages" not in a  # content is opt-in
    s = server.attributes
    assert (s["http.request.method"], s["http.route"], s["http.response.status_code"]) == (
        "POST", "/v1/chat/completions", 200
    )  # fmt: skip
    assert (s["switchyard.key_alias"], s["switchyard.team_id"]) == ("ci", team)
    assert s["switchyard.call_id"] == response.headers["x-switchyard-call-id"]
    assert s["switchyard.model_group"] == "gpt-x"
    assert s.get("switchyard.cost") == float(response.headers.get("x-switchyard-response-cost", "nan"))
    assert "switchyard.retries" not in s  # zero and unset values are left out
    assert "sk-" not in orjson.dumps({**s, **a}).decode().replace("sk-...", "")  # never a key


async def test_a_clients_traceparent_is_continued() -> None:
    async with _gateway() as (client, exporter):
        await client.post(
            "/v1/chat/completions", json=_chat(), headers={**MASTER, "traceparent": TRACEPARENT}
        )
        spans = _spans(client, exporter)

    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    assert format(server.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert format(server.parent.span_id, "016x") == "b7ad6b7169203331"
    assert all(s.context.trace_id == server.context.trace_id for s in spans)


async def test_each_retry_is_an_attempt_span_of_its_own_and_the_failed_one_says_why() -> None:
    async with _gateway() as (client, exporter):
        response = await client.post("/v1/chat/completions", json=_chat("flaky"), headers=MASTER)
        assert response.status_code == 200 and response.headers["x-switchyard-attempted-retries"] == "1"
        spans = _spans(client, exporter)

    retried = next(
        s for s in spans if s.kind is SpanKind.SERVER and s.attributes.get("switchyard.retries") == 1
    )
    attempts = [s for s in spans if s.parent is not None and s.parent.span_id == retried.context.span_id]
    failed, answered = sorted(attempts, key=lambda s: s.start_time)
    assert failed.status.status_code is StatusCode.ERROR
    assert (failed.attributes["error.type"], failed.attributes["switchyard.deployment.id"]) == (
        "rate_limit_error", "d-flaky"
    )  # fmt: skip
    assert answered.status.status_code is StatusCode.UNSET
    assert answered.attributes["switchyard.deployment.id"] == "d-steady"


async def test_a_streams_attempt_span_lasts_until_its_end_with_the_first_chunks_time_and_usage() -> None:
    async with _gateway() as (client, exporter):
        body = _chat(stream=True, stream_options={"include_usage": True})
        response = await client.post("/v1/chat/completions", json=body, headers=MASTER)
        assert response.text.rstrip().endswith("data: [DONE]")
        spans = _spans(client, exporter)

    (attempt,) = [s for s in spans if s.kind is SpanKind.CLIENT]
    a = attempt.attributes
    assert a["gen_ai.request.stream"] is True and a["gen_ai.response.time_to_first_chunk"] >= 0
    assert a["gen_ai.usage.output_tokens"] > 0 and a["gen_ai.response.finish_reasons"] == ("stop",)
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    assert attempt.end_time <= server.end_time and server.attributes["switchyard.call_type"] == "stream"


async def test_prompt_and_reply_text_are_on_the_span_only_when_capture_is_on() -> None:
    async with _gateway(capture=True) as (client, exporter):
        await client.post("/v1/chat/completions", json=_chat(mock_response="the answer"), headers=MASTER)
        spans = _spans(client, exporter)

    (attempt,) = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert orjson.loads(attempt.attributes["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "tell me a secret"}]}
    ]
    (output,) = orjson.loads(attempt.attributes["gen_ai.output.messages"])
    assert (
        output["parts"] == [{"type": "text", "content": "the answer"}] and output["finish_reason"] == "stop"
    )


async def test_probes_and_refusals_a_refused_call_is_traced_a_probe_is_not() -> None:
    async with _gateway() as (client, exporter):
        await client.get("/health/liveliness")
        refused = await client.post(
            "/v1/chat/completions", json=_chat(), headers={"Authorization": "Bearer no"}
        )
        assert refused.status_code == 401
        spans = _spans(client, exporter)

    (server,) = spans
    assert server.attributes["http.response.status_code"] == 401


async def test_tracing_is_not_wired_at_all_when_off() -> None:
    container = build_container(_config())
    async with AsyncTestClient(create_http_app(container)) as client:
        assert (await client.post("/v1/chat/completions", json=_chat(), headers=MASTER)).status_code == 200
        assert await container.tracing() is None
        completions = await container.completions()
        assert type(completions._providers) is dict  # the adapters themselves, not wrappers


def test_tracing_is_on_by_callbacks_or_an_otlp_endpoint_and_langfuse_needs_its_keys() -> None:
    assert tracing_settings([], {}) is None
    assert tracing_settings(["otel"], {}) == TracingSettings(otlp=True)
    assert tracing_settings([], {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}).otlp
    captured = tracing_settings(["otel"], {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"})
    assert captured.capture_content
    with pytest.raises(ConfigurationError, match="LANGFUSE_SECRET_KEY"):
        tracing_settings(["langfuse"], {"LANGFUSE_PUBLIC_KEY": "pk-lf-1"})
    langfuse = tracing_settings(["langfuse"], {"LANGFUSE_PUBLIC_KEY": "pk", "LANGFUSE_SECRET_KEY": "sk"})
    assert (langfuse.otlp, langfuse.langfuse_host) == (False, "https://cloud.langfuse.com")


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@contextmanager
def _receiver() -> Iterator[tuple[str, list[tuple[str, dict[str, str], bytes]]]]:
    received: list[tuple[str, dict[str, str], bytes]] = []
    handler = type("Handler", (_Receiver,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def _span_names(body: bytes) -> list[str]:
    request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
    return [span.name for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]


def test_spans_are_exported_over_otlp_http_protobuf_with_the_configured_headers() -> None:
    with _receiver() as (url, received):
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": url, "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=t1"}
        tracing = open_tracing(tracing_settings([], env), env)
        tracing.tracer.start_span("chat gpt-x").end()
        tracing.close()

    (path, headers, body), *_ = received
    assert path == "/v1/traces" and headers["x-tenant"] == "t1"
    assert headers["content-type"] == "application/x-protobuf" and _span_names(body) == ["chat gpt-x"]
    assert (tracing.exported, tracing.dropped) == (1, 0)


def test_langfuse_gets_spans_at_its_otel_endpoint_with_basic_auth() -> None:
    with _receiver() as (url, received):
        env = {"LANGFUSE_PUBLIC_KEY": "pk-lf-1", "LANGFUSE_SECRET_KEY": "sk-lf-2", "LANGFUSE_HOST": url}
        tracing = open_tracing(tracing_settings(["langfuse"], env), env)
        tracing.tracer.start_span("chat gpt-x").end()
        tracing.close()

    (path, headers, body), *_ = received
    assert path == "/api/public/otel/v1/traces"
    assert headers["authorization"] == "Basic " + base64.b64encode(b"pk-lf-1:sk-lf-2").decode()
    assert _span_names(body) == ["chat gpt-x"]


class _Collector(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.names: list[str] = []

    def Export(self, request: Any, context: Any) -> Any:
        self.names += [
            span.name for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans
        ]
        return trace_service_pb2.ExportTraceServiceResponse()


def test_spans_are_exported_over_otlp_grpc() -> None:
    collector = _Collector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        }
        tracing = open_tracing(tracing_settings(["otel"], env), env)
        tracing.tracer.start_span("embeddings e-1").end()
        tracing.close()
    finally:
        server.stop(None)

    assert collector.names == ["embeddings e-1"]


def test_a_dead_collector_costs_only_the_spans_it_could_not_take_counted() -> None:
    with _receiver() as (url, _):
        pass  # the port is closed again: nothing listens there
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": url, "OTEL_EXPORTER_OTLP_TIMEOUT": "200"}
    tracing = open_tracing(tracing_settings([], env), env)
    for _ in range(3):
        tracing.tracer.start_span("chat gpt-x").end()
    tracing.close()

    assert (tracing.exported, tracing.dropped) == (0, 3)


def test_a_full_queue_drops_the_oldest_spans_and_counts_them() -> None:
    class Stuck(InMemorySpanExporter):
        def __init__(self) -> None:
            super().__init__()
            self.release = threading.Event()

        def export(self, spans: Any) -> Any:
            self.release.wait(5)
            return super().export(spans)

    stuck = Stuck()
    tracing = open_tracing(TracingSettings(otlp=True), {"OTEL_BSP_MAX_QUEUE_SIZE": "4"}, exporters=[stuck])
    for _ in range(10):
        tracing.tracer.start_span("chat gpt-x").end()
    stuck.release.set()
    tracing.close()

    assert tracing.exported + tracing.dropped == 10 and tracing.dropped >= 6 - 4


async def test_the_spans_exported_and_dropped_are_counted_in_the_metrics() -> None:
    async with _gateway() as (client, _):
        await client.post("/v1/chat/completions", json=_chat(), headers=MASTER)
        client.tracing.provider.force_flush()  # type: ignore[attr-defined]
        text = (await client.get("/metrics", headers=MASTER)).text

    counts = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("switchyard_spans_") and sample.name.endswith("_total")
    }
    assert counts == {"switchyard_spans_exported_total": 2.0, "switchyard_spans_dropped_total": 0.0}


async def test_moderations_and_reranks_are_traced_through_the_wrapped_provider() -> None:
    async with _gateway() as (client, exporter):
        moderation = await client.post(
            "/v1/moderations", json={"model": "gpt-x", "input": "mock-flagged"}, headers=MASTER
        )
        rerank = await client.post(
            "/v1/rerank", json={"model": "gpt-x", "query": "a", "documents": ["a", "b"]}, headers=MASTER
        )
        spans = _spans(client, exporter)

    assert moderation.status_code == 200 and moderation.json()["results"][0]["flagged"] is True
    assert rerank.status_code == 200 and rerank.json()["results"][0]["index"] == 0
    operations = [s.attributes["gen_ai.operation.name"] for s in spans if s.kind is SpanKind.CLIENT]
    assert operations == ["moderation", "rerank"]

"""The OTLP request body written directly is the one the SDK's encoder writes: for every kind of span the
gateway makes, and for what it does not make (events, links, values of other types)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from adapters.observability.call_spans import CallSpans
from adapters.observability.otlp_wire import OtlpSpanEncoder


@pytest.fixture
def finished() -> Iterator[tuple[trace.Tracer, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "switchyard", "n": 3}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    schema = "https://opentelemetry.io/schemas/1.44.0"
    yield provider.get_tracer("switchyard", "1.0", schema_url=schema), exporter
    provider.shutdown()


def _same_as_the_sdk(spans: tuple[ReadableSpan, ...] | list[ReadableSpan]) -> None:
    encoder = OtlpSpanEncoder()
    for _ in range(2):  # the second time from its caches
        written = encoder.encode(spans)
        assert written == encode_spans(spans).SerializeToString()
        assert ExportTraceServiceRequest.FromString(written) == encode_spans(spans)


def test_a_calls_server_and_client_spans_are_written_as_the_sdk_writes_them(finished) -> None:
    tracer, exporter = finished
    remote = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, is_remote=True,
                         trace_flags=TraceFlags(1), trace_state=TraceState([("vendor", "x1")]))  # fmt: skip
    parent = trace.set_span_in_context(NonRecordingSpan(remote))
    route = "/v1/chat/completions"
    server = tracer.start_span(f"POST {route}", parent, SpanKind.SERVER,
                               {"http.request.method": "POST", "http.route": route})  # fmt: skip
    client = tracer.start_span(
        "chat gpt-x",
        trace.set_span_in_context(server),
        SpanKind.CLIENT,
        {"gen_ai.operation.name": "chat", "server.port": 4010, "gen_ai.request.temperature": 0.2,
         "gen_ai.request.stop_sequences": ("\n", "END"), "gen_ai.request.stream": True,
         "gen_ai.request.seed": -7, "gen_ai.usage.input_tokens": 0, "big": 2**40, "empty": ""},
    )  # fmt: skip
    client.set_attribute("gen_ai.response.finish_reasons", ("stop",))
    client.end()
    server.set_attributes({"switchyard.cost": 0.0000072, "switchyard.cache_hit": False, "long": "é" * 200})
    server.set_status(Status(StatusCode.ERROR, "upstream_error"))
    server.end()

    _same_as_the_sdk(exporter.get_finished_spans())


def test_spans_with_events_links_and_other_values_are_left_to_the_sdks_encoder(finished) -> None:
    tracer, exporter = finished
    linked = SpanContext(1, 2, is_remote=False)
    with tracer.start_as_current_span("with an event", links=[Link(linked, {"why": "retry"})]) as span:
        span.add_event("retried", {"attempt": 2})
    span = tracer.start_span("a list of numbers", attributes={"sizes": [1, 2, 3], "mixed": (True, 1)})
    span.set_status(Status(StatusCode.OK))
    span.end()
    tracer.start_span("nothing set", kind=SpanKind.PRODUCER).end()

    _same_as_the_sdk(exporter.get_finished_spans())


def test_spans_of_several_resources_and_scopes_are_grouped_as_the_sdk_groups_them() -> None:
    exporter = InMemorySpanExporter()
    providers = [TracerProvider(resource=Resource.create({"service.name": name})) for name in ("a", "b", "a")]
    for provider in providers:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    for i, provider in enumerate(providers):
        provider.get_tracer("one").start_span(f"span {i}").end()
        provider.get_tracer("two", "2.0").start_span(f"other {i}").end()

    _same_as_the_sdk(exporter.get_finished_spans())


def test_values_equal_across_types_and_ids_that_never_repeat_are_each_written_as_themselves(finished) -> None:
    tracer, exporter = finished
    # As dict keys 1, True and 1.0 are one value, and 0.0 is -0.0: the encodings kept must tell them apart.
    for value in (1, True, 1.0, 0, False, 0.0, -0.0, 0.0, "1", 1, True, 1.0, -0.0):
        tracer.start_span("typed", attributes={"switchyard.value": value}).end()
    # More distinct values of one name than are kept: the later ones are written each time.
    for n in range(200):
        tracer.start_span("id", attributes={"switchyard.call_id": f"call-{n}", "tokens": n % 70}).end()

    spans = exporter.get_finished_spans()
    encoder = OtlpSpanEncoder()
    for _ in range(2):
        for span in spans:
            assert encoder.encode([span]) == encode_spans([span]).SerializeToString()


@pytest.mark.parametrize("limits", [None, SpanLimits(max_span_attributes=3, max_attribute_length=4)])
def test_the_gateways_own_spans_read_from_their_fields_are_written_as_the_sdk_writes_them(limits) -> None:
    # CallSpans ends its spans as plain ReadableSpans, which the encoder reads without the properties:
    # a remote parent with trace state, statuses, a value cleaned into BoundedAttributes, dropped ones.
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "switchyard"}), span_limits=limits)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    spans = CallSpans(provider.get_tracer("switchyard", schema_url="https://example.test/s"))  # type: ignore[arg-type]
    remote = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, is_remote=True,
                         trace_flags=TraceFlags(1), trace_state=TraceState([("vendor", "x1")]))  # fmt: skip
    for parent in (None, trace.set_span_in_context(NonRecordingSpan(remote))):
        asked = {"http.request.method": "POST", "http.route": "/v1/chat/completions"}
        server = spans.start("POST /v1/chat/completions", parent, SpanKind.SERVER, asked)
        asked = {"gen_ai.operation.name": "chat", "server.port": 4010, "sizes": [1, 2]}
        client = spans.start("chat gpt-x", trace.set_span_in_context(server), SpanKind.CLIENT, asked)
        client.set_status(Status(StatusCode.ERROR, "RateLimitError"))
        client.end()
        server.set_attributes({"switchyard.cost": 0.25, "switchyard.cache_hit": False, "n": -3})
        server.set_status(Status(StatusCode.ERROR))
        server.end()
        spans.start("ok", None, SpanKind.INTERNAL, {}).end()
    made = exporter.get_finished_spans()
    assert {type(span) for span in made} == {ReadableSpan} and len(made) == 6
    if limits is not None:
        assert any(span.dropped_attributes for span in made)

    _same_as_the_sdk(made)
    provider.shutdown()

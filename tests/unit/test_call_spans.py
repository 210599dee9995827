"""The gateway's spans reach the processors as the SDK's own spans would: the same attributes in the same
order, parents, kinds, statuses, resource, scope and sampling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from adapters.observability.call_spans import CallSpans

REMOTE = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, is_remote=True,
                     trace_flags=TraceFlags(1))  # fmt: skip


def _both(
    sampler: Sampler | None = None, limits: SpanLimits | None = None
) -> tuple[Any, Any, InMemorySpanExporter, InMemorySpanExporter]:
    """The SDK's tracer and CallSpans over a tracer of the same provider settings, each exporting to its
    own memory."""
    made = []
    for _ in range(2):
        exporter = InMemorySpanExporter()
        resource = Resource({"service.name": "switchyard"})
        provider = TracerProvider(resource=resource, sampler=sampler, span_limits=limits)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        made.append((provider.get_tracer("switchyard", schema_url="https://example.test/s"), exporter))
    (sdk, sdk_out), (ours, ours_out) = made
    return sdk.start_span, CallSpans(ours).start, sdk_out, ours_out


def _seen(span: ReadableSpan) -> tuple[Any, ...]:
    parent = span.parent
    return (
        span.name, span.kind, dict(span.attributes or {}), list((span.attributes or {}).keys()),
        span.status.status_code, span.status.description, span.events, span.links, span.dropped_attributes,
        span.resource.attributes, span.instrumentation_scope, span.context.trace_flags,
        span.context.is_remote,
        parent.is_remote if parent is not None else None,
        span.end_time is not None and span.start_time is not None and span.end_time >= span.start_time,
    )  # fmt: skip


def _a_call(start: Callable[..., trace.Span]) -> None:
    """What the server middleware, the annotator and the traced provider do to a failed chat call."""
    parent = trace.set_span_in_context(NonRecordingSpan(REMOTE))
    server = start("POST /v1/chat/completions", parent, SpanKind.SERVER,
                   {"http.request.method": "POST", "http.route": "/v1/chat/completions"})  # fmt: skip
    inside = trace.set_span_in_context(server)
    asked = {"gen_ai.operation.name": "chat", "server.port": 4010}
    client = start("chat gpt-x", inside, SpanKind.CLIENT, asked)
    client.set_attributes({"gen_ai.response.finish_reasons": ("stop",), "gen_ai.usage.input_tokens": 12})
    client.set_attribute("error.type", "RateLimitError")
    client.set_status(Status(StatusCode.ERROR, "RateLimitError"))
    client.end()
    server.set_attributes({"switchyard.cost": 0.25, "switchyard.cache_hit": True, "switchyard.call_id": "c1"})
    server.set_attribute("error.type", "KeyError")
    server.set_attribute("http.response.status_code", 500)
    server.set_attribute("error.type", "500")  # set again: last, as the SDK keeps it
    server.set_status(Status(StatusCode.ERROR))
    server.set_status(StatusCode.UNSET)  # never unset
    server.end()
    server.end()  # once only


def test_a_calls_spans_are_what_the_sdk_would_have_made() -> None:
    sdk, ours, sdk_out, ours_out = _both()

    _a_call(sdk)
    _a_call(ours)

    made, expected = ours_out.get_finished_spans(), sdk_out.get_finished_spans()
    assert [_seen(span) for span in made] == [_seen(span) for span in expected]
    client, server = made
    assert client.parent.span_id == server.context.span_id and client.context.trace_id == REMOTE.trace_id
    assert server.parent.span_id == REMOTE.span_id


def test_an_ok_status_is_final_and_other_values_are_cleaned_as_the_sdk_cleans_them() -> None:
    sdk, ours, sdk_out, ours_out = _both()
    for start in (sdk, ours):
        span = start("root", None, SpanKind.INTERNAL, {"sizes": [1, 2], "odd": object(), "n": None})
        span.set_status(Status(StatusCode.OK))
        span.set_status(Status(StatusCode.ERROR, "late"))
        span.set_attribute("list", ["a", "b"])
        span.add_event("retried", {"attempt": 2})
        span.end()

    (made,), (expected,) = ours_out.get_finished_spans(), sdk_out.get_finished_spans()
    assert _seen(made)[:5] == _seen(expected)[:5] and made.parent is None
    assert [(e.name, dict(e.attributes)) for e in made.events] == [("retried", {"attempt": 2})]


@pytest.mark.parametrize("sampler", [ALWAYS_OFF, ParentBased(TraceIdRatioBased(0.0))], ids=["off", "ratio-0"])
def test_the_providers_sampler_decides_and_an_unsampled_span_is_not_recorded(sampler: Sampler) -> None:
    _, ours, _, ours_out = _both(sampler)

    span = ours("root", None, SpanKind.SERVER, {"a": "b"})
    span.end()

    assert not span.is_recording() and not span.get_span_context().trace_flags.sampled
    assert ours_out.get_finished_spans() == ()


def test_a_remote_sampled_parent_is_followed_by_the_parent_based_sampler() -> None:
    _, ours, _, ours_out = _both(ParentBased(TraceIdRatioBased(0.0)))

    ours("child", trace.set_span_in_context(NonRecordingSpan(REMOTE)), SpanKind.SERVER, {}).end()

    (made,) = ours_out.get_finished_spans()
    assert made.context.trace_id == REMOTE.trace_id and made.context.trace_flags.sampled


def test_with_the_default_sampler_an_unsampled_parent_leaves_its_child_unrecorded_in_its_trace() -> None:
    sdk, ours, _, ours_out = _both()
    unsampled = SpanContext(REMOTE.trace_id, REMOTE.span_id, is_remote=True, trace_flags=TraceFlags(0),
                            trace_state=TraceState([("vendor", "x1")]))  # fmt: skip
    parent = trace.set_span_in_context(NonRecordingSpan(unsampled))

    made, expected = ours("child", parent, SpanKind.SERVER, {}), sdk("child", parent, SpanKind.SERVER, {})
    made.end()

    assert not made.is_recording() and ours_out.get_finished_spans() == ()
    mine, theirs = made.get_span_context(), expected.get_span_context()
    assert (mine.trace_id, mine.trace_flags, mine.trace_state) == (theirs.trace_id, theirs.trace_flags,
                                                                   theirs.trace_state)  # fmt: skip


def test_span_limits_set_in_the_environment_cut_and_drop_as_the_sdk_does() -> None:
    sdk, ours, sdk_out, ours_out = _both(limits=SpanLimits(max_span_attributes=3, max_attribute_length=4))

    _a_call(sdk)
    _a_call(ours)

    made, expected = ours_out.get_finished_spans(), sdk_out.get_finished_spans()
    assert [_seen(span) for span in made] == [_seen(span) for span in expected]
    assert made[1].attributes["error.type"] == "500" and made[1].dropped_attributes > 0


class _Watching(SpanProcessor):
    """A processor that does something as spans start and end: it is shown each one."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.seen.append(("start", span.get_span_context().span_id))

    def _on_ending(self, span: Any) -> None:
        self.seen.append(("ending", span.get_span_context().span_id))

    def on_end(self, span: ReadableSpan) -> None:
        self.seen.append(("end", span.context.span_id))


def test_processors_that_watch_starts_and_endings_see_every_span_even_those_added_later() -> None:
    provider = TracerProvider()
    first = _Watching()
    provider.add_span_processor(first)
    start = CallSpans(provider.get_tracer("switchyard")).start  # type: ignore[arg-type]

    one = start("one", None, SpanKind.INTERNAL, {})
    one.end()
    later = _Watching()
    provider.add_span_processor(later)
    two = start("two", None, SpanKind.INTERNAL, {})
    two.end()

    ids = [span.get_span_context().span_id for span in (one, two)]
    seen = [[(step, span_id) for step in ("start", "ending", "end")] for span_id in ids]
    assert first.seen == seen[0] + seen[1] and later.seen == seen[1]


class _Counting(IdGenerator):
    def __init__(self) -> None:
        self.made = 0

    def generate_span_id(self) -> int:
        self.made += 1
        return self.made

    def generate_trace_id(self) -> int:
        return 0xABC

    def is_trace_id_random(self) -> bool:
        return False


def test_a_root_spans_context_is_the_one_the_sdk_builds_from_the_providers_id_generator() -> None:
    for generator in (RandomIdGenerator(), _Counting()):
        provider = TracerProvider(id_generator=generator)
        span = CallSpans(provider.get_tracer("switchyard")).start("root")  # type: ignore[arg-type]
        made = span.get_span_context()
        random = TraceFlags.RANDOM_TRACE_ID if generator.is_trace_id_random() else 0
        flags = TraceFlags(TraceFlags.SAMPLED | random)
        assert made == SpanContext(made.trace_id, made.span_id, is_remote=False, trace_flags=flags)
        assert made.is_valid and made.trace_state == TraceState() and type(made.trace_flags) is TraceFlags
    assert (made.trace_id, made.span_id) == (0xABC, 1)


def test_attributes_set_again_in_a_batch_move_to_the_end_as_the_sdks_do() -> None:
    sdk, ours, sdk_out, ours_out = _both()
    for start in (sdk, ours):
        span = start("root", None, SpanKind.INTERNAL, {"a": 1, "b": "x", "c": True})
        span.set_attributes({"d": 2.5, "e": ("p", "q")})
        span.set_attributes({"b": "y", "f": 3})
        span.set_attributes({"g": [1, 2]})
        span.end()

    (made,), (expected,) = ours_out.get_finished_spans(), sdk_out.get_finished_spans()
    assert _seen(made) == _seen(expected)
    assert list(made.attributes) == ["a", "c", "d", "e", "b", "f", "g"]

"""The server span's parent: read off the request's headers exactly as OpenTelemetry's configured
propagators read it, whether or not a header they read is there."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import baggage, propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from adapters.observability.server_spans import _GETTER, _parent

TRACEPARENT = (b"traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
BAGGAGE = (b"baggage", b"tenant=acme,region=eu")
PLAIN = [(b"host", b"gateway"), (b"authorization", b"Bearer sk-test-12345678"), (b"content-type", b"json")]
HEADER_SETS = [
    [],
    PLAIN,
    [*PLAIN, TRACEPARENT],
    [*PLAIN, BAGGAGE],
    [TRACEPARENT, *PLAIN, BAGGAGE, (b"tracestate", b"vendor=1")],
    [*PLAIN, (b"tracestate", b"vendor=1")],
]
PROPAGATORS = {
    "default": None,
    "tracecontext only": CompositePropagator([TraceContextTextMapPropagator()]),
    "baggage first": CompositePropagator([W3CBaggagePropagator(), TraceContextTextMapPropagator()]),
    "bare tracecontext": TraceContextTextMapPropagator(),
}


@pytest.fixture(params=list(PROPAGATORS))
def textmap(request: pytest.FixtureRequest) -> Iterator[None]:
    chosen = PROPAGATORS[request.param]
    default = propagate.get_global_textmap()
    if chosen is not None:
        propagate.set_global_textmap(chosen)
    try:
        yield
    finally:
        propagate.set_global_textmap(default)


def _seen(parent: Context) -> tuple[object, dict[str, object]]:
    span = trace.get_current_span(parent).get_span_context()
    return (span.trace_id, span.span_id, span.is_remote, span.trace_flags, span.trace_state), dict(
        baggage.get_all(parent)
    )


@pytest.mark.parametrize("headers", HEADER_SETS)
def test_the_parent_is_what_the_propagators_extract(
    textmap: None, headers: list[tuple[bytes, bytes]]
) -> None:
    expected = propagate.extract(headers, getter=_GETTER)

    found = _parent(headers)

    assert _seen(found) == _seen(expected)
    assert dict(found).keys() == dict(expected).keys()

"""The gateway's spans, made by the SDK's rules and handed to its processors, but held as plain values
while they run and built into the SDK's `ReadableSpan` once, when they end.

An SDK span validates and copies every attribute as it is set (through `BoundedAttributes`, under a
lock: about 2 us an attribute) and builds its span, lists and locks up front; a traced chat call, a
server span and a client span of some twenty attributes, spent 0.09 ms of CPU in them. The attributes
the gateway sets are texts, numbers, flags and tuples of texts, which need no cleaning: here they go into
a dict, and the span costs a third of the SDK's. Everything a processor or exporter sees is what the SDK
would have made: the same ids (the provider's id generator), the same sampling (its sampler: an unsampled
span is the SDK's non-recording span), the resource, scope, kinds, status rules and times. A value of
another type, or span limits set in the environment, send the attributes through the SDK's own
`BoundedAttributes` when the span ends.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from random import getrandbits
from time import time_ns
from typing import Any

from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.trace import (
    Event,
    ReadableSpan,
    SpanLimits,
    SpanProcessor,
    SynchronousMultiSpanProcessor,
)
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import DEFAULT_ON, ParentBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import DEFAULT_TRACE_STATE
from opentelemetry.util import types

_log = logging.getLogger(__name__)
_PLAIN = frozenset({str, bool, int, float})
_UNSET = Status(StatusCode.UNSET)
_FLAGS = tuple(TraceFlags(flags) for flags in range(4))
"""The trace flags a span of ours can carry (sampled, random trace id), made once."""
_TRACE_ID_MAX = 2**128 - 1
_SPAN_ID_MAX = 2**64 - 1
_NOTHING_ON_START = (SpanProcessor.on_start, SpanProcessor._on_ending, BatchSpanProcessor.on_start,
                     BatchSpanProcessor._on_ending)  # fmt: skip
"""The SDK's processor methods that do nothing: a span need not be shown to them."""


def _plain(value: Any) -> bool:
    kind = type(value)
    return kind in _PLAIN or (kind is tuple and all([type(item) in _PLAIN for item in value]))


class CallSpans:
    """Starts spans with `tracer`'s sampler, id generator, resource, scope and processors."""

    def __init__(self, tracer: SdkTracer) -> None:
        self._sampler = tracer.sampler
        # The SDK's default sampler, parent-based over always-on, decided here without its three context
        # lookups and result objects: a span is sampled when it is a root or its parent was.
        self._parent_based = type(tracer.sampler) is ParentBased and (
            tracer.sampler.get_description() == DEFAULT_ON.get_description()
        )
        self._ids = tracer.id_generator
        self._random_ids = type(self._ids) is RandomIdGenerator
        """The SDK's default generator: ids drawn here as it draws them, without its two calls a span."""
        self.resource = tracer.resource
        self.scope = tracer._instrumentation_scope
        self.processor = tracer.span_processor
        self.limits: SpanLimits = tracer._span_limits
        self.cut_values = self.limits.max_attribute_length is not None
        """Texts are cut to a length (`OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`): the SDK cleans them then."""
        self._told: tuple[SpanProcessor, ...] | None = None
        self.ending: tuple[SpanProcessor, ...] = ()
        """The processors a span is shown to as it starts and ends (`on_start`, `_on_ending`): those
        of `processor` whose methods do something (none of the SDK's batch processors do)."""
        self.ended: tuple[SpanProcessor, ...] = ()
        """The processors an ended span goes to (`on_end`), as `processor` hands it to each in turn."""
        self._learn_processors()

    def start(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, Any] | None = None,
    ) -> trace.Span:
        """As the SDK's `Tracer.start_span`: a child of the span current in `context` (else of the current
        context's), or the root of a new trace."""
        parent: SpanContext | None = trace.get_current_span(context).get_span_context()
        if parent is None or not parent.is_valid:
            parent = None
            trace_id = self._trace_id()
        else:
            trace_id = parent.trace_id
        if self._parent_based:
            sampled = recording = parent is None or parent.trace_flags.sampled
            state = None if parent is None else parent.trace_state
            given = dict(attributes or {}) if recording else {}
        else:
            result = self._sampler.should_sample(context, trace_id, name, kind, attributes, ())
            sampled, recording = result.decision.is_sampled(), result.decision.is_recording()
            state = result.trace_state
            given = dict(result.attributes or {})
        flags = TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT
        if parent is not None:
            random = parent.trace_flags & TraceFlags.RANDOM_TRACE_ID
        else:
            random = self._random_ids or self._ids.is_trace_id_random()
        if random:
            flags |= TraceFlags.RANDOM_TRACE_ID
        own = _span_context(trace_id, self._span_id(), _FLAGS[flags], state)
        if not recording:
            return NonRecordingSpan(own)
        span = CallSpan(self, name, own, parent, kind, given)
        if self._told is not getattr(self.processor, "_span_processors", None):
            self._learn_processors()
        for each in self.ending:
            each.on_start(span, parent_context=context)  # type: ignore[arg-type]
        return span

    def _trace_id(self) -> int:
        return _random_id(128) if self._random_ids else self._ids.generate_trace_id()

    def _span_id(self) -> int:
        return _random_id(64) if self._random_ids else self._ids.generate_span_id()

    def _learn_processors(self) -> None:
        """Which processors a span must be shown to, for the processors `processor` holds now (the
        provider adds one as a new tuple: seen again when it changes). A processor other than the SDK's
        synchronous one (the concurrent one runs them on threads) is handed every span itself."""
        processor = self.processor
        told = getattr(processor, "_span_processors", None)
        if type(processor) is not SynchronousMultiSpanProcessor or told is None:
            self.ending = self.ended = (processor,)
            self._told = told
            return
        self.ending = tuple(
            each
            for each in told
            if type(each).on_start not in _NOTHING_ON_START or type(each)._on_ending not in _NOTHING_ON_START
        )
        self.ended = told
        self._told = told


def _random_id(bits: int) -> int:
    """An id of `bits` random bits as RandomIdGenerator draws it: never the invalid id 0."""
    found = getrandbits(bits)
    while not found:
        found = getrandbits(bits)
    return found


def _span_context(trace_id: int, span_id: int, flags: TraceFlags, state: Any) -> SpanContext:
    """`SpanContext(trace_id, span_id, is_remote=False, trace_flags=flags, trace_state=state)`: the same
    tuple, without the checks of its constructor's defaults."""
    valid = 0 < trace_id <= _TRACE_ID_MAX and 0 < span_id <= _SPAN_ID_MAX
    return tuple.__new__(  # type: ignore[no-any-return]
        SpanContext, (trace_id, span_id, False, flags, DEFAULT_TRACE_STATE if state is None else state, valid)
    )


class CallSpan(trace.Span):
    """A recording span: its attributes in a dict (set again, a name moves to the end, as in the SDK's),
    ended once into a `ReadableSpan` for the processors."""

    __slots__ = ("_attributes", "_context", "_end", "_events", "_kind", "_name", "_parent", "_plain",
                 "_spans", "_start", "_status")  # fmt: skip

    def __init__(
        self,
        spans: CallSpans,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        attributes: dict[str, Any],
    ) -> None:
        self._spans = spans
        self._name = name
        self._context = context
        self._parent = parent
        self._kind = kind
        self._attributes = attributes
        self._plain = all([type(value) in _PLAIN or _plain(value) for value in attributes.values()])
        self._events: list[Event] = []
        self._status = _UNSET
        self._start = time_ns()
        self._end: int | None = None

    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return self._end is None

    def set_attribute(self, key: str, value: types.AttributeValue) -> None:
        if self._end is not None:
            _log.warning("Setting attribute on ended span.")
            return
        self._plain = self._plain and _plain(value)
        self._attributes.pop(key, None)
        self._attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, types.AttributeValue]) -> None:
        if self._end is not None:
            _log.warning("Setting attribute on ended span.")
            return
        if self._plain and not all([type(value) in _PLAIN or _plain(value) for value in attributes.values()]):
            self._plain = False
        own = self._attributes
        if own.keys().isdisjoint(attributes):  # the usual case: new names, appended in their order
            own.update(attributes)
            return
        for key, value in attributes.items():
            own.pop(key, None)
            own[key] = value

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        # The SDK's rules: OK is final, UNSET is never set, a description only with a StatusCode.
        if self._end is not None:
            _log.warning("Setting status on ended span.")
            return
        code = status.status_code if isinstance(status, Status) else status
        if self._status.status_code is StatusCode.OK or code is StatusCode.UNSET:
            return
        self._status = status if isinstance(status, Status) else Status(status, description)

    def add_event(self, name: str, attributes: types.Attributes = None, timestamp: int | None = None) -> None:
        if self._end is not None:
            _log.warning("Calling add_event on an ended span.")
            return
        limits = self._spans.limits
        cleaned = BoundedAttributes(
            limits.max_event_attributes, attributes, max_value_len=limits.max_attribute_length
        )
        self._events.append(Event(name, cleaned, timestamp if timestamp is not None else time_ns()))

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        raise NotImplementedError("the gateway's spans take no links")

    def update_name(self, name: str) -> None:
        if self._end is None:
            self._name = name

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        raise NotImplementedError("the gateway's spans record an error's kind, never its text")

    def end(self, end_time: int | None = None) -> None:
        if self._end is not None:
            _log.warning("Calling end() on an ended span.")
            return
        self._end = end_time if end_time is not None else time_ns()
        spans = self._spans
        attributes: Any = self._attributes
        limits = spans.limits
        most = limits.max_span_attributes
        if not self._plain or spans.cut_values or (most is not None and len(attributes) > most):
            attributes = BoundedAttributes(most, attributes, immutable=True,
                                           max_value_len=limits.max_attribute_length)  # fmt: skip
        ended = ReadableSpan(
            name=self._name,
            context=self._context,
            parent=self._parent,
            resource=spans.resource,
            attributes=attributes,
            events=tuple(self._events),
            links=(),
            kind=self._kind,
            status=self._status,
            start_time=self._start,
            end_time=self._end,
            instrumentation_scope=spans.scope,
        )
        if spans._told is not getattr(spans.processor, "_span_processors", None):
            spans._learn_processors()
        for each in spans.ending:
            each._on_ending(self)  # type: ignore[arg-type]
        for each in spans.ended:
            each.on_end(ended)

    def __repr__(self) -> str:
        return f"CallSpan({self._name!r}, {self._context!r})"

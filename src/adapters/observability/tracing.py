"""OpenTelemetry tracing: the tracer provider, its exporters and what counts their losses.

On only when configured (`litellm_settings.callbacks` names `otel` or `langfuse`, or
`OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set); off, nothing here is
imported. Spans leave through batch span processors, each with an exporter of its own, on the SDK's
worker threads: a call never waits for an export, and a collector that is down or slow only costs the
spans it could not take, counted (`Tracing.dropped`).

The standard `OTEL_*` variables configure it as they do any OpenTelemetry SDK: protocol
(`OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL`, `http/protobuf` by default, or `grpc`), endpoint, headers,
timeout, compression, `OTEL_SERVICE_NAME` (default `switchyard`), `OTEL_RESOURCE_ATTRIBUTES`, the sampler
(`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`) and the batch processor's `OTEL_BSP_*`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence

import structlog
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Tracer
from opentelemetry.util.re import parse_env_headers

from adapters.config.tracing import TracingSettings
from adapters.observability.call_spans import CallSpans
from domain.errors import ConfigurationError

_log = structlog.get_logger("switchyard.tracing")
_NOISY = ("opentelemetry.exporter", "opentelemetry.sdk._shared_internal")
"""The SDK's loggers that speak per failed batch or dropped span; the counts and a line per outage say it."""
SCHEMA_URL = "https://opentelemetry.io/schemas/1.44.0"
"""The semantic conventions the spans follow (the `gen_ai.*` attributes as of 1.44.0)."""


class Tracing:
    """The tracer of the gateway's spans and the processors that export them. `close` exports what is
    left, within a few seconds, and stops the exporters."""

    def __init__(
        self, provider: TracerProvider, counters: Sequence[CountedExporter], capture_content: bool
    ) -> None:
        self.provider = provider
        self.tracer: Tracer = provider.get_tracer("switchyard", schema_url=SCHEMA_URL)
        self.spans = CallSpans(self.tracer)  # type: ignore[arg-type]
        """What the gateway's spans are started with (the tracer's, built once: see call_spans.py)."""
        self.capture_content = capture_content
        self._counters = tuple(counters)

    @property
    def exported(self) -> int:
        return sum(counter.exported for counter in self._counters)

    @property
    def dropped(self) -> int:
        """Spans lost: refused by a full queue or by an export that failed."""
        return sum(counter.dropped for counter in self._counters)

    def close(self) -> None:
        self.provider.force_flush(timeout_millis=3000)
        self.provider.shutdown()


def open_tracing(
    settings: TracingSettings, environ: Mapping[str, str], exporters: Sequence[SpanExporter] = ()
) -> Tracing:
    """The tracer provider for `settings`; `exporters` replace the configured ones (tests)."""
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    resource = Resource.create({SERVICE_NAME: environ.get("OTEL_SERVICE_NAME") or "switchyard"})
    provider = TracerProvider(resource=resource)  # the sampler: OTEL_TRACES_SAMPLER, else parent-based
    counters = []
    for exporter in list(exporters) or _configured_exporters(settings, environ):
        counted = CountedExporter(exporter)
        counters.append(counted)
        capacity = _number(environ, "OTEL_BSP_MAX_QUEUE_SIZE", 2048)
        batched = BatchSpanProcessor(
            counted,
            max_queue_size=capacity,
            schedule_delay_millis=_number(environ, "OTEL_BSP_SCHEDULE_DELAY", 5000),
            max_export_batch_size=min(_number(environ, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512), capacity),
        )
        provider.add_span_processor(_QueueWatch(batched, counted, capacity))
    return Tracing(provider, counters, settings.capture_content)


def _configured_exporters(settings: TracingSettings, environ: Mapping[str, str]) -> list[SpanExporter]:
    """The OTLP exporter the `OTEL_EXPORTER_OTLP_*` variables describe (endpoint, headers and timeout
    read from `environ`, which holds the config's `environment_variables` too; certificates and
    compression as the SDK reads them), and Langfuse's."""
    chosen: list[SpanExporter] = []
    if settings.otlp:
        protocol = _setting(environ, "PROTOCOL") or "http/protobuf"
        endpoint = environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        base = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        headers = dict(parse_env_headers(_setting(environ, "HEADERS") or "", liberal=True))
        timeout = _seconds(_setting(environ, "TIMEOUT"))
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Grpc

            chosen.append(Grpc(endpoint=endpoint or base, headers=headers or None, timeout=timeout))
        elif protocol == "http/protobuf":
            from adapters.observability.otlp_wire import OtlpHttpSpanExporter as Http

            if endpoint is None and base:
                endpoint = base.rstrip("/") + "/v1/traces"
            chosen.append(Http(endpoint=endpoint, headers=headers or None, timeout=timeout))
        else:
            raise ConfigurationError(
                "OTEL_EXPORTER_OTLP_PROTOCOL", f"unsupported protocol {protocol!r}; use http/protobuf or grpc"
            )
    if settings.langfuse_host is not None:
        from adapters.observability.otlp_wire import OtlpHttpSpanExporter as Http

        langfuse = f"{settings.langfuse_host}/api/public/otel/v1/traces"
        chosen.append(Http(endpoint=langfuse, headers={"Authorization": settings.langfuse_auth or ""}))
    return chosen


def _setting(environ: Mapping[str, str], name: str) -> str | None:
    """`OTEL_EXPORTER_OTLP_TRACES_<name>`, else `OTEL_EXPORTER_OTLP_<name>`."""
    value = environ.get(f"OTEL_EXPORTER_OTLP_TRACES_{name}") or environ.get(f"OTEL_EXPORTER_OTLP_{name}")
    return value.strip() if value else None


def _seconds(millis: str | None) -> float | None:
    """The variables give timeouts in milliseconds; the exporters take seconds."""
    try:
        return float(millis) / 1000 if millis else None
    except ValueError:
        return None


def _number(environ: Mapping[str, str], name: str, default: int) -> int:
    try:
        value = int(environ.get(name) or default)
    except ValueError:
        return default
    return value if value > 0 else default


class CountedExporter(SpanExporter):
    """An exporter that counts the spans it was handed and those it failed to deliver."""

    def __init__(self, inner: SpanExporter) -> None:
        self._inner = inner
        self._name = type(inner).__module__
        self._failing = False
        self._lock = threading.Lock()
        self.taken = 0
        self.exported = 0
        self.dropped = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            self.taken += len(spans)
        try:
            result = self._inner.export(spans)
        except Exception:
            result = SpanExportResult.FAILURE
        with self._lock:
            if result is SpanExportResult.SUCCESS:
                self.exported += len(spans)
            else:
                self.dropped += len(spans)
        failing = result is not SpanExportResult.SUCCESS
        if failing != self._failing:  # said once per outage, and once when it is over
            self._failing = failing
            if failing:
                _log.warning("span export failing; spans are dropped and counted", exporter=self._name)
            else:
                _log.info("span export recovered", exporter=self._name, dropped=self.dropped)
        return result

    def lost(self, count: int) -> None:
        with self._lock:
            self.dropped += count

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class _QueueWatch(SpanProcessor):
    """The batch processor, with the spans its full queue pushes out counted: spans ended and not yet
    handed to the exporter are what the queue holds."""

    def __init__(self, inner: BatchSpanProcessor, counted: CountedExporter, capacity: int) -> None:
        self._inner = inner
        self._counted = counted
        self._capacity = capacity
        self._ended = 0
        self._lost = 0

    def on_end(self, span: ReadableSpan) -> None:
        self._ended += 1
        if self._ended - self._counted.taken - self._lost > self._capacity:  # the oldest gives way
            self._lost += 1
            self._counted.lost(1)
        self._inner.on_end(span)

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)

"""The server span of each HTTP request, and the call's own facts written onto it once the call ends.

The span continues the client's trace when the request carries a W3C `traceparent` (the propagators
are OpenTelemetry's, `OTEL_PROPAGATORS`: tracecontext and baggage by default); the upstream attempts'
spans are its children. Probes and `/metrics` are not traced.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from opentelemetry import context, propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import Getter, TextMapPropagator
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from adapters.observability.tracing import Tracing
from domain.spend import SpendRecord
from ports.call_observer import CallObserver

_UNTRACED = frozenset({"/metrics", "/health/liveliness", "/health/readiness"})
_SERVER_SPAN: ContextVar[Span | None] = ContextVar("switchyard_server_span", default=None)


class _Headers(Getter[list[tuple[bytes, bytes]]]):
    """Reads a propagation header off the raw ASGI header list."""

    def get(self, carrier: list[tuple[bytes, bytes]], key: str) -> list[str] | None:
        wanted = key.lower().encode("latin-1")
        found = [value.decode("latin-1") for name, value in carrier if name == wanted]
        return found or None

    def keys(self, carrier: list[tuple[bytes, bytes]]) -> list[str]:
        return [name.decode("latin-1") for name, _ in carrier]


_GETTER = _Headers()
_W3C_READS = frozenset({b"traceparent", b"baggage"})
"""The only headers the default propagators (tracecontext, then baggage) read."""
_w3c_only: tuple[TextMapPropagator | None, bool] = (None, False)


def _parent(headers: list[tuple[bytes, bytes]]) -> Context:
    """`propagate.extract` of the request's headers. With the default propagators and neither of the
    headers they read, that is an empty context (tracecontext starts one, baggage passes it on): said
    here without a lookup of each header by each propagator."""
    global _w3c_only
    textmap = propagate.get_global_textmap()
    if _w3c_only[0] is not textmap:
        _w3c_only = (textmap, _default_w3c(textmap))
    if _w3c_only[1]:
        for name, _ in headers:
            if name in _W3C_READS:
                break
        else:
            return Context()
    return propagate.extract(headers, getter=_GETTER)


def _default_w3c(textmap: TextMapPropagator) -> bool:
    """Whether `textmap` is tracecontext followed by nothing but baggage (OTEL_PROPAGATORS' default)."""
    found = getattr(textmap, "_propagators", None) if type(textmap) is CompositePropagator else None
    return (
        isinstance(found, list | tuple)
        and len(found) > 0
        and type(found[0]) is TraceContextTextMapPropagator
        and all(type(each) is W3CBaggagePropagator for each in found[1:])
    )


def server_spans(tracing: Callable[[], Tracing]) -> Callable[[ASGIApp], ASGIApp]:
    """The ASGI middleware opening a SERVER span for each request (`{method} {route}`), current while
    the request is served, a streamed reply's last byte included. `tracing` hands over the running
    gateway's tracing (it exists once the app has started)."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def traced(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope["path"] in _UNTRACED:
                await app(scope, receive, send)
                return
            parent = _parent(scope["headers"])
            route = scope.get("path_template") or scope["path"]  # type: ignore[typeddict-item]
            method = scope["method"]
            attributes = {"http.request.method": method, "http.route": route}
            span = tracing().spans.start(f"{method} {route}", parent, SpanKind.SERVER, attributes)
            attached = context.attach(trace.set_span_in_context(span, parent))
            current = _SERVER_SPAN.set(span)
            status = 0

            async def sending(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await app(scope, receive, sending)
            except BaseException as exc:
                span.set_attribute("error.type", type(exc).__qualname__)
                span.set_status(Status(StatusCode.ERROR))
                raise
            finally:
                if status:
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_attribute("error.type", str(status))
                        span.set_status(Status(StatusCode.ERROR))
                span.end()
                _SERVER_SPAN.reset(current)
                context.detach(attached)

        return traced

    return middleware


class SpanAnnotator(CallObserver):
    """Writes each finished call's facts onto its request's server span: which call (its id, type and
    model group), who (key alias, else its `sk-...abcd` name; team, user), how (retries, fallbacks, a
    cache hit, the error's kind) and what it cost. A call outside a traced request (the library) has
    no server span: nothing."""

    def call_ended(self, record: SpendRecord) -> None:
        span = _SERVER_SPAN.get()
        if span is None or not span.is_recording():
            return
        caller = record.caller
        # What the attempt spans do not say already; unset and zero values left out (each attribute
        # costs on the request path and again when exported).
        attributes: dict[str, Any] = {
            "switchyard.call_id": record.request_id,
            "switchyard.call_type": record.call_type,
            "switchyard.model_group": record.model_group,
        }
        for name, value in (
            ("switchyard.key_alias", caller.key_alias),
            ("switchyard.key_name", None if caller.key_alias else caller.key_name),
            ("switchyard.team_id", caller.team_id),
            ("switchyard.user_id", caller.user_id),
            ("switchyard.organization_id", caller.organization_id),
            ("switchyard.end_user", caller.end_user),
            ("switchyard.retries", record.retries),
            ("switchyard.fallbacks", record.fallbacks),
            ("switchyard.cache_hit", record.cache_hit),
            ("switchyard.error_type", record.error_type),
        ):
            if value:
                attributes[name] = value
        if record.cost is not None:  # a free call says so; an unpriced one says nothing
            attributes["switchyard.cost"] = float(record.cost)
        span.set_attributes(attributes)

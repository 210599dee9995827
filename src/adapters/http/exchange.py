"""What every API handler does around its use case: read the JSON body, stamp the headers, render errors."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from decimal import Decimal
from time import perf_counter
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

import orjson
from litestar import Response
from prometheus_client import Gauge
from structlog.contextvars import bind_contextvars

from adapters.call_ids import new_call_id
from adapters.http.auth import rate_limit_headers
from adapters.http.errors import error_response
from adapters.http.principal import principal_of
from adapters.http.sse import ByteStream
from adapters.observability.key_metrics import KeyMetrics
from application.access import Gatekeeper, Ticket, caller_of
from application.completions import Completions, Served
from application.responses import Responses
from application.token_counting import TokenCounting
from domain.audio import SpeechRequest, TranscriptionRequest
from domain.completions import CompletionRequest
from domain.embeddings import EmbeddingRequest
from domain.errors import BadRequestError, SwitchyardError
from domain.images import ImageRequest
from domain.moderation import ModerationRequest
from domain.rerank import RerankRequest
from domain.spend import Caller

JSON = "application/json"


class HttpRequest(Protocol):
    """A request as the API handlers read it: the raw ASGI scope and the body. Litestar's `Request` is
    one; the inference lane (`adapters.http.lane`) builds a lighter one for the routes it answers."""

    @property
    def scope(self) -> Any: ...

    async def body(self) -> bytes: ...


@dataclasses.dataclass(frozen=True, slots=True)
class Inference:
    """What the inference routes use, as one dependency: Litestar resolves two or more dependencies of a
    handler in a task group per request, which costs a call more than the rest of its routing."""

    completions: Completions
    gatekeeper: Gatekeeper
    token_counting: TokenCounting
    responses: Responses
    in_flight: Gauge | None = None
    """The calls being answered, counted by `exchange` (None: metrics are off)."""
    key_metrics: KeyMetrics | None = None
    """Told of each admitted call (only with `prometheus_key_metrics`)."""
    max_audio_upload_bytes: int = 25 * 1024 * 1024
    """The largest audio file a transcription may upload."""


def public_url(url: str | None) -> str | None:
    """A configured URL as it may be shown: without user info, query or fragment (where a credential
    could hide)."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


Asked = TypeVar(
    "Asked",
    CompletionRequest,
    EmbeddingRequest,
    ModerationRequest,
    RerankRequest,
    ImageRequest,
    TranscriptionRequest,
    SpeechRequest,
)
T = TypeVar("T")


def with_header_tags(asked: Asked, request: HttpRequest) -> Asked:
    """Routing tags may come as the `x-switchyard-tags` header (comma-separated) as well as in the body,
    and cache controls as the `Cache-Control` header as well as the body's `cache`."""
    # Read off the raw ASGI headers: building Litestar's header mapping costs more than this whole check.
    tags = cache_control = None
    for name, value in request.scope["headers"]:
        if name == b"x-switchyard-tags":
            tags = value
        elif name == b"cache-control":
            cache_control = value
    if not tags and not cache_control:
        return asked
    controls = dict(asked.controls)
    if tags:
        controls["tags"] = [tag.strip() for tag in tags.decode("latin-1").split(",") if tag.strip()]
    if cache_control:
        controls["cache_control_header"] = cache_control.decode("latin-1")
    return dataclasses.replace(asked, controls=controls)


async def read_json(request: HttpRequest) -> object:
    body = await request.body()
    if not body:
        raise BadRequestError("The request body is empty; send a JSON object.", code="invalid_json")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequestError(f"The request body is not valid JSON: {exc}", code="invalid_json") from exc


def served_headers(call_id: str, served: Served[object], started: float) -> dict[str, str]:
    overhead_ms = (perf_counter() - started - served.upstream_seconds) * 1000
    headers = {
        "x-switchyard-call-id": call_id,
        "x-switchyard-model-id": served.deployment.id,
        "x-switchyard-overhead-duration-ms": f"{max(overhead_ms, 0.0):.3f}",
        "x-switchyard-attempted-retries": str(served.retries),
        "x-switchyard-attempted-fallbacks": str(served.fallbacks),
    }
    if served.cache_key is not None:
        headers["x-switchyard-cache-key"] = served.cache_key
    if served.cache_hit:
        headers["x-switchyard-cache-hit"] = "true"
        if served.similarity is not None:
            headers["x-switchyard-cache-similarity"] = f"{served.similarity:.4f}"
    if served.dropped_params:
        headers["x-switchyard-dropped-params"] = ",".join(served.dropped_params)
    if served.cost is not None:
        headers["x-switchyard-response-cost"] = money_text(served.cost.total)
        headers["x-switchyard-response-cost-input"] = money_text(served.cost.input)
        headers["x-switchyard-response-cost-output"] = money_text(served.cost.output)
    return headers


def money_text(amount: Decimal) -> str:
    """USD as a plain decimal number, exact, without trailing zeros or an exponent (`0.00042`)."""
    text = format(amount, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def money_json(amount: Decimal) -> orjson.Fragment:
    """USD as an exact JSON number for orjson to write as it is (a float would round a long decimal)."""
    return orjson.Fragment(money_text(amount).encode())


def answered(call_id: str, served: Served[object], started: float, ticket: Ticket) -> dict[str, str]:
    """The headers of a served call: the gateway's own and the caller's rate-limit standing."""
    headers = served_headers(call_id, served, started)
    headers.update(rate_limit_headers(ticket))
    return headers


async def released_on_failure(ticket: Ticket, call: Awaitable[Served[T]]) -> Served[T]:
    """Awaits `call`; when it fails, the ticket's slots are given back at once (and its budget
    reservation settled at no cost)."""
    try:
        return await call
    except BaseException:
        ticket.release()
        raise


async def admitted(
    inference: Inference,
    request: HttpRequest,
    asked: CompletionRequest
    | EmbeddingRequest
    | ModerationRequest
    | RerankRequest
    | ImageRequest
    | TranscriptionRequest
    | SpeechRequest,
    end_user: str | None,
    *,
    call_id: str,
    call_type: str,
) -> Ticket:
    """The call admitted for the request's caller. A refusal (a model the caller may not use, a spent
    budget, a rate limit) is recorded in the spend ledger like any failed call, then raised."""
    principal = principal_of(request)
    try:
        ticket = await inference.gatekeeper.admit(
            principal, asked.model, end_user, request=asked, call_id=call_id
        )
    except SwitchyardError as exc:
        caller = caller_of(principal, end_user)
        await inference.completions.refused(asked, exc, call_id=call_id, caller=caller, call_type=call_type)
        raise
    if inference.key_metrics is not None:
        inference.key_metrics.admitted(principal, ticket)
    return ticket


def tokens_of(usage: Any) -> int:
    return usage.total_tokens if usage is not None else 0


def release_served(ticket: Ticket, served: Served[Any]) -> None:
    """Gives the ticket back once the call is answered, charged with what it spent: its tokens and
    cost, or nothing for an answer from the cache."""
    value = served.value
    ticket.release(0 if served.cache_hit else tokens_of(value.usage), value.cost)


async def whole_reply(
    inference: Inference,
    request: HttpRequest,
    asked: Asked,
    end_user: str | None,
    *,
    call_id: str,
    started: float,
    call_type: str,
    call: Callable[[Ticket], Awaitable[Served[T]]],
    render: Callable[[T], object],
) -> Response:
    """A call answered with one JSON body: admitted, made (`call(ticket)`), its ticket released with what
    it spent, and its reply rendered with the gateway's headers."""
    served, headers = await admitted_call(
        inference, request, asked, end_user, call_id=call_id, started=started, call_type=call_type, call=call
    )
    return Response(orjson.dumps(render(served.value)), media_type=JSON, headers=headers)


async def admitted_call(
    inference: Inference,
    request: HttpRequest,
    asked: Asked,
    end_user: str | None,
    *,
    call_id: str,
    started: float,
    call_type: str,
    call: Callable[[Ticket], Awaitable[Served[T]]],
) -> tuple[Served[T], dict[str, str]]:
    """A call admitted, made (`call(ticket)`) and its ticket released with what it spent: the served
    call and the headers of its answer."""
    ticket = await admitted(inference, request, asked, end_user, call_id=call_id, call_type=call_type)
    served = await released_on_failure(ticket, call(ticket))
    release_served(ticket, served)
    return served, answered(call_id, served, started, ticket)


async def served_json(
    request: HttpRequest,
    inference: Inference,
    parse: Callable[[object], Asked],
    call_type: str,
    use: Callable[[Asked, str, Caller], Awaitable[Served[T]]],
    render: Callable[[T], object],
) -> Response:
    """A whole route of one call answered with one JSON body: the body parsed, the call admitted and
    made (`use(asked, call_id, caller)`), its reply rendered; errors answered in OpenAI's shape."""

    async def handle(body: object, call_id: str, started: float) -> Response:
        asked = with_header_tags(parse(body), request)
        return await whole_reply(
            inference, request, asked, None, call_id=call_id, started=started, call_type=call_type,
            call=lambda ticket: use(asked, call_id, ticket.caller), render=render,
        )  # fmt: skip

    return await exchange(request, handle, inference.in_flight)


Handle = Callable[[object, str, float], Awaitable[Response]]


async def exchange(
    request: HttpRequest,
    handle: Handle,
    in_flight: Gauge | None = None,
    read: Callable[[HttpRequest], Awaitable[object]] = read_json,
) -> Response:
    """Runs `handle(body, call_id, started)`, the body as `read` gets it (JSON, else a route's own);
    any Switchyard error becomes its answer in the route's format
    (OpenAI's, or Anthropic's on /v1/messages), carrying the call id so that a client can quote it. The
    answer echoes the request id: the client's `x-request-id`, else the call id. A call route passes its
    `in_flight` gauge: up while the call is answered (a stream until its end)."""
    if in_flight is None:
        return await _exchange(request, handle, read)
    in_flight.inc()
    try:
        response = await _exchange(request, handle, read)
    except BaseException:
        in_flight.dec()
        raise
    if isinstance(response, ByteStream):
        response.on_end = in_flight.dec
    else:
        in_flight.dec()
    return response


async def _exchange(
    request: HttpRequest, handle: Handle, read: Callable[[HttpRequest], Awaitable[object]]
) -> Response:
    started = perf_counter()
    call_id = new_call_id()
    request_id = request_id_of(request) or call_id
    # On every line logged while this call runs (each request is a task of its own: nothing leaks).
    bind_contextvars(request_id=request_id)
    try:
        response = await handle(await read(request), call_id, started)
    except SwitchyardError as exc:
        response = error_response(exc, {"x-switchyard-call-id": call_id}, path=request.scope["path"])
    response.headers["x-request-id"] = request_id
    return response


def request_id_of(request: HttpRequest) -> str | None:
    """The client's own `x-request-id`, when it sent one (printable and at most 200 characters)."""
    # Read off the raw ASGI headers: building Litestar's header mapping costs more than this.
    for name, value in request.scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1").strip()
            return text if 0 < len(text) <= 200 and text.isprintable() else None
    return None

"""POST /v1/responses and the stored responses under it: OpenAI's Responses API, for every model.

The same use case as /v1/chat/completions, rendered in the Responses format; a request routed to a
deployment that speaks the Responses API itself goes through as the client sent it (see
`domain.completions.NativeRequest`). What `store: true` keeps is `application.responses`' to look after.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

import orjson
from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from adapters.http.exchange import (
    JSON,
    HttpRequest,
    Inference,
    admitted,
    answered,
    exchange,
    release_served,
    released_on_failure,
    with_header_tags,
)
from adapters.http.principal import principal_of
from adapters.http.sse import EventStream
from adapters.responses_format import (
    ResponsesCall,
    completion_request,
    failed_response,
    parse_responses_request,
    pending_response,
    render_response,
    response_events,
    visible,
)
from application.access import Ticket
from application.completions import Served
from domain.access import Principal
from domain.completions import CompletionRequest, CompletionResponse
from domain.errors import BadRequestError, SwitchyardError
from domain.responses import Item, StoredResponse
from ports.llm_provider import ChunkStream


class ResponsesController(Controller):
    @post(["/v1/responses", "/responses"], status_code=200)
    async def create(self, request: Request, inference: NamedDependency[Inference]) -> Response:
        return await create_response(request, inference)

    @post(["/v1/responses/input_tokens", "/responses/input_tokens"], status_code=200)
    async def input_tokens(self, request: Request, inference: NamedDependency[Inference]) -> Response:
        async def handle(body: object, call_id: str, started: float) -> Response:
            call = parse_responses_request(body)
            principal = principal_of(request)
            # Counting calls no model, but who may not use a model may not probe it either.
            await inference.gatekeeper.check_model(principal, call.model)
            history = await inference.responses.thread(call.previous_response_id, principal)
            tokens = await inference.token_counting.count(completion_request(call, history))
            answer = {"object": "response.input_tokens", "input_tokens": tokens}
            return Response(orjson.dumps(answer), media_type=JSON, headers={"x-switchyard-call-id": call_id})

        return await exchange(request, handle)


async def create_response(request: HttpRequest, inference: Inference) -> Response:
    """POST /v1/responses, as Litestar routes it and as the inference lane does."""

    async def handle(body: object, call_id: str, started: float) -> Response:
        call = parse_responses_request(body)
        principal = principal_of(request)
        if call.background and not call.store:
            raise BadRequestError("background responses need store: true.", param="background")
        if call.background and call.stream:
            raise BadRequestError(
                "streaming a background response is not supported; poll GET /v1/responses/{id}.",
                param="stream",
            )
        history = await inference.responses.thread(call.previous_response_id, principal)
        asked = with_header_tags(completion_request(call, history), request)
        call_type = "responses.stream" if call.stream else "responses"
        ticket = await admitted(
            inference, request, asked, asked.params.user, call_id=call_id, call_type=call_type
        )
        turn = _Turn(inference, principal, call, asked, call_id, call_type)
        if call.background:
            return await turn.in_background(ticket)
        if call.stream:
            opened = await released_on_failure(ticket, turn.stream(ticket))
            events = response_events(
                ticket.guard(opened.value),
                call,
                response_id=turn.id,
                created_at=turn.created_at,
                finished=lambda final: turn.keep(final, opened),
            )
            return EventStream(events, answered(call_id, opened, started, ticket))
        served = await released_on_failure(ticket, turn.chat(ticket))
        release_served(ticket, served)
        final = turn.rendered(served.value)
        await turn.keep(final, served)
        headers = answered(call_id, served, started, ticket)
        return Response(orjson.dumps(visible(final, call.include)), media_type=JSON, headers=headers)

    return await exchange(request, handle, inference.in_flight)


class _Turn:
    """One create call: its id, its use-case calls, and what `store: true` keeps of it."""

    __slots__ = ("asked", "call", "call_id", "call_type", "created_at", "id", "inference", "principal")

    def __init__(
        self,
        inference: Inference,
        principal: Principal,
        call: ResponsesCall,
        asked: CompletionRequest,
        call_id: str,
        call_type: str,
    ) -> None:
        self.inference = inference
        self.principal = principal
        self.call = call
        self.asked = asked
        self.call_id = call_id
        self.call_type = call_type
        self.id = inference.responses.new_id()
        self.created_at = int(inference.responses.now().timestamp())

    def chat(self, ticket: Ticket) -> Awaitable[Served[CompletionResponse]]:
        return self.inference.completions.chat(
            self.asked, call_id=self.call_id, caller=ticket.caller, call_type=self.call_type
        )

    def stream(self, ticket: Ticket) -> Awaitable[Served[ChunkStream]]:
        return self.inference.completions.stream(
            self.asked, call_id=self.call_id, caller=ticket.caller, call_type=self.call_type
        )

    def rendered(self, reply: CompletionResponse) -> dict[str, Any]:
        return render_response(reply, self.call, response_id=self.id, created_at=self.created_at)

    def record(self, body: Item, served: Served[Any] | None) -> StoredResponse:
        call = self.call
        # A reply a Responses-API upstream gave natively keeps the upstream's own id; the upstream saw
        # the conversation inline, so the link to the response it continues is the gateway's to note.
        id = str(body.get("id") or self.id)
        if id != self.id and call.previous_response_id and not body.get("previous_response_id"):
            body = {**body, "previous_response_id": call.previous_response_id}
        return self.inference.responses.record(
            id=id,
            principal=self.principal,
            model=call.model,
            input_items=call.input_items,
            body=body,
            previous_response_id=call.previous_response_id,
            deployment_id=served.deployment.id if served is not None else None,
            native=id != self.id,
        )

    async def keep(self, final: Item, served: Served[Any]) -> None:
        if self.call.store:
            await self.inference.responses.keep(self.record(final, served))

    async def in_background(self, ticket: Ticket) -> Response:
        call = self.call
        queued = self.record(
            pending_response(call, response_id=self.id, created_at=self.created_at, status="queued"), None
        )

        async def work(running: StoredResponse) -> StoredResponse:
            try:
                served = await self.chat(ticket)
            except SwitchyardError as exc:
                ticket.release()
                failed = failed_response(call, response_id=self.id, created_at=self.created_at, error=exc)
                return self.record(failed, None)
            except BaseException:
                ticket.release()
                raise
            release_served(ticket, served)
            final = self.rendered(served.value)
            # The client polls the id it was given, whoever answered: a native upstream's reply too.
            return self.record({**final, "id": self.id}, served)

        await self.inference.responses.start(queued, work)
        return Response(
            orjson.dumps(visible(queued.body, call.include)),
            media_type=JSON,
            headers={"x-switchyard-call-id": self.call_id},
        )


class StoredResponsesController(Controller):
    """Retrieval, deletion, input items and cancellation of responses kept with `store: true`."""

    path = "/v1/responses/{response_id:str}"

    @get("", status_code=200)
    async def retrieve(
        self, request: Request, response_id: FromPath[str], inference: NamedDependency[Inference]
    ) -> Response:
        if request.query_params.get("stream") in ("true", "1"):
            raise BadRequestError("streaming a stored response is not supported.", param="stream")
        found = await inference.responses.get(response_id, principal_of(request))
        return _json(visible(found.body, _include(request)))

    @delete("", status_code=200)
    async def remove(
        self, request: Request, response_id: FromPath[str], inference: NamedDependency[Inference]
    ) -> Response:
        await inference.responses.delete(response_id, principal_of(request))
        return _json({"id": response_id, "object": "response.deleted", "deleted": True})

    @get("/input_items", status_code=200)
    async def input_items(
        self, request: Request, response_id: FromPath[str], inference: NamedDependency[Inference]
    ) -> Response:
        found = await inference.responses.get(response_id, principal_of(request))
        return _json(_items_page(found.input_items, request.query_params))

    @post("/cancel", status_code=200)
    async def cancel(
        self, request: Request, response_id: FromPath[str], inference: NamedDependency[Inference]
    ) -> Response:
        cancelled = await inference.responses.cancel(response_id, principal_of(request))
        return _json(visible(cancelled.body, _include(request)))


def _json(body: Mapping[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type=JSON)


def _include(request: Request) -> list[str]:
    params = request.query_params
    return [*params.getall("include", []), *params.getall("include[]", [])]


def _items_page(items: tuple[Item, ...], query: Any) -> dict[str, Any]:
    """OpenAI's list of input items: newest first unless `order=asc`, `limit` (1 to 100, default 20)
    after the item `after`."""
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise BadRequestError("order must be 'asc' or 'desc'.", param="order")
    try:
        limit = int(query.get("limit", 20))
    except ValueError:
        raise BadRequestError("limit must be a whole number.", param="limit") from None
    if not 1 <= limit <= 100:
        raise BadRequestError("limit must be between 1 and 100.", param="limit")
    ordered = list(items) if order == "asc" else list(reversed(items))
    after = query.get("after")
    if after is not None:
        at = next((index for index, item in enumerate(ordered) if item.get("id") == after), None)
        if at is None:
            raise BadRequestError(f"No input item with id '{after}'.", param="after")
        ordered = ordered[at + 1 :]
    page = ordered[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0].get("id") if page else None,
        "last_id": page[-1].get("id") if page else None,
        "has_more": len(ordered) > limit,
    }

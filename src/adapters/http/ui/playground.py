"""The Playground page (/ui/playground): chat with any model the visitor may use, through the same
`Inference` service and chat use case as POST /v1/chat/completions, as the visitor's caller (their key's
model list, rate limits, budgets and spend ledger apply exactly as on the API).

The conversation lives in the page (a hidden JSON field), not on the server. With JavaScript,
static/playground.js posts the form to /ui/playground/chat and renders the SSE reply as it streams;
without it, the form posts to /ui/playground and the page comes back with the whole reply."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Mapping
from math import ceil
from typing import Any, TypeVar

import orjson
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency

from adapters.http.controllers.models import usable_groups
from adapters.http.exchange import JSON, Inference, admitted, admitted_call, exchange, released_on_failure
from adapters.http.principal import PRINCIPAL
from adapters.http.sse import EventStream, sse_events
from adapters.http.ui.forms import form_text
from adapters.http.ui.pages import PREFIX, Visit, render
from adapters.openai_format import parse_chat_request, render_response
from application.access import Ticket
from application.catalog import ModelCatalog
from application.completions import Served
from domain.budgets import BudgetExceededError
from domain.completions import CompletionResponse
from domain.errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    SwitchyardError,
)

_PAGE = f"{PREFIX}/playground"
_FIELDS = ("model", "system", "temperature", "max_tokens", "tools", "tool_choice", "message")
"""The form's fields, named as the chat request names them, so that a refusal whose `param` is one of
them (or starts with one, `tools[0].function.name`) is shown next to it."""
_ROLES = ("user", "assistant")
T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class ToolCallShown:
    name: str
    arguments: str


@dataclasses.dataclass(frozen=True, slots=True)
class Turn:
    """One message of the conversation as the page shows it (and keeps it, as JSON)."""

    role: str
    content: str
    tool_calls: tuple[ToolCallShown, ...] = ()

    def as_message(self) -> dict[str, str]:
        """The turn sent back to the model on the next call: a tool call is told as text, since the
        playground runs no tools and so has no tool result to answer it with."""
        calls = "; ".join(f"Called {call.name}({call.arguments})" for call in self.tool_calls)
        return {"role": self.role, "content": "\n".join(part for part in (self.content, calls) if part)}


def _parsed(text: str, field: str, parse: Callable[[str], T], kind: str) -> T:
    try:
        return parse(text)
    except ValueError:
        raise BadRequestError(f"{field} must be {kind}.", param=field) from None


def conversation(form: FormMultiDict) -> list[Turn]:
    """The turns kept in the page so far; a field that is not what the page wrote is refused."""
    damaged = BadRequestError("The conversation kept in the page is damaged; start a new one.", param="")
    kept = _parsed(form_text(form, "conversation") or "[]", "conversation", json.loads, "JSON")
    try:
        turns = [
            Turn(
                t["role"],
                t["content"],
                tuple(ToolCallShown(c["name"], c["arguments"]) for c in t["tool_calls"]),
            )
            for t in kept
        ]
    except (TypeError, KeyError):
        raise damaged from None
    if not all(t.role in _ROLES and isinstance(t.content, str) for t in turns):
        raise damaged
    return turns


def chat_body(form: FormMultiDict, *, stream: bool) -> dict[str, Any]:
    """The form as a chat completions request body: the system prompt, the turns so far and the new
    message, with the sampling settings and tools that were filled in."""
    message = form_text(form, "message")
    if not message:
        raise BadRequestError("Write a message to send.", param="message")
    system = form_text(form, "system")
    messages = [{"role": "system", "content": system}] if system else []
    messages += [turn.as_message() for turn in conversation(form)]
    body: dict[str, Any] = {
        "model": form_text(form, "model"),
        "messages": [*messages, {"role": "user", "content": message}],
    }
    if text := form_text(form, "temperature"):
        body["temperature"] = _parsed(text, "temperature", float, "a number")
    if text := form_text(form, "max_tokens"):
        body["max_tokens"] = _parsed(text, "max_tokens", int, "a whole number")
    if text := form_text(form, "tools"):
        body["tools"] = _parsed(text, "tools", json.loads, "a JSON list of tools")
        if choice := form_text(form, "tool_choice"):
            body["tool_choice"] = choice
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


def reply_turn(completion: Mapping[str, Any]) -> Turn:
    """The assistant's turn of a rendered `chat.completion` (the same shape the page's script reads
    from the stream)."""
    message = completion["choices"][0]["message"]
    calls = tuple(
        ToolCallShown(call["function"]["name"], call["function"]["arguments"])
        for call in message.get("tool_calls") or ()
    )
    return Turn("assistant", message.get("content") or "", calls)


_LEADS: tuple[tuple[type[SwitchyardError], str], ...] = (
    (RateLimitError, "Too many requests right now."),
    (BudgetExceededError, "The budget for this is spent."),
    (PermissionDeniedError, "You may not use this model."),
    (AuthenticationError, "Your sign-in is no longer valid."),
    (NotFoundError, "There is no such model."),
)


def plain_words(error: SwitchyardError) -> str:
    """A refusal as the page says it: what happened in plain words, then the gateway's own message."""
    lead = next((lead for kind, lead in _LEADS if isinstance(error, kind)), "")
    if isinstance(error, RateLimitError):
        lead += f" Try again in {ceil(error.retry_after)} s." if error.retry_after else " Try again shortly."
    return f"{lead} {error.message}".strip()


def field_of(error: SwitchyardError) -> str:
    """The form field an error is about ("" for the whole form)."""
    param = error.param or ""
    return next((name for name in _FIELDS if param == name or param.startswith((f"{name}[", f"{name}."))), "")


def _as_caller(request: Request, visit: Visit) -> None:
    """Makes the visitor the request's caller, where the API's auth middleware would have put them:
    the shared call path (`admitted`) then admits and charges them exactly as on the API."""
    request.scope[PRINCIPAL] = visit.principal  # type: ignore[literal-required]


async def _form(request: Request) -> FormMultiDict:
    return await request.form()


class PlaygroundPage(Controller):
    path = _PAGE

    @get("/")
    async def index(
        self, request: Request, visit: NamedDependency[Visit], catalog: NamedDependency[ModelCatalog]
    ) -> Response:
        return _page(request, visit, catalog, {}, [])

    @post("/", status_code=200)
    async def send(
        self,
        request: Request,
        visit: NamedDependency[Visit],
        catalog: NamedDependency[ModelCatalog],
        inference: NamedDependency[Inference],
    ) -> Response:
        """Without JavaScript: the whole reply, in the page with the conversation so far."""
        _as_caller(request, visit)

        async def handle(form: Any, call_id: str, started: float) -> Response:
            try:
                turns = conversation(form)
                answer = await _whole_reply(inference, request, form, call_id, started)
            except SwitchyardError as error:
                return _page(request, visit, catalog, form, _kept(form), error)
            said = Turn("user", form_text(form, "message"))
            return _page(request, visit, catalog, {**dict(form), "message": ""}, [*turns, said, answer])

        return await exchange(request, handle, inference.in_flight, read=_form)

    @post("/chat", status_code=200)
    async def stream(
        self, request: Request, visit: NamedDependency[Visit], inference: NamedDependency[Inference]
    ) -> Response:
        """With JavaScript: the reply as server-sent events (`chat.completion.chunk`s, as the API streams
        them); a refusal before the first event is a JSON error in plain words naming its field."""
        _as_caller(request, visit)

        async def handle(form: Any, call_id: str, started: float) -> Response:
            try:
                asked = parse_chat_request(chat_body(form, stream=True))
                ticket = await admitted(inference, request, asked, None, call_id=call_id, call_type="stream")
                opened = await released_on_failure(
                    ticket,
                    inference.completions.stream(
                        asked, call_id=call_id, caller=ticket.caller, call_type="stream"
                    ),
                )
            except SwitchyardError as error:
                refusal = {"error": {"message": plain_words(error), "param": field_of(error)}}
                return Response(orjson.dumps(refusal), media_type=JSON, status_code=error.status_code)
            return EventStream(sse_events(ticket.guard(opened.value)), {"x-switchyard-call-id": call_id})

        return await exchange(request, handle, inference.in_flight, read=_form)


async def _whole_reply(
    inference: Inference, request: Request, form: FormMultiDict, call_id: str, started: float
) -> Turn:
    asked = parse_chat_request(chat_body(form, stream=False))

    def call(ticket: Ticket) -> Awaitable[Served[CompletionResponse]]:
        return inference.completions.chat(asked, call_id=call_id, caller=ticket.caller)

    served, _ = await admitted_call(
        inference, request, asked, None, call_id=call_id, started=started, call_type="chat", call=call
    )
    return reply_turn(render_response(served.value))


def _kept(form: FormMultiDict) -> list[Turn]:
    """The conversation to show again after a refusal (none, when it is itself what was refused)."""
    try:
        return conversation(form)
    except BadRequestError:
        return []


def _page(
    request: Request,
    visit: Visit,
    catalog: ModelCatalog,
    values: Mapping[str, Any],
    turns: list[Turn],
    error: SwitchyardError | None = None,
) -> Response:
    errors = {field_of(error): plain_words(error)} if error is not None else {}
    context = {
        "models": [group.name for group in usable_groups(catalog, visit.principal)],
        "values": values,
        "errors": errors,
        "turns": turns,
        "kept": json.dumps([dataclasses.asdict(turn) for turn in turns]),
    }
    return render(
        request, "playground.html", context, visit=visit, status=error.status_code if error else 200
    )

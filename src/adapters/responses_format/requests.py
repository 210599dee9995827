"""Client requests to the Responses API (/v1/responses), validated by hand, and the chat request each
stands for once the stored conversation it continues is known."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from adapters.openai_format.validation import bad_request, kind_of
from adapters.openai_format.wire import CONTROL_FIELDS, GatewayFields
from adapters.responses_format.fields import (
    array,
    integer,
    invalid,
    invalid_type,
    missing,
    number,
    obj,
    optional_flag,
    optional_text,
    text,
    unknown_value,
)
from adapters.responses_format.items import (
    Input,
    Piece,
    Reference,
    fold,
    item_piece,
    kind_of_item,
    read_history,
    read_input,
)
from adapters.responses_format.tools import ToolTable, read_tool_choice, read_tools
from domain.completions import CompletionRequest, NativeRequest, ReasoningEffort, SamplingParams
from domain.errors import BadRequestError
from domain.messages import FunctionTool, Message, ResponseFormat, ResponseFormatType, Role, ToolChoice

FORMAT = "responses"
_CONTROLS = frozenset(CONTROL_FIELDS)
_GATEWAY_FIELDS = _CONTROLS | {"mock_response"}
_READ = frozenset(
    {
        "model", "input", "instructions", "tools", "tool_choice", "text", "reasoning", "max_output_tokens",
        "temperature", "top_p", "parallel_tool_calls", "user", "safety_identifier", "metadata",
        "top_logprobs", "stream", "include", "store", "background", "previous_response_id",
    }
) | _GATEWAY_FIELDS  # fmt: skip
# Fields that tune how OpenAI serves or keeps the call, never what the answer may hold (or that the
# gateway serves itself: store, background, previous_response_id): a translation leaves them out.
_HINTS = frozenset(
    {
        "client_metadata", "prompt_cache_key", "service_tier", "truncation", "stream_options",
        "prompt_cache_retention", "prompt_cache_options", "context_management", "max_tool_calls",
        "background_options",
    }
)  # fmt: skip
# What a Responses-API deployment is not sent: the gateway's controls, and the state the gateway keeps.
_NOT_NATIVE = frozenset({"previous_response_id", "background"}) | _GATEWAY_FIELDS
_EFFORTS = {effort.value: effort for effort in ReasoningEffort} | {"max": ReasoningEffort.XHIGH}
_FORMATS = ("text", "json_object", "json_schema")
_NO_PARAMS = SamplingParams()
_SAMPLING = frozenset(
    {
        "reasoning", "user", "safety_identifier", "top_logprobs", "temperature", "top_p", "max_output_tokens",
        "parallel_tool_calls",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Translation:
    """What of the chat request a Responses request stands for depends on the request alone."""

    system: Message | None = None
    input: Input = field(default_factory=Input)
    params: SamplingParams = _NO_PARAMS
    tools: tuple[FunctionTool, ...] = ()
    tool_choice: ToolChoice | None = None
    response_format: ResponseFormat | None = None
    mock_response: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    controls: Mapping[str, Any] = field(default_factory=dict)
    extra_body: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ResponsesCall:
    """A Responses request, read and validated."""

    model: str
    body: Mapping[str, Any]
    """The request as the client sent it."""
    input_items: tuple[Mapping[str, Any], ...] = ()
    """The input as items, each with an id (given one when it came without: `msg_<hex>`, `fc_<hex>`,
    ...); a string input is one user message of one `input_text` part."""
    previous_response_id: str | None = None
    store: bool = True
    background: bool = False
    stream: bool = False
    include: frozenset[str] = frozenset()
    tools: ToolTable = field(default_factory=ToolTable)
    """The translated tools, and the tool each translated name stands for."""
    translation: Translation = field(default_factory=Translation)


def parse_responses_request(body: object) -> ResponsesCall:
    """A Responses request body (decoded JSON of any shape), validated.

    Raises BadRequestError, and nothing else, for any body that is not a valid request; its `param`
    names the field the way OpenAI does (`input[2].content[0].image_url`, `tools[1].name`)."""
    if type(body) is not dict:
        raise BadRequestError(f"The request body must be a JSON object, but got {kind_of(body)} instead.")
    model = text(body, "model", "")
    if not model:
        raise invalid("model", "empty string. Expected a string with at least 1 character.")
    items = read_input(body.get("input"))
    instructions = optional_text(body, "instructions", "")
    table = read_tools(body.get("tools"))
    choice, tools = read_tool_choice(body.get("tool_choice"), table)
    # `text.verbosity` is a hint only OpenAI's own models take: a native deployment gets it as sent, a
    # translated call goes without it (Codex sends it for every GPT-5-named model, whatever serves it).
    response_format, _ = _text(obj(body, "text", ""))
    previous = optional_text(body, "previous_response_id", "")
    if previous == "":
        raise invalid("previous_response_id", "empty string. Expected a string with at least 1 character.")
    metadata = obj(body, "metadata", "")
    extra_body = _extra(body)
    return ResponsesCall(
        model=model,
        body=body,
        input_items=items.items,
        previous_response_id=previous,
        store=optional_flag(body, "store", "") is not False,
        background=optional_flag(body, "background", "") or False,
        stream=optional_flag(body, "stream", "") or False,
        include=_include(body),
        tools=table,
        translation=Translation(
            system=Message(Role.SYSTEM, instructions) if instructions else None,
            input=items,
            params=_params(body),
            tools=tools,
            tool_choice=choice,
            response_format=response_format,
            mock_response=optional_text(body, "mock_response", ""),
            metadata=metadata or {},
            controls=_controls(body),
            extra_body=extra_body,
        ),
    )


def completion_request(call: ResponsesCall, history: Sequence[Mapping[str, Any]]) -> CompletionRequest:
    """The chat request `call` stands for, continuing the conversation `history` (the stored items of
    the responses it follows, oldest first): instructions as the system message, then the history,
    then the input. `native` holds the request for a Responses-API deployment, with the conversation
    inline instead of `previous_response_id`."""
    translation = call.translation
    sent = translation.input
    pieces: Sequence[Piece] = sent.pieces
    untranslated = sent.untranslated
    if history:
        earlier, more = read_history(history)
        pieces = [*earlier, *sent.pieces]
        untranslated = (*more, *untranslated)
    by_id = _Items(history, sent.items)
    messages = fold(pieces, by_id.piece)
    if by_id.untranslated:
        untranslated = (*untranslated, *by_id.untranslated)
    if not messages:
        raise BadRequestError(
            "The request has no input: send 'input', or 'previous_response_id' to continue a conversation.",
            param="input",
        )
    if translation.system is not None:
        messages.insert(0, translation.system)
    return CompletionRequest(
        model=call.model,
        messages=tuple(messages),
        params=translation.params,
        tools=translation.tools,
        tool_choice=translation.tool_choice,
        response_format=translation.response_format,
        stream=call.stream,
        include_usage=True,  # the gateway meters every reply
        mock_response=translation.mock_response,
        metadata=translation.metadata,
        controls=translation.controls,
        extra_body=translation.extra_body,
        native=NativeRequest(
            FORMAT,
            _native_body(call, history, by_id),
            untranslated=untranslated,
            left_out=call.tools.left_out,
        ),
    )


class _Items:
    """The conversation's items by id, for item references to name (gathered only once one does)."""

    __slots__ = ("_by_id", "_history", "_items", "untranslated")

    def __init__(self, history: Sequence[Mapping[str, Any]], items: Sequence[Mapping[str, Any]]) -> None:
        self._history = history
        self._items = items
        self._by_id: dict[str, Mapping[str, Any]] | None = None
        self.untranslated: list[str] = []
        """The references to what only a Responses-API deployment can serve."""

    def item(self, reference: Reference) -> Mapping[str, Any]:
        if self._by_id is None:
            self._by_id = {
                item["id"]: item
                for item in (*self._history, *self._items)
                if type(item.get("id")) is str and _kind(item) != "item_reference"
            }
        found = self._by_id.get(reference.id)
        if found is None:
            raise BadRequestError(
                f"Invalid '{reference.where}.id': no item with id {reference.id[:80]!r} is in this "
                "conversation.",
                param=f"{reference.where}.id",
            )
        return found

    def piece(self, reference: Reference) -> Piece | None:
        item = self.item(reference)
        return item_piece(item, kind_of_item(item, reference.where), reference.where, self.untranslated)  # type: ignore[arg-type]


def _kind(item: Mapping[str, Any]) -> str | None:
    kind = item.get("type")
    if kind is None:
        return "message" if "role" in item else "item_reference"
    return str(kind)


def _native_body(
    call: ResponsesCall, history: Sequence[Mapping[str, Any]], by_id: _Items
) -> Mapping[str, Any]:
    """The body for a Responses-API deployment: as sent, without what the gateway serves itself; the
    conversation inline (references replaced by the items they name) when it continues one."""
    body = call.body
    references = call.translation.input.references
    if not history and not references and _NOT_NATIVE.isdisjoint(body):
        return body
    out = {name: value for name, value in body.items() if name not in _NOT_NATIVE}
    if history or references:
        sent = body.get("input")
        items = [call.input_items[0]] if type(sent) is str else list(sent or ())
        out["input"] = [
            *(_dereferenced(item, "previous_response_id", by_id) for item in history),
            *(_dereferenced(item, f"input[{index}]", by_id) for index, item in enumerate(items)),
        ]
    return out


def _dereferenced(item: Mapping[str, Any], where: str, by_id: _Items) -> Mapping[str, Any]:
    if _kind(item) == "item_reference":
        return by_id.item(Reference(item["id"], where))
    return item


def _text(config: dict | None) -> tuple[ResponseFormat | None, str | None]:
    """(the response format of `text.format`, `text.verbosity`)."""
    if config is None:
        return None, None
    verbosity = optional_text(config, "verbosity", "text")
    form = obj(config, "format", "text")
    if form is None:
        return None, verbosity
    kind = form.get("type")
    if kind == "text":
        return None, verbosity  # the default: asking for it changes nothing
    if kind == "json_object":
        return ResponseFormat(ResponseFormatType.JSON_OBJECT), verbosity
    if kind != "json_schema":
        raise (
            missing("text.format.type") if kind is None else unknown_value("text.format.type", kind, _FORMATS)
        )
    name = text(form, "name", "text.format")
    if not name:
        raise invalid("text.format.name", "empty string. Expected a string with at least 1 character.")
    schema = obj(form, "schema", "text.format")
    if schema is None:
        raise missing("text.format.schema")
    return (
        ResponseFormat(
            ResponseFormatType.JSON_SCHEMA,
            name=name,
            schema=schema,
            strict=optional_flag(form, "strict", "text.format"),
            description=optional_text(form, "description", "text.format"),
        ),
        verbosity,
    )


def _params(body: dict) -> SamplingParams:
    if _SAMPLING.isdisjoint(body):
        return _NO_PARAMS  # the common case, and building the dataclass is much of the cost of a parse
    reasoning = obj(body, "reasoning", "")
    effort = reasoning.get("effort") if reasoning is not None else None
    if effort is not None and (type(effort) is not str or effort not in _EFFORTS):
        raise unknown_value("reasoning.effort", effort, tuple(_EFFORTS))
    user = optional_text(body, "user", "")
    safety = optional_text(body, "safety_identifier", "")
    top_logprobs = integer(body, "top_logprobs", "", low=0, high=20)
    params = {
        "temperature": number(body, "temperature", ""),
        "top_p": number(body, "top_p", ""),
        "max_completion_tokens": integer(body, "max_output_tokens", "", low=1),
        "user": user if user is not None else safety,
        "parallel_tool_calls": optional_flag(body, "parallel_tool_calls", ""),
        "reasoning_effort": _EFFORTS[effort] if effort is not None else None,
        "top_logprobs": top_logprobs or None,
        "logprobs": True if top_logprobs else None,
    }
    if all(value is None for value in params.values()):
        return _NO_PARAMS
    return SamplingParams(**params)  # type: ignore[arg-type]


def _include(body: dict) -> frozenset[str]:
    include = array(body, "include", "")
    if not include:
        return frozenset()
    for index, name in enumerate(include):
        if type(name) is not str:
            raise invalid_type(f"include[{index}]", "a string", name)
    return frozenset(include)


def _controls(body: dict) -> dict[str, Any]:
    """The gateway controls the body holds, checked as the chat completions endpoint checks them."""
    if _CONTROLS.isdisjoint(body):
        return {}
    sent = {name: body[name] for name in CONTROL_FIELDS if body.get(name) is not None}
    if not sent:
        return sent
    try:
        controls = GatewayFields.model_validate(sent)
    except ValidationError as exc:
        raise bad_request(exc, what="request body") from exc
    return {name: getattr(controls, name) for name in sent}


def _extra(body: dict) -> dict[str, Any]:
    """The fields of the body this format does not model, for the upstream to take or refuse by name."""
    return {name: value for name, value in body.items() if name not in _READ and name not in _HINTS}

"""Client requests in Anthropic's Messages format (/v1/messages, /v1/messages/count_tokens), validated by
hand into domain requests that keep the body as sent for an Anthropic deployment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.anthropic_format.content import read_messages, system_message
from adapters.anthropic_format.untranslated import untranslated_fields
from adapters.anthropic_format.validation import (
    dictionary,
    invalid,
    is_int,
    is_number,
    missing,
    optional_bool,
    optional_string,
    string,
    unknown_value,
    wrong_type,
)
from adapters.openai_format.validation import kind_of
from adapters.openai_format.wire import CONTROL_FIELDS
from domain.completions import CompletionRequest, NativeRequest, ReasoningEffort, SamplingParams
from domain.errors import BadRequestError
from domain.messages import (
    FunctionTool,
    Message,
    NamedToolChoice,
    ResponseFormat,
    ResponseFormatType,
    ToolChoice,
    ToolChoiceMode,
)

FORMAT = "anthropic"
NATIVE_HEADERS = ("anthropic-beta", "anthropic-version")
_GATEWAY_FIELDS = frozenset({*CONTROL_FIELDS, "mock_response"})
_READ = frozenset(
    {
        "model", "messages", "max_tokens", "system", "tools", "tool_choice", "stop_sequences",
        "temperature", "top_p", "top_k", "metadata", "thinking", "stream", "output_config",
    }
) | _GATEWAY_FIELDS  # fmt: skip
# Fields that only tune how Anthropic serves the call, never what the answer may hold: the native body
# keeps them, a translation leaves them out (another provider could only refuse them).
_HINTS = frozenset({"cache_control", "context_management", "speed", "diagnostics"})
_THINKING = ("enabled", "disabled", "adaptive", "between_tools")
_TOOL_CHOICES = ("auto", "any", "tool", "none")
_EFFORTS = {
    "low": ReasoningEffort.LOW,
    "medium": ReasoningEffort.MEDIUM,
    "high": ReasoningEffort.HIGH,
    "xhigh": ReasoningEffort.XHIGH,
    "max": ReasoningEffort.XHIGH,
}
_CONTROL_KINDS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "cache": (dict, "a valid dictionary"),
    "fallbacks": (list, "a valid list"),
    "num_retries": (int, "a valid integer"),
    "tags": (list, "a valid list"),
    "caching": (bool, "a valid boolean"),
    "ttl": ((int, float), "a valid number"),
    "drop_params": (bool, "a valid boolean"),
    "priority": (int, "a valid integer"),
    "timeout": ((int, float), "a valid number"),
    "stream_timeout": ((int, float), "a valid number"),
    "mock_response": (str, "a valid string"),
    "guardrails": (list, "a valid list"),
}


def parse_messages_request(body: object, headers: Mapping[str, str]) -> CompletionRequest:
    """A Messages request body (decoded JSON of any shape) and its HTTP headers as a domain request.

    Everything the domain models is translated (system, content blocks, tools, tool_choice, sampling,
    thinking budget, output_config); unmodelled top-level fields go to `extra_body`, except the hints of
    _HINTS. `native` always holds the body as sent (gateway controls such as `cache` or `fallbacks`
    taken out) and the client's `anthropic-beta` / `anthropic-version` headers, so that an Anthropic
    deployment gets it untouched; what only Anthropic can serve (server tools, search results, ...) is
    left out of the translation and named by untranslated.untranslated_fields().

    Raises BadRequestError, and nothing else, for a body that is not a valid request; `param` names the
    field as Anthropic does (`messages.1.content.0.type`), and so does the message."""
    return _parse(body, headers, counting=False)


def parse_count_tokens_request(body: object, headers: Mapping[str, str]) -> CompletionRequest:
    """A /v1/messages/count_tokens body as a domain request: the same as a Messages request, but
    `max_tokens` is not needed and the request never streams."""
    return _parse(body, headers, counting=True)


def _parse(body: object, headers: Mapping[str, str], *, counting: bool) -> CompletionRequest:
    if not isinstance(body, dict):
        raise BadRequestError(f"The request body must be a JSON object, not {kind_of(body)}.")
    model = string(body, "model", "")
    if not model:
        raise invalid("model", "String should have at least 1 character")
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        if not counting:
            raise missing("max_tokens")
    elif not is_int(max_tokens):
        raise wrong_type("max_tokens", "a valid integer", max_tokens)
    messages: list[Message] = []
    system = system_message(body.get("system"))
    if system is not None:
        messages.append(system)
    read_messages(body.get("messages"), messages)
    tools, names = _tools(body.get("tools"))
    choice, parallel = _tool_choice(body.get("tool_choice"), names)
    effort, response_format = _output_config(body.get("output_config"))
    stream = False if counting else optional_bool(body, "stream", "") or False
    controls, extra_body = _rest(body)
    mock_response = controls.pop("mock_response", None)
    return CompletionRequest(
        model=model,
        messages=tuple(messages),
        params=SamplingParams(
            temperature=_temperature(body.get("temperature")),
            top_p=_number(body, "top_p"),
            max_tokens=max_tokens,
            stop=_stop_sequences(body.get("stop_sequences")),
            user=_user(body.get("metadata")),
            parallel_tool_calls=parallel,
            reasoning_effort=effort,
            top_k=_integer(body, "top_k"),
            thinking_budget=_thinking_budget(body.get("thinking")),
        ),
        tools=tools,
        tool_choice=choice,
        response_format=response_format,
        stream=stream,
        include_usage=stream,  # an Anthropic stream always ends with its usage
        mock_response=mock_response,
        controls=controls,
        extra_body=extra_body,
        native=NativeRequest(
            FORMAT, _native_body(body), _native_headers(headers), untranslated=untranslated_fields(body)
        ),
    )


def _tools(value: object) -> tuple[tuple[FunctionTool, ...], frozenset[str]]:
    """(the custom tools as functions, every tool's name). Server and Anthropic-defined tools (web
    search, bash, text editor, ...) are left to the native body: only Anthropic runs or knows them."""
    if value is None:
        return (), frozenset()
    if not isinstance(value, list):
        raise wrong_type("tools", "a valid list", value)
    tools: list[FunctionTool] = []
    names: set[str] = set()
    for index, tool in enumerate(value):
        if not isinstance(tool, dict):
            raise wrong_type(f"tools.{index}", "a valid dictionary", tool)
        kind = tool.get("type")
        if kind is None or kind == "custom":
            tools.append(_function(tool, index))
            name = tools[-1].name
        elif isinstance(kind, str):
            name = optional_string(tool, "name", f"tools.{index}") or kind
        else:
            raise wrong_type(f"tools.{index}.type", "a valid string", kind)
        if name in names:
            raise invalid("tools", f"Tool names must be unique: {name[:80]!r} is given twice")
        names.add(name)
    return tuple(tools), frozenset(names)


def _function(tool: dict, index: int) -> FunctionTool:
    name = tool.get("name")
    schema = tool.get("input_schema")
    description = tool.get("description")
    strict = tool.get("strict")
    if not (
        type(name) is str
        and name
        and type(schema) is dict
        and (description is None or type(description) is str)
        and (strict is None or type(strict) is bool)
    ):
        where = f"tools.{index}"
        name = string(tool, "name", where)
        if not name:
            raise invalid(f"{where}.name", "String should have at least 1 character")
        schema = dictionary(tool, "input_schema", where)
        description = optional_string(tool, "description", where)
        strict = optional_bool(tool, "strict", where)
    return FunctionTool(name, description, schema, strict)


def _tool_choice(value: object, names: frozenset[str]) -> tuple[ToolChoice | None, bool | None]:
    """(the tool choice, parallel_tool_calls: False when `disable_parallel_tool_use` says so)."""
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise wrong_type("tool_choice", "a valid dictionary", value)
    kind = value.get("type")
    choice: ToolChoice
    if kind == "auto":
        choice = ToolChoiceMode.AUTO
    elif kind == "none":
        choice = ToolChoiceMode.NONE
    elif kind == "any":
        choice = ToolChoiceMode.REQUIRED
    elif kind == "tool":
        name = string(value, "name", "tool_choice")
        if name not in names:
            raise invalid("tool_choice.name", f"no tool is named {name[:80]!r}")
        choice = NamedToolChoice(name)
    elif kind is None:
        raise missing("tool_choice.type")
    else:
        raise unknown_value("tool_choice.type", kind, _TOOL_CHOICES)
    if kind in ("any", "tool") and not names:
        raise invalid("tool_choice", f"tool_choice '{kind}' needs at least one tool in 'tools'")
    disable = optional_bool(value, "disable_parallel_tool_use", "tool_choice")
    return choice, (False if disable else None)


def _thinking_budget(value: object) -> int | None:
    """`thinking.budget_tokens` when thinking is enabled; None when it is disabled or adaptive (the
    model, or the provider's default, decides)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise wrong_type("thinking", "a valid dictionary", value)
    kind = value.get("type")
    if kind == "enabled":
        budget = value.get("budget_tokens")
        if not is_int(budget):
            raise (
                missing("thinking.budget_tokens")
                if budget is None
                else wrong_type("thinking.budget_tokens", "a valid integer", budget)
            )
        if budget < 1:
            raise invalid("thinking.budget_tokens", "Input should be greater than or equal to 1")
        return budget
    if kind in _THINKING:
        return None
    raise missing("thinking.type") if kind is None else unknown_value("thinking.type", kind, _THINKING)


def _output_config(value: object) -> tuple[ReasoningEffort | None, ResponseFormat | None]:
    """(reasoning effort from `effort`, a json_schema response format from `format`)."""
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise wrong_type("output_config", "a valid dictionary", value)
    effort = value.get("effort")
    if effort is not None and not (isinstance(effort, str) and effort in _EFFORTS):
        raise unknown_value("output_config.effort", effort, tuple(_EFFORTS))
    output_format = value.get("format")
    response_format = None
    if output_format is not None:
        if not isinstance(output_format, dict):
            raise wrong_type("output_config.format", "a valid dictionary", output_format)
        if output_format.get("type") != "json_schema":
            raise unknown_value("output_config.format.type", output_format.get("type"), ("json_schema",))
        schema = dictionary(output_format, "schema", "output_config.format")
        response_format = ResponseFormat(ResponseFormatType.JSON_SCHEMA, name="output", schema=schema)
    return (_EFFORTS[effort] if effort is not None else None), response_format


def _temperature(value: object) -> float | None:
    if value is None:
        return None
    if not is_number(value):
        raise wrong_type("temperature", "a valid number", value)
    if not 0 <= value <= 1:  # Anthropic's range, narrower than OpenAI's
        raise invalid("temperature", "Input should be between 0 and 1")
    return value  # type: ignore[return-value]


def _number(body: dict, name: str) -> float | None:
    value = body.get(name)
    if value is None or is_number(value):
        return value
    raise wrong_type(name, "a valid number", value)


def _integer(body: dict, name: str) -> int | None:
    value = body.get(name)
    if value is None or is_int(value):
        return value
    raise wrong_type(name, "a valid integer", value)


def _stop_sequences(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise wrong_type("stop_sequences", "a valid list", value)
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise wrong_type(f"stop_sequences.{index}", "a valid string", item)
    return tuple(value) or None


def _user(metadata: object) -> str | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise wrong_type("metadata", "a valid dictionary", metadata)
    return optional_string(metadata, "user_id", "metadata")


def _rest(body: dict) -> tuple[dict[str, Any], dict[str, Any]]:
    """(gateway controls, unmodelled fields for extra_body)."""
    controls: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for name, value in body.items():
        if name in _READ:
            if name in _GATEWAY_FIELDS and value is not None:
                kinds, expected = _CONTROL_KINDS[name]
                if not isinstance(value, kinds) or (isinstance(value, bool) and kinds is not bool):
                    raise wrong_type(name, expected, value)
                controls[name] = value
        elif name not in _HINTS:
            extra[name] = value
    return controls, extra


def _native_body(body: dict) -> dict[str, Any]:
    # Gateway controls are ours, never Anthropic's: the body goes on without them.
    if _GATEWAY_FIELDS.isdisjoint(body):
        return body
    return {name: value for name, value in body.items() if name not in _GATEWAY_FIELDS}


def _native_headers(headers: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for name in NATIVE_HEADERS:
        value = headers.get(name)
        if value is not None:
            out[name] = value
    return out

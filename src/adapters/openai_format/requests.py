"""Client requests in the OpenAI wire format, validated into domain requests."""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import ValidationError

from adapters.openai_format import wire
from adapters.openai_format.validation import bad_request, invalid_type, missing
from domain.completions import CompletionRequest, ReasoningEffort, SamplingParams
from domain.embeddings import EmbeddingRequest, EncodingFormat
from domain.errors import BadRequestError, UnsupportedParameterError
from domain.messages import (
    Content,
    ContentPart,
    FunctionTool,
    ImageDetail,
    ImagePart,
    Message,
    NamedToolChoice,
    ResponseFormat,
    ResponseFormatType,
    Role,
    TextPart,
    ToolCall,
    ToolChoice,
    ToolChoiceMode,
)

_ROLES = {role.value: role for role in Role}
_DETAILS = {detail.value: detail for detail in ImageDetail}
_UNSUPPORTED_PARTS = frozenset({"input_audio", "file", "refusal"})
_MAX_EMBEDDING_INPUTS = 2048
_NO_PARAMS = SamplingParams()
_SAMPLING_FIELDS = frozenset(field.name for field in dataclasses.fields(SamplingParams))


def parse_chat_request(body: object) -> CompletionRequest:
    """A chat completions request body (decoded JSON of any shape) as a domain request.

    Raises BadRequestError, and nothing else, for any body that is not a valid request; its `param`
    names the field (`messages[1].content`, `tools[0].function.name`)."""
    try:
        request = wire.ChatRequest.model_validate(body)
    except ValidationError as exc:
        raise bad_request(exc, what="request body") from exc
    tools = _tools(request)
    return CompletionRequest(
        model=request.model,
        messages=tuple(_message(message, index) for index, message in enumerate(request.messages)),
        params=_params(request),
        tools=tools,
        tool_choice=_tool_choice(request, tools),
        response_format=_response_format(request.response_format),
        stream=bool(request.stream),
        include_usage=bool(request.stream_options and request.stream_options.include_usage),
        mock_response=request.mock_response,
        metadata=request.metadata or {},
        controls=_controls(request),
        extra_body=request.__pydantic_extra__ or {},
    )


def parse_embedding_request(body: object) -> EmbeddingRequest:
    """An embeddings request body as a domain request; BadRequestError naming the field otherwise."""
    try:
        request = wire.EmbeddingRequest.model_validate(body)
    except ValidationError as exc:
        raise bad_request(exc, what="request body") from exc
    return EmbeddingRequest(
        model=request.model,
        inputs=_embedding_inputs(request.input),
        encoding_format=EncodingFormat(request.encoding_format or "float"),
        dimensions=request.dimensions,
        user=request.user,
        mock_response=tuple(request.mock_response) if request.mock_response is not None else None,
        metadata=request.metadata or {},
        controls=_controls(request),
        extra_body=request.__pydantic_extra__ or {},
    )


def _controls(request: wire.GatewayFields) -> dict[str, Any]:
    return {name: value for name in wire.CONTROL_FIELDS if (value := getattr(request, name)) is not None}


def _message(message: wire.ChatMessage, index: int) -> Message:
    role = message.role
    content = message.content
    if content is not None and not isinstance(content, str):
        content = _parts(content, role, f"messages[{index}]")
    tool_calls: tuple[ToolCall, ...] = ()
    if message.tool_calls:
        if role != "assistant":
            raise BadRequestError(
                f"Invalid 'messages[{index}].tool_calls': only assistant messages may carry tool calls.",
                param=f"messages[{index}].tool_calls",
            )
        tool_calls = tuple(
            ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments)
            for call in message.tool_calls
        )
    tool_call_id = message.tool_call_id
    if role == "assistant":
        if message.function_call is not None:
            call = message.function_call
            tool_calls += (ToolCall(id=_legacy_call_id(call.name), name=call.name, arguments=call.arguments),)
        if content is None and not tool_calls and message.refusal is None:
            raise missing(f"messages[{index}].content")
    elif content is None:
        raise missing(f"messages[{index}].content")
    if role == "function":
        # The legacy reply to a function call becomes a tool message answering the call of that name.
        if not message.name:
            raise missing(f"messages[{index}].name")
        tool_call_id = _legacy_call_id(message.name)
    elif role == "tool" and not tool_call_id:
        raise missing(f"messages[{index}].tool_call_id")
    return Message(
        role=_ROLES.get(role, Role.TOOL),
        content=content,
        name=message.name,
        tool_calls=tool_calls,
        tool_call_id=tool_call_id,
        reasoning_content=message.reasoning_content,
        refusal=message.refusal,
    )


def _legacy_call_id(name: str) -> str:
    # Legacy function calls carry no id; a call and its reply are paired by the function's name.
    return f"call_{name}"


def _parts(content: list[wire.ContentPart], role: str, where: str) -> Content:
    parts: list[ContentPart] = []
    for index, part in enumerate(content):
        at = f"{where}.content[{index}]"
        if part.type == "text":
            if part.text is None:
                raise missing(f"{at}.text")
            parts.append(TextPart(part.text))
        elif part.type == "image_url" and role == "user":
            if part.image_url is None:
                raise missing(f"{at}.image_url")
            detail = part.image_url.detail
            parts.append(ImagePart(part.image_url.url, _DETAILS[detail] if detail else None))
        elif part.type in _UNSUPPORTED_PARTS:
            raise UnsupportedParameterError(
                f"Content parts of type '{part.type}' are not supported.", param=f"{at}.type"
            )
        else:
            supported = "'text' and 'image_url'" if role == "user" else "'text'"
            raise BadRequestError(
                f"Invalid value for '{at}.type': {part.type[:80]!r}. Supported values are: {supported}.",
                param=f"{at}.type",
            )
    return tuple(parts)


def _params(request: wire.ChatRequest) -> SamplingParams:
    if _SAMPLING_FIELDS.isdisjoint(request.model_fields_set):
        return _NO_PARAMS  # the common case, and building the dataclass is most of the cost of a parse
    stop = request.stop
    return SamplingParams(
        temperature=request.temperature,
        top_p=request.top_p,
        max_tokens=request.max_tokens,
        max_completion_tokens=request.max_completion_tokens,
        stop=((stop,) if isinstance(stop, str) else tuple(stop)) if stop else None,
        n=request.n,
        seed=request.seed,
        presence_penalty=request.presence_penalty,
        frequency_penalty=request.frequency_penalty,
        logit_bias=request.logit_bias,
        logprobs=request.logprobs,
        top_logprobs=request.top_logprobs,
        user=request.user,
        parallel_tool_calls=request.parallel_tool_calls,
        reasoning_effort=ReasoningEffort(request.reasoning_effort) if request.reasoning_effort else None,
    )


def _tools(request: wire.ChatRequest) -> tuple[FunctionTool, ...]:
    if request.tools and request.functions:
        raise BadRequestError(
            "Use either 'tools' or the deprecated 'functions', not both.", param="functions"
        )
    definitions = [tool.function for tool in request.tools] if request.tools else request.functions or ()
    return tuple(
        FunctionTool(name=f.name, description=f.description, parameters=f.parameters, strict=f.strict)
        for f in definitions
    )


def _tool_choice(request: wire.ChatRequest, tools: tuple[FunctionTool, ...]) -> ToolChoice | None:
    if request.tool_choice is not None and request.function_call is not None:
        raise BadRequestError(
            "Use either 'tool_choice' or the deprecated 'function_call', not both.", param="function_call"
        )
    if request.tool_choice is not None:
        choice: object = request.tool_choice
        param = "tool_choice"
    elif request.function_call is not None:
        choice, param = request.function_call, "function_call"
    else:
        return None
    if isinstance(choice, str):
        mode = ToolChoiceMode(choice)
        if mode is ToolChoiceMode.REQUIRED and not tools:
            raise BadRequestError(f"Invalid '{param}': 'required' needs at least one tool.", param=param)
        return mode
    if isinstance(choice, wire.NamedToolChoice):
        name, param = choice.function.name, f"{param}.function.name"
    else:
        assert isinstance(choice, wire.FunctionName)
        name, param = choice.name, f"{param}.name"
    if all(tool.name != name for tool in tools):
        raise BadRequestError(f"Invalid '{param}': no tool is named {name[:80]!r}.", param=param)
    return NamedToolChoice(name)


def _response_format(response_format: wire.ResponseFormat | None) -> ResponseFormat | None:
    if response_format is None:
        return None
    if response_format.type != "json_schema":
        return ResponseFormat(ResponseFormatType(response_format.type))
    schema = response_format.json_schema
    if schema is None:
        raise missing("response_format.json_schema")
    return ResponseFormat(
        ResponseFormatType.JSON_SCHEMA,
        name=schema.name,
        schema=schema.schema_,
        strict=schema.strict,
        description=schema.description,
    )


def _embedding_inputs(value: object) -> tuple[str, ...] | tuple[tuple[int, ...], ...]:
    expected = "a string, an array of strings, an array of integers or an array of integer arrays"
    if isinstance(value, str):
        return (_text_input(value, "input"),)
    if not isinstance(value, list):
        raise invalid_type("input", expected, value)
    if not value:
        raise BadRequestError("Invalid 'input': empty array. Expected at least one input.", param="input")
    if len(value) > _MAX_EMBEDDING_INPUTS:
        raise BadRequestError(
            f"Invalid 'input': at most {_MAX_EMBEDDING_INPUTS} inputs fit one request.", param="input"
        )
    first = value[0]
    if isinstance(first, str):
        return tuple(_text_input(item, f"input[{index}]") for index, item in enumerate(value))
    if isinstance(first, int) and not isinstance(first, bool):
        return (_tokens(value, "input"),)
    if isinstance(first, list):
        return tuple(_tokens(item, f"input[{index}]") for index, item in enumerate(value))
    raise invalid_type("input[0]", "a string, an integer or an array of integers", first)


def _text_input(value: object, param: str) -> str:
    if not isinstance(value, str):
        raise invalid_type(param, "a string", value)
    if not value:
        raise BadRequestError(f"Invalid '{param}': empty string. Expected a non-empty string.", param=param)
    return value


def _tokens(value: object, param: str) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise invalid_type(param, "an array of integers", value)
    if not value:
        raise BadRequestError(f"Invalid '{param}': empty array. Expected at least one token.", param=param)
    for index, token in enumerate(value):
        if not _is_token(token):
            raise invalid_type(f"{param}[{index}]", "a non-negative integer", token)
    return tuple(value)


def _is_token(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0

"""Domain requests as the OpenAI JSON bodies sent to an upstream."""

from __future__ import annotations

from typing import Any

from domain.completions import CompletionRequest
from domain.embeddings import EmbeddingRequest
from domain.messages import (
    ContentPart,
    FunctionTool,
    Message,
    ResponseFormat,
    ResponseFormatType,
    Role,
    TextPart,
    ToolChoice,
    ToolChoiceMode,
)

# Sampling fields sent as they are when set; the others need a shape change and are handled by name.
_PLAIN_PARAMS = (
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "logprobs",
    "top_logprobs",
    "user",
    "parallel_tool_calls",
)


def chat_request_body(request: CompletionRequest, *, model: str) -> dict[str, Any]:
    """The chat completions body for `model` (the upstream's model id): only the fields that are set,
    never the gateway's own controls or metadata. A stream always asks for usage, which metering needs;
    `extra_body` is merged last and wins, as with the OpenAI SDK."""
    body: dict[str, Any] = {"model": model, "messages": [_message(m) for m in request.messages]}
    params = request.params
    for name in _PLAIN_PARAMS:
        value = getattr(params, name)
        if value is not None:
            body[name] = value
    if params.stop is not None:
        body["stop"] = list(params.stop)
    if params.logit_bias is not None:
        body["logit_bias"] = dict(params.logit_bias)
    if params.reasoning_effort is not None:
        body["reasoning_effort"] = params.reasoning_effort.value
    if request.tools:
        body["tools"] = [_tool(tool) for tool in request.tools]
    if request.tool_choice is not None:
        body["tool_choice"] = _tool_choice(request.tool_choice)
    if request.response_format is not None:
        body["response_format"] = _response_format(request.response_format)
    if request.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    if request.extra_body:
        body.update(request.extra_body)
    return body


def embedding_request_body(request: EmbeddingRequest, *, model: str) -> dict[str, Any]:
    """The embeddings body for `model`. It always asks for base64: a quarter of the bytes of the float
    list, and decoded with one `array('f')` call instead of parsing thousands of JSON numbers."""
    inputs = request.inputs
    body: dict[str, Any] = {
        "model": model,
        "input": list(inputs) if isinstance(inputs[0], str) else [list(tokens) for tokens in inputs],
        "encoding_format": "base64",
    }
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions
    if request.user is not None:
        body["user"] = request.user
    if request.extra_body:
        body.update(request.extra_body)
    return body


def _message(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role.value}
    content = message.content
    if content is not None:
        out["content"] = content if isinstance(content, str) else [_part(part) for part in content]
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in message.tool_calls
        ]
    if message.role is Role.TOOL:
        out["tool_call_id"] = message.tool_call_id
    elif message.name is not None:
        out["name"] = message.name
    if message.refusal is not None and message.role is Role.ASSISTANT:
        out["refusal"] = message.refusal
    return out


def _part(part: ContentPart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    image: dict[str, Any] = {"url": part.url}
    if part.detail is not None:
        image["detail"] = part.detail.value
    return {"type": "image_url", "image_url": image}


def _tool(tool: FunctionTool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    if tool.parameters is not None:
        function["parameters"] = tool.parameters
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _tool_choice(choice: ToolChoice) -> str | dict[str, Any]:
    if isinstance(choice, ToolChoiceMode):
        return choice.value
    return {"type": "function", "function": {"name": choice.name}}


def _response_format(response_format: ResponseFormat) -> dict[str, Any]:
    out: dict[str, Any] = {"type": response_format.type.value}
    if response_format.type is ResponseFormatType.JSON_SCHEMA:
        schema: dict[str, Any] = {"name": response_format.name, "schema": response_format.schema}
        if response_format.strict is not None:
            schema["strict"] = response_format.strict
        if response_format.description is not None:
            schema["description"] = response_format.description
        out["json_schema"] = schema
    return out

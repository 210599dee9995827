"""Domain requests as the OpenAI JSON bodies sent to an upstream."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from domain.completions import CompletionRequest, ReasoningEffort
from domain.embeddings import EmbeddingRequest
from domain.messages import (
    ContentPart,
    DocumentPart,
    FunctionTool,
    ImagePart,
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
    "top_k",  # not OpenAI's, but what the compatible hosts that sample by top-k call it
)
# A thinking budget (Anthropic's `thinking.budget_tokens`) as OpenAI's effort: below 4K tokens is low,
# below 16K medium, more is high. Claude Code's budgets (4000 "think", 10000 "think hard", 31999
# "ultrathink") land on low, medium and high, and Google's own table for the same mapping (1K, 8K, 24K)
# falls in the same bands.
_EFFORT_BANDS = ((4096, ReasoningEffort.LOW), (16384, ReasoningEffort.MEDIUM))
TEXT_DOCUMENT = "data:text/plain;base64,"


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
    elif params.thinking_budget is not None:
        body["reasoning_effort"] = effort_for_budget(params.thinking_budget).value
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


def effort_for_budget(budget: int) -> ReasoningEffort:
    """The reasoning effort that stands for a thinking budget of `budget` tokens (see _EFFORT_BANDS)."""
    for ceiling, effort in _EFFORT_BANDS:
        if budget < ceiling:
            return effort
    return ReasoningEffort.HIGH


def document_text(part: DocumentPart) -> str | None:
    """The text of a plain-text document (`data:text/plain;base64,...`); None for any other."""
    if not part.url.startswith(TEXT_DOCUMENT):
        return None
    try:
        return base64.b64decode(part.url[len(TEXT_DOCUMENT) :], validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None


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
    # An assistant's thinking blocks stay behind: OpenAI's format has no way to send reasoning back, and
    # earlier turns' reasoning only informs (what every gateway does). A tool's failure (`tool_error`)
    # has no field either; its content, which says what went wrong, goes as it is.
    out: dict[str, Any] = {"role": message.role.value}
    content = message.content
    if content is not None:
        out["content"] = content if isinstance(content, str) else _parts(content)
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


def _parts(content: tuple[ContentPart, ...]) -> list[dict[str, Any]]:
    return [out for part in content if (out := _part(part)) is not None]


def _part(part: ContentPart) -> dict[str, Any] | None:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ImagePart):
        image: dict[str, Any] = {"url": part.url}
        if part.detail is not None:
            image["detail"] = part.detail.value
        return {"type": "image_url", "image_url": image}
    return _document(part)


def _document(part: DocumentPart) -> dict[str, Any] | None:
    """A plain-text document as its text; any other `data:` document (a PDF) as a file part, its data
    URL as OpenAI's `file_data` takes it. A document by URL cannot be sent (chat completions take
    files by data or id only): the adapter names it unsupported ("documents"), so one that reaches
    here was dropped by drop_params."""
    text = document_text(part)
    if text is not None:
        return {"type": "text", "text": text}
    if not part.url.startswith("data:"):
        return None
    # OpenAI wants a file name with the data; an untitled PDF is named for what it is.
    name = part.title or ("document.pdf" if part.url.startswith("data:application/pdf") else "document")
    return {"type": "file", "file": {"filename": name, "file_data": part.url}}


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

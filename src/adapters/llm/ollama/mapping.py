"""Ollama's native API, both ways and pure: domain requests as `/api/chat` and `/api/embed` bodies,
Ollama's replies and NDJSON stream lines as domain replies and chunks (one mapping for both)."""

from __future__ import annotations

import base64
import datetime
import time
import urllib.parse
import uuid
from typing import Any

import httpx
import orjson
from pydantic import ValidationError

from adapters.llm.http_calls import joined_url
from adapters.llm.ollama import wire
from adapters.llm.ollama.errors import upstream_error
from adapters.llm.passthrough import passthrough
from adapters.openai_format.upstream import document_text
from domain.completions import (
    Choice,
    ChunkChoice,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    Delta,
    FinishReason,
    ReasoningEffort,
    ToolCallDelta,
    Usage,
)
from domain.deployments import Deployment
from domain.embeddings import Embedding, EmbeddingRequest, EmbeddingResponse
from domain.errors import BadGatewayError, BadRequestError, UnsupportedParameterError
from domain.messages import (
    DocumentPart,
    FunctionTool,
    ImagePart,
    Message,
    NamedToolChoice,
    ResponseFormatType,
    Role,
    ToolCall,
    ToolChoiceMode,
)

DEFAULT_API_BASE = "http://localhost:11434"
# Ollama's levels are low, medium, high and max; false turns thinking off.
_THINK: dict[ReasoningEffort, bool | str] = {
    ReasoningEffort.NONE: False,
    ReasoningEffort.MINIMAL: "low",
    ReasoningEffort.LOW: "low",
    ReasoningEffort.MEDIUM: "medium",
    ReasoningEffort.HIGH: "high",
    ReasoningEffort.XHIGH: "max",
}
# OpenAI sampling fields that are Ollama `options` under the same name.
_OPTIONS = ("temperature", "top_p", "seed", "presence_penalty", "frequency_penalty")


def unsupported(request: CompletionRequest) -> list[str]:
    """What Ollama's chat cannot honour: one choice only, no token biases or OpenAI logprobs, no end user
    id, no forcing of tool calls (it has no tool_choice; `none` is honoured by sending no tools), and no
    document but plain text (it reads no PDF, and fetches nothing)."""
    params = request.params
    refused = [
        name
        for name in ("logit_bias", "logprobs", "top_logprobs", "user")
        if getattr(params, name) is not None
    ]
    if params.n is not None and params.n > 1:
        refused.append("n")
    if params.parallel_tool_calls is False:
        refused.append("parallel_tool_calls")
    if request.tool_choice is ToolChoiceMode.REQUIRED or isinstance(request.tool_choice, NamedToolChoice):
        refused.append("tool_choice")
    if any(document_text(part) is None for part in _documents(request.messages)):
        refused.append("documents")
    return refused


def chat_body(request: CompletionRequest, deployment: Deployment, *, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": deployment.upstream_model,
        "messages": _messages(request.messages),
        "stream": stream,
    }
    params = request.params
    options: dict[str, Any] = {
        name: value for name in _OPTIONS if (value := getattr(params, name)) is not None
    }
    if params.output_limit is not None:
        options["num_predict"] = params.output_limit
    if params.stop is not None:
        options["stop"] = list(params.stop)
    if request.tools and request.tool_choice is not ToolChoiceMode.NONE:
        body["tools"] = [_tool(tool) for tool in request.tools]
    format_ = request.response_format
    if format_ is not None and format_.type is ResponseFormatType.JSON_OBJECT:
        body["format"] = "json"
    elif format_ is not None and format_.type is ResponseFormatType.JSON_SCHEMA:
        body["format"] = format_.schema
    if params.reasoning_effort is not None:
        body["think"] = _THINK[params.reasoning_effort]
    elif params.thinking_budget is not None:
        body["think"] = True  # Ollama takes no budget: thinking on is the nearest it comes
    extra = passthrough(request.extra_body, deployment)
    if extra.get("top_k") is not None:
        options["top_k"] = extra.pop("top_k")
    if params.top_k is not None:
        options["top_k"] = params.top_k  # the request's own over a configured default
    if isinstance(extra.get("options"), dict):
        options.update(extra.pop("options"))  # Ollama options the caller sent (num_ctx, min_p, ...)
    if options:
        body["options"] = options
    body.update(extra)
    return body


def read_response(body: object, *, model: str, call_id: str) -> CompletionResponse:
    """A decoded `/api/chat` reply (stream false); BadGatewayError when it is not one."""
    reply = _validate(body)
    message = reply.message or wire.Message()
    calls = tuple(
        ToolCall(id=head.id or "", name=head.name or "", arguments=head.arguments or "{}")
        for head in _tool_call_deltas(message, 0)
    )
    return CompletionResponse(
        id=call_id,
        created=_created(reply.created_at),
        model=model,
        choices=(
            Choice(
                index=0,
                message=Message(
                    role=Role.ASSISTANT,
                    content=message.content or None,
                    tool_calls=calls,
                    reasoning_content=message.thinking or None,
                ),
                finish_reason=_finish(reply.done_reason, bool(calls)),
            ),
        ),
        usage=_usage(reply),
    )


class StreamReader:
    """Turns one stream's lines into chunks, in order: the role on the first, each tool call whole on
    its own delta (Ollama sends calls complete), finish reason and usage on the `done` line."""

    def __init__(self, *, model: str, call_id: str) -> None:
        self.model = model
        self.id = call_id
        self._created: int | None = None
        self._role_sent = False
        self._calls = 0

    def read(self, line: object) -> CompletionChunk | None:
        if isinstance(line, dict) and line.get("error"):
            raise upstream_error(None, line)
        reply = _validate(line)
        if self._created is None:
            self._created = _created(reply.created_at)
        message = reply.message or wire.Message()
        calls = _tool_call_deltas(message, self._calls)
        self._calls += len(calls)
        delta = Delta(
            role=None if self._role_sent else "assistant",
            content=message.content or None,
            reasoning_content=message.thinking or None,
            tool_calls=calls,
        )
        if not reply.done:
            if self._role_sent and delta.content is None and delta.reasoning_content is None and not calls:
                return None
            self._role_sent = True
            return self._chunk(delta, None, None)
        self._role_sent = True
        return self._chunk(delta, _finish(reply.done_reason, self._calls > 0), _usage(reply))

    def _chunk(self, delta: Delta, finish: FinishReason | None, usage: Usage | None) -> CompletionChunk:
        choice = ChunkChoice(index=0, delta=delta, finish_reason=finish)
        created = self._created or int(time.time())
        return CompletionChunk(id=self.id, created=created, model=self.model, choices=(choice,), usage=usage)


def embed_body(request: EmbeddingRequest, deployment: Deployment) -> dict[str, Any]:
    if not isinstance(request.inputs[0], str):
        raise UnsupportedParameterError(
            "Ollama embeds texts, not token arrays", param="input", provider="ollama"
        )
    body: dict[str, Any] = {"model": deployment.upstream_model, "input": list(request.inputs)}
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions
    if request.extra_body:
        body.update(request.extra_body)  # truncate, keep_alive, options
    return body


def read_embeddings(body: object, *, model: str) -> EmbeddingResponse:
    try:
        reply = wire.EmbedResponse.model_validate(body)
    except ValidationError as exc:
        raise BadGatewayError(f"Ollama sent a malformed embed reply: {exc.errors()[0]['msg']}") from exc
    return EmbeddingResponse(
        model=model,
        data=tuple(Embedding(index=index, vector=vector) for index, vector in enumerate(reply.embeddings)),
        usage=Usage(prompt_tokens=reply.prompt_eval_count or 0),
    )


def new_call_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def url(deployment: Deployment, path: str) -> httpx.URL:
    return joined_url(deployment.api_base or DEFAULT_API_BASE, path)


def headers(deployment: Deployment) -> dict[str, str]:
    out = {"Content-Type": "application/json"}
    key = deployment.credentials.api_key
    if key is not None and key.value:  # Ollama's cloud, or a proxy in front of a local server
        out["Authorization"] = f"Bearer {key.value}"
    return out


def _messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    names: dict[str, str] = {}  # tool call id -> function name, for the tool results that answer them
    out = []
    for message in messages:
        for call in message.tool_calls:
            names[call.id] = call.name
        out.append(_message(message, names))
    return out


def _message(message: Message, names: dict[str, str]) -> dict[str, Any]:
    # An assistant's thinking blocks stay behind: earlier turns' reasoning only informs, and Ollama's
    # chat templates drop it anyway. A tool's failure has no field: its content says what failed.
    role = message.role
    if role in (Role.SYSTEM, Role.DEVELOPER):
        return {"role": "system", "content": message.text}
    if role is Role.TOOL:
        out: dict[str, Any] = {"role": "tool", "content": message.text, "tool_call_id": message.tool_call_id}
        name = message.name or names.get(message.tool_call_id or "")
        if name:
            out["tool_name"] = name
        return out
    out = {"role": role.value, "content": _text(message)}
    parts = () if message.content is None or isinstance(message.content, str) else message.content
    images = [_image(part.url) for part in parts if isinstance(part, ImagePart)]
    if images:
        out["images"] = images
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": call.id, "function": {"name": call.name, "arguments": _arguments(call)}}
            for call in message.tool_calls
        ]
    return out


def _documents(messages: tuple[Message, ...]) -> list[DocumentPart]:
    return [
        part
        for message in messages
        if not isinstance(message.content, str | None)
        for part in message.content
        if isinstance(part, DocumentPart)
    ]


def _text(message: Message) -> str:
    """The message's text; a plain-text document is read where it stands, a paragraph of its own. Any
    other document was named unsupported ("documents"), and is here only because it was dropped."""
    content = message.content
    if content is None or isinstance(content, str) or not any(isinstance(p, DocumentPart) for p in content):
        return message.text
    pieces = []
    for part in content:
        if isinstance(part, DocumentPart):
            pieces.append(document_text(part) or "")
        elif not isinstance(part, ImagePart):
            pieces.append(part.text)
    return "\n\n".join(piece for piece in pieces if piece)


def _image(url: str) -> str:
    """Ollama takes images as bare base64 in the message's `images`; it fetches no URLs."""
    if not url.startswith("data:"):
        raise UnsupportedParameterError(
            f"Ollama takes images only as data URLs (data:image/png;base64,...); it cannot fetch {url[:100]}",
            param="messages",
            provider="ollama",
        )
    header, _, payload = url.partition(",")
    if header.endswith(";base64"):
        return payload
    return base64.b64encode(urllib.parse.unquote_to_bytes(payload)).decode("ascii")


def _arguments(call: ToolCall) -> Any:
    """Ollama wants a call's arguments as the object, not the JSON text of it."""
    try:
        return orjson.loads(call.arguments) if call.arguments.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise BadRequestError(
            f"the arguments of tool call {call.id} are not JSON, and Ollama takes them as an object",
            param="messages",
        ) from exc


def _tool(tool: FunctionTool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    if tool.parameters is not None:
        function["parameters"] = tool.parameters
    return {"type": "function", "function": function}


def _tool_call_deltas(message: wire.Message, first: int) -> tuple[ToolCallDelta, ...]:
    """Ollama's calls, numbered from `first` across the stream, with ids where Ollama gave none and the
    arguments as JSON text."""
    deltas = []
    for offset, call in enumerate(message.tool_calls or ()):
        function = call.function or wire.ToolCallFunction()
        arguments = function.arguments
        text = arguments if isinstance(arguments, str) else orjson.dumps(arguments or {}).decode()
        deltas.append(
            ToolCallDelta(
                index=first + offset,
                id=call.id or f"call_{uuid.uuid4().hex[:24]}",
                name=function.name or "",
                arguments=text,
            )
        )
    return tuple(deltas)


def _validate(body: object) -> wire.ChatResponse:
    try:
        return wire.ChatResponse.model_validate(body)
    except ValidationError as exc:
        raise BadGatewayError(f"Ollama sent a malformed chat reply: {exc.errors()[0]['msg']}") from exc


def _finish(reason: str | None, called: bool) -> FinishReason:
    if reason == "length":
        return FinishReason.LENGTH
    # Ollama says `stop` after tool calls too; clients expect tool_calls then, as Ollama's own OpenAI
    # layer answers. Anything else (load, unload, an unknown reason) ended the generation.
    return FinishReason.TOOL_CALLS if called else FinishReason.STOP


def _usage(reply: wire.ChatResponse) -> Usage:
    return Usage(prompt_tokens=reply.prompt_eval_count or 0, completion_tokens=reply.eval_count or 0)


def _created(stamp: str | None) -> int:
    if stamp:
        try:
            return int(datetime.datetime.fromisoformat(stamp).timestamp())
        except ValueError:
            pass
    return int(time.time())

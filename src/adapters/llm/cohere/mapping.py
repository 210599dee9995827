"""Cohere's v2 API, both ways and pure: domain requests as `/v2/chat` and `/v2/embed` bodies, Cohere's
replies and stream events as domain replies and chunks (one mapping for both)."""

from __future__ import annotations

import functools
from typing import Any

import httpx
from pydantic import ValidationError

from adapters.llm.cohere import wire
from adapters.llm.cohere.errors import generation_failed
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
from domain.errors import BadGatewayError, UnsupportedParameterError
from domain.messages import (
    ContentPart,
    DocumentPart,
    FunctionTool,
    Message,
    NamedToolChoice,
    ResponseFormatType,
    Role,
    TextPart,
    ToolCall,
    ToolChoiceMode,
)

DEFAULT_API_BASE = "https://api.cohere.com"
DEFAULT_INPUT_TYPE = "search_document"
_FINISH = {
    "COMPLETE": FinishReason.STOP,
    "STOP_SEQUENCE": FinishReason.STOP,
    "MAX_TOKENS": FinishReason.LENGTH,
    "TOOL_CALL": FinishReason.TOOL_CALLS,
}
_FAILED = frozenset({"ERROR", "TIMEOUT"})
_EMPTY_PARAMETERS = {"type": "object", "properties": {}}


def unsupported(request: CompletionRequest) -> list[str]:
    """What Cohere's v2 chat cannot honour: one choice only, no token biases or OpenAI logprobs, no end
    user id, no forcing one named tool, no switching parallel calls off; no document but plain text
    (its chat reads no PDF, and fetches nothing)."""
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
    if isinstance(request.tool_choice, NamedToolChoice):
        refused.append("tool_choice")
    if any(
        isinstance(part, DocumentPart) and document_text(part) is None
        for message in request.messages
        if not isinstance(message.content, str | None)
        for part in message.content
    ):
        refused.append("documents")
    return refused


def chat_body(request: CompletionRequest, deployment: Deployment, *, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": deployment.upstream_model,
        "messages": [_message(message) for message in request.messages],
    }
    params = request.params
    if params.temperature is not None:
        body["temperature"] = params.temperature
    if params.top_p is not None:
        body["p"] = params.top_p
    if params.output_limit is not None:
        body["max_tokens"] = params.output_limit
    if params.stop is not None:
        body["stop_sequences"] = list(params.stop)
    for name in ("seed", "frequency_penalty", "presence_penalty"):
        value = getattr(params, name)
        if value is not None:
            body[name] = value
    if params.thinking_budget is not None:
        body["thinking"] = {"type": "enabled", "token_budget": params.thinking_budget}
    elif params.reasoning_effort is not None:
        off = params.reasoning_effort is ReasoningEffort.NONE
        body["thinking"] = {"type": "disabled" if off else "enabled"}
    if request.tools:
        body["tools"] = [_tool(tool) for tool in request.tools]
        if any(tool.strict for tool in request.tools):
            body["strict_tools"] = True
    if request.tool_choice is ToolChoiceMode.REQUIRED:
        body["tool_choice"] = "REQUIRED"
    elif request.tool_choice is ToolChoiceMode.NONE:
        body["tool_choice"] = "NONE"
    format_ = request.response_format
    if format_ is not None and format_.type is not ResponseFormatType.TEXT:
        body["response_format"] = {"type": "json_object"}
        if format_.type is ResponseFormatType.JSON_SCHEMA:
            body["response_format"]["json_schema"] = format_.schema
    if stream:
        body["stream"] = True
    extra = passthrough(request.extra_body, deployment)
    if "top_k" in extra:
        body["k"] = extra.pop("top_k")
    if params.top_k is not None:
        body["k"] = params.top_k  # the request's own over a configured default
    body.update(extra)
    return body


def read_response(body: object, *, model: str, created: int) -> CompletionResponse:
    """A decoded `/v2/chat` reply; BadGatewayError when it is not one, the domain error when the
    generation failed."""
    try:
        reply = wire.ChatResponse.model_validate(body)
    except ValidationError as exc:
        raise BadGatewayError(f"Cohere sent a malformed chat reply: {exc.errors()[0]['msg']}") from exc
    if reply.finish_reason in _FAILED:
        raise generation_failed(reply.finish_reason, None)
    message = reply.message
    texts = [item.text for item in message.content or () if item.text is not None and item.type != "thinking"]
    thoughts = [item.thinking for item in message.content or () if item.thinking]
    calls = tuple(
        ToolCall(
            id=call.id or f"call_{position}",
            name=(call.function.name if call.function else None) or "",
            arguments=(call.function.arguments if call.function else None) or "{}",
        )
        for position, call in enumerate(message.tool_calls or ())
    )
    reasoning = "".join(thoughts) or message.tool_plan or None
    return CompletionResponse(
        id=reply.id or "",
        created=created,
        model=model,
        choices=(
            Choice(
                index=0,
                message=Message(
                    role=Role.ASSISTANT,
                    content="".join(texts) if texts else None,
                    tool_calls=calls,
                    reasoning_content=reasoning,
                ),
                finish_reason=_finish(reply.finish_reason, bool(calls)),
            ),
        ),
        usage=_usage(reply.usage or reply.meta),
    )


class StreamReader:
    """Turns one stream's events into chunks, in order: the role on the first, tool call ids and names
    on each call's first delta, finish reason and usage on the last."""

    def __init__(self, *, model: str, created: int, fallback_id: str) -> None:
        self.model = model
        self.created = created
        self.id = fallback_id
        self._role_sent = False
        self._calls = 0

    def read(self, data: object) -> CompletionChunk | None:
        try:
            event = wire.StreamEvent.model_validate(data)
        except ValidationError as exc:
            raise BadGatewayError(f"Cohere sent a malformed stream event: {exc.errors()[0]['msg']}") from exc
        kind, delta = event.type, event.delta or wire.StreamDelta()
        message = delta.message or wire.DeltaMessage()
        if kind == "message-start":
            self.id = event.id or self.id
            return self._chunk(Delta())
        if kind in ("content-delta", "content-start"):
            content = message.content
            if not isinstance(content, wire.ContentItem) or not (content.text or content.thinking):
                return None
            return self._chunk(
                Delta(content=content.text or None, reasoning_content=content.thinking or None)
            )
        if kind == "tool-plan-delta":
            return self._chunk(Delta(reasoning_content=message.tool_plan)) if message.tool_plan else None
        if kind == "tool-call-start" and isinstance(message.tool_calls, wire.ToolCall):
            call = message.tool_calls
            index = self._calls if event.index is None else event.index
            self._calls = index + 1
            function = call.function or wire.ToolCallFunction()
            head = ToolCallDelta(
                index=index, id=call.id, name=function.name, arguments=function.arguments or None
            )
            return self._chunk(Delta(tool_calls=(head,)))
        if kind == "tool-call-delta" and isinstance(message.tool_calls, wire.ToolCall):
            function = message.tool_calls.function
            if function is None or not function.arguments:
                return None
            index = max(self._calls - 1, 0) if event.index is None else event.index
            return self._chunk(Delta(tool_calls=(ToolCallDelta(index=index, arguments=function.arguments),)))
        if kind == "message-end":
            if delta.finish_reason in _FAILED:
                raise generation_failed(delta.finish_reason, delta.error)
            finish = _finish(delta.finish_reason, self._calls > 0)
            return self._chunk(Delta(), finish_reason=finish, usage=_usage(delta.usage) or Usage())
        return None  # content-end, tool-call-end, citations, debug: nothing a client sees

    def _chunk(
        self, delta: Delta, *, finish_reason: FinishReason | None = None, usage: Usage | None = None
    ) -> CompletionChunk:
        if not self._role_sent:
            self._role_sent = True
            delta = Delta(
                role="assistant",
                content=delta.content,
                reasoning_content=delta.reasoning_content,
                tool_calls=delta.tool_calls,
            )
        choice = ChunkChoice(index=0, delta=delta, finish_reason=finish_reason)
        return CompletionChunk(
            id=self.id, created=self.created, model=self.model, choices=(choice,), usage=usage
        )


def embed_body(request: EmbeddingRequest, deployment: Deployment) -> dict[str, Any]:
    if not isinstance(request.inputs[0], str):
        raise UnsupportedParameterError(
            "Cohere embeds texts, not token arrays", param="input", provider="cohere"
        )
    body: dict[str, Any] = {
        "model": deployment.upstream_model,
        "texts": list(request.inputs),
        "input_type": DEFAULT_INPUT_TYPE,
        "embedding_types": ["float"],
    }
    if request.dimensions is not None:
        body["output_dimension"] = request.dimensions
    if request.extra_body:
        body.update(request.extra_body)  # input_type, truncate, ... as the caller sent them
    return body


def read_embeddings(body: object, *, model: str) -> EmbeddingResponse:
    try:
        reply = wire.EmbedResponse.model_validate(body)
    except ValidationError as exc:
        raise BadGatewayError(f"Cohere sent a malformed embed reply: {exc.errors()[0]['msg']}") from exc
    vectors = reply.embeddings.float_
    if vectors is None:
        raise BadGatewayError("Cohere sent an embed reply without float embeddings.")
    meta = reply.meta or wire.EmbedMeta()
    counts = meta.billed_units or meta.tokens or wire.Tokens()
    return EmbeddingResponse(
        model=model,
        data=tuple(Embedding(index=index, vector=vector) for index, vector in enumerate(vectors)),
        usage=Usage(prompt_tokens=int(counts.input_tokens or 0)),
    )


def url(deployment: Deployment, path: str) -> httpx.URL:
    return _parsed_url(deployment.api_base or DEFAULT_API_BASE, path)


@functools.lru_cache(maxsize=1024)
def _parsed_url(api_base: str, path: str) -> httpx.URL:
    base = api_base.rstrip("/")
    for suffix in ("/v2", "/v1"):  # a base written with the version segment means the same host
        base = base.removesuffix(suffix)
    return httpx.URL(base + path)


def headers(deployment: Deployment) -> dict[str, str]:
    out = {"Content-Type": "application/json", "Accept": "application/json"}
    key = deployment.credentials.api_key
    if key is not None and key.value:
        out["Authorization"] = f"Bearer {key.value}"
    return out


def _message(message: Message) -> dict[str, Any]:
    # An assistant's thinking blocks stay behind (earlier turns' reasoning only informs; its text, when
    # it led to tool calls, goes as the tool plan). A tool's failure has no field: its content says it.
    role = message.role
    if role in (Role.SYSTEM, Role.DEVELOPER):
        return {"role": "system", "content": message.text}
    if role is Role.TOOL:
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.text}
    if role is Role.ASSISTANT:
        out: dict[str, Any] = {"role": "assistant"}
        if message.text:
            out["content"] = message.text
        if message.tool_calls:
            out["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in message.tool_calls
            ]
            if message.reasoning_content:
                out["tool_plan"] = message.reasoning_content
        return out
    content = message.content
    if content is None or isinstance(content, str):
        return {"role": "user", "content": content or ""}
    return {"role": "user", "content": [out for part in content if (out := _part(part)) is not None]}


def _part(part: ContentPart) -> dict[str, Any] | None:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, DocumentPart):
        # Plain text is read where it stands; any other document was named unsupported ("documents")
        # and is here only because drop_params dropped it.
        text = document_text(part)
        return None if text is None else {"type": "text", "text": text}
    image: dict[str, Any] = {"url": part.url}
    if part.detail is not None:
        image["detail"] = part.detail.value
    return {"type": "image_url", "image_url": image}


def _tool(tool: FunctionTool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": tool.parameters or _EMPTY_PARAMETERS}
    if tool.description is not None:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def _finish(reason: str | None, called: bool) -> FinishReason:
    if reason is None:
        return FinishReason.TOOL_CALLS if called else FinishReason.STOP
    return _FINISH.get(reason, FinishReason.STOP)


def _usage(usage: wire.Usage | None) -> Usage | None:
    if usage is None:
        return None
    billed, seen = usage.billed_units or wire.Tokens(), usage.tokens or wire.Tokens()
    # What Cohere bills is what the spend must match; the raw counts include its prompt template.
    prompt = billed.input_tokens if billed.input_tokens is not None else seen.input_tokens
    completion = billed.output_tokens if billed.output_tokens is not None else seen.output_tokens
    prompt_tokens = int(prompt or 0)
    return Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=int(completion or 0),
        cached_tokens=min(int(usage.cached_tokens or 0), prompt_tokens),
    )

"""Domain replies and errors rendered as the Anthropic JSON a client expects."""

from __future__ import annotations

from typing import Any

import orjson

from domain.completions import CompletionResponse, FinishReason, Usage
from domain.errors import SwitchyardError
from domain.messages import Message, ThinkingBlock

_STOP_REASONS = {
    FinishReason.STOP: "end_turn",
    FinishReason.LENGTH: "max_tokens",
    FinishReason.TOOL_CALLS: "tool_use",
    FinishReason.FUNCTION_CALL: "tool_use",
    FinishReason.CONTENT_FILTER: "refusal",
}
# Anthropic's error types by the status it answers them with (its errors page).
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_NO_USAGE = {
    "input_tokens": 0,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
    "output_tokens": 0,
}
_OVERLOADED = frozenset({"overloaded_error", "overloaded"})


def render_message(response: CompletionResponse, model: str) -> dict[str, Any]:
    """A `message` object for `model` (the name the client asked for). A reply that came from an
    Anthropic deployment as it was asked (`native`) goes back exactly as received."""
    if response.native is not None:
        return response.native  # type: ignore[return-value]
    choice = response.choices[0] if response.choices else None
    content: list[dict[str, Any]] = []
    reason = "end_turn"
    stop_sequence = None
    if choice is not None:
        message = choice.message
        content = content_blocks(message)
        stop_sequence = choice.stop_sequence
        reason = stop_reason(choice.finish_reason, stop_sequence, bool(message.tool_calls))
    return {
        "id": message_id(response.id),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": reason,
        "stop_sequence": stop_sequence if reason == "stop_sequence" else None,
        "usage": usage_of(response.usage),
    }


def render_count_tokens(input_tokens: int) -> dict[str, Any]:
    """The /v1/messages/count_tokens answer."""
    return {"input_tokens": input_tokens}


def render_error(error: SwitchyardError, request_id: str | None = None) -> tuple[int, dict[str, Any]]:
    """(HTTP status, Anthropic's error envelope). The status is Anthropic's for the kind of failure:
    overloaded upstreams 529, timeouts 504, a body too large 413, exhausted credit 402; a status
    Anthropic does not use keeps the domain's own (422, 502, 503), typed as the nearest kind."""
    status = anthropic_status(error)
    kind = _ERROR_TYPES.get(status) or ("api_error" if status >= 500 else "invalid_request_error")
    message = error.message
    field = _FIELD_NAMES.get(error.param or "")
    if field is not None:
        # A refused parameter is named as this client sent it, not by the domain's name for it.
        message = message.replace(f"'{error.param}'", f"'{field}'")
    body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
    if request_id is not None:
        body["request_id"] = request_id
    return status, body


_FIELD_NAMES = {
    "thinking_budget": "thinking.budget_tokens",
    "reasoning_effort": "output_config.effort",
    "user": "metadata.user_id",
    "stop": "stop_sequences",
    "response_format": "output_config.format",
    "parallel_tool_calls": "tool_choice.disable_parallel_tool_use",
    "documents": "document",
}
"""Domain parameter names that an Anthropic client knows by another."""


def anthropic_status(error: SwitchyardError) -> int:
    status = error.status_code
    code = error.code
    if status == 400 and code == "request_too_large":
        return 413
    if status == 403 and code == "billing_error":
        return 402
    if status == 408:
        return 504  # Anthropic's timeout_error
    if status == 503 and code in _OVERLOADED:
        return 529
    return status


def error_event(error: SwitchyardError) -> bytes:
    """The `error` event that ends a stream which failed after it began."""
    return b"event: error\ndata: " + orjson.dumps(render_error(error)[1]) + b"\n\n"


def content_blocks(message: Message) -> list[dict[str, Any]]:
    """Thinking first, then the text, then the tool calls, as Claude orders its blocks."""
    blocks: list[dict[str, Any]] = []
    if message.thinking_blocks:
        blocks.extend(thinking_block(block) for block in message.thinking_blocks)
    elif message.reasoning_content:
        # Reasoning from a provider that signs nothing: shown as thinking, with no signature to check.
        blocks.append({"type": "thinking", "thinking": message.reasoning_content, "signature": ""})
    text = message.text or message.refusal
    if text:
        blocks.append({"type": "text", "text": text})
    for call in message.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": tool_input(call.arguments)}
        )
    return blocks


def thinking_block(block: ThinkingBlock) -> dict[str, Any]:
    if block.redacted is not None:
        return {"type": "redacted_thinking", "data": block.redacted}
    return {"type": "thinking", "thinking": block.text, "signature": block.signature or ""}


def tool_input(arguments: str) -> dict[str, Any]:
    """A call's arguments as the object Anthropic's `input` must be. Arguments that are no JSON object
    (a model's broken JSON, or one cut off at max_tokens) give `{}`: the client's tool then refuses the
    missing fields and the model may try again, which is what a client can act on."""
    if not arguments:
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def stop_reason(finish: FinishReason | None, stop_sequence: str | None, called_tools: bool) -> str:
    """Anthropic's stop_reason. A turn that called tools but says it simply stopped (some providers
    do) is a tool_use turn: Anthropic clients run the tools only on that reason."""
    if finish is None or finish is FinishReason.STOP:
        if stop_sequence is not None:
            return "stop_sequence"
        return "tool_use" if called_tools else "end_turn"
    return _STOP_REASONS.get(finish, "end_turn")


def usage_of(usage: Usage | None) -> dict[str, int]:
    """Anthropic's usage: its input_tokens leave out the prompt-cache reads and writes that the
    domain's prompt_tokens (OpenAI's sense) include."""
    if usage is None:
        return dict(_NO_USAGE)
    return {
        "input_tokens": max(usage.prompt_tokens - usage.cached_tokens - usage.cache_creation_tokens, 0),
        "cache_creation_input_tokens": usage.cache_creation_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
        "output_tokens": usage.completion_tokens,
    }


def message_id(response_id: str) -> str:
    return response_id if response_id.startswith("msg_") else f"msg_{response_id}"

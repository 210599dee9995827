"""Domain replies and failures rendered as the Responses API's `response` object."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import orjson

from adapters.responses_format.items import REDACTED, new_id
from adapters.responses_format.requests import ResponsesCall
from adapters.responses_format.tools import ToolTable
from domain.completions import CompletionResponse, FinishReason, Usage
from domain.errors import (
    BadRequestError,
    ContextWindowExceededError,
    RateLimitError,
    SwitchyardError,
)
from domain.messages import Message, ThinkingBlock, ToolCall

ENCRYPTED = "reasoning.encrypted_content"
"""The `include` value that asks for reasoning items' `encrypted_content`."""
_INCOMPLETE = {
    FinishReason.LENGTH: {"reason": "max_output_tokens"},
    FinishReason.CONTENT_FILTER: {"reason": "content_filter"},
}
# Codes a failed response may carry that OpenAI's own list holds as they are.
_OWN_CODES = frozenset(
    {
        "server_error", "rate_limit_exceeded", "invalid_prompt", "invalid_image", "invalid_image_format",
        "invalid_base64_image", "invalid_image_url", "image_too_large", "image_too_small",
        "image_parse_error", "image_content_policy_violation", "unsupported_image_media_type",
        "empty_image_file", "failed_to_download_image", "image_file_not_found",
    }
)  # fmt: skip
_DEFAULT_TEXT = {"format": {"type": "text"}, "verbosity": "medium"}


def render_response(
    reply: CompletionResponse, call: ResponsesCall, *, response_id: str, created_at: int
) -> dict[str, Any]:
    """The `response` object of a finished reply, reasoning items' `encrypted_content` included (show
    a client `visible(...)` of it). A reply a Responses-API deployment gave natively is its own body."""
    if reply.native is not None:
        return dict(reply.native)
    choice = reply.choices[0] if reply.choices else None
    if choice is None:
        return shell(call, response_id, created_at, "completed", output=[], usage=usage_of(reply.usage))
    status, incomplete = outcome(choice.finish_reason)
    logprobs = _logprobs(choice.logprobs) if choice.logprobs else None
    return shell(
        call,
        response_id,
        created_at,
        status,
        incomplete=incomplete,
        output=output_items(choice.message, call.tools, status, logprobs),
        usage=usage_of(reply.usage),
        service_tier=reply.service_tier,
    )


def outcome(finish: FinishReason | None) -> tuple[str, dict[str, str] | None]:
    """(the status of a reply that ended for `finish`, its incomplete_details)."""
    incomplete = _INCOMPLETE.get(finish) if finish is not None else None
    return ("completed", None) if incomplete is None else ("incomplete", dict(incomplete))


def pending_response(
    call: ResponsesCall, *, response_id: str, created_at: int, status: str
) -> dict[str, Any]:
    """A response with no output yet, or none ever: `queued`, `in_progress` or `cancelled`."""
    return shell(call, response_id, created_at, status)


def failed_response(
    call: ResponsesCall, *, response_id: str, created_at: int, error: SwitchyardError
) -> dict[str, Any]:
    return shell(call, response_id, created_at, "failed", error=error_body(error))


def error_body(error: SwitchyardError) -> dict[str, Any]:
    return {"code": error_code(error), "message": error.message}


def error_code(error: SwitchyardError) -> str:
    """The code OpenAI gives a failed response for what went wrong. Its SDK's list of codes lacks the
    two it sends for an input too long and for exhausted credit, which clients (Codex) act on."""
    if isinstance(error, ContextWindowExceededError) or error.code == "context_length_exceeded":
        return "context_length_exceeded"
    if error.code == "budget_exceeded":
        return "insufficient_quota"
    if isinstance(error, RateLimitError):
        return "rate_limit_exceeded"
    if error.code in _OWN_CODES:
        return error.code  # type: ignore[return-value]
    if isinstance(error, BadRequestError):
        # Nothing about the request (a content policy refusal among them) goes through on another try.
        return "invalid_prompt"
    return "server_error"


def visible(body: Mapping[str, Any], include: Collection[str]) -> dict[str, Any]:
    """A copy of `body` as the client sees it: reasoning items without their `encrypted_content`, unless
    `include` asks for it."""
    out = dict(body)
    if ENCRYPTED in include:
        return out
    output = body.get("output")
    if output and any(item.get("type") == "reasoning" and "encrypted_content" in item for item in output):
        out["output"] = [hidden(item) for item in output]
    return out


def hidden(item: Mapping[str, Any]) -> Mapping[str, Any]:
    """An output item without what only the gateway keeps: a reasoning item's encrypted content."""
    if item.get("type") != "reasoning" or "encrypted_content" not in item:
        return item
    return {name: value for name, value in item.items() if name != "encrypted_content"}


def shell(
    call: ResponsesCall,
    response_id: str,
    created_at: int,
    status: str,
    *,
    output: list[Any] | None = None,
    usage: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
    incomplete: dict[str, Any] | None = None,
    service_tier: str | None = None,
) -> dict[str, Any]:
    """The response object, its settings echoed from the request as OpenAI echoes them (with OpenAI's
    defaults for those the request left out)."""
    body = call.body
    reasoning = body.get("reasoning") or {}
    sent_text = body.get("text")
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": call.background,
        "error": error,
        "incomplete_details": incomplete,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": body.get("max_tool_calls"),
        "model": call.model,
        "output": [] if output is None else output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True) is not False,
        "previous_response_id": call.previous_response_id,
        "prompt_cache_key": body.get("prompt_cache_key"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "safety_identifier": body.get("safety_identifier"),
        "service_tier": service_tier or body.get("service_tier") or "default",
        "store": call.store,
        "temperature": body.get("temperature", 1.0),
        "text": {**_DEFAULT_TEXT, **sent_text} if sent_text else _DEFAULT_TEXT,
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": body.get("tools") or [],
        "top_logprobs": body.get("top_logprobs") or 0,
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation") or "disabled",
        "usage": usage,
        "user": body.get("user"),
        "metadata": body.get("metadata") or {},
    }


def output_items(
    message: Message, tools: ToolTable, status: str = "completed", logprobs: list[Any] | None = None
) -> list[dict[str, Any]]:
    """Reasoning first (one item per thinking block), then the message, then the tool calls."""
    items: list[dict[str, Any]] = []
    if message.thinking_blocks:
        items.extend(reasoning_item(block) for block in message.thinking_blocks)
    elif message.reasoning_content:
        # Reasoning a provider signs nothing for: shown, with nothing to send back but the text.
        items.append(reasoning_item(ThinkingBlock(message.reasoning_content)))
    content: list[dict[str, Any]] = []
    if message.text:
        content.append(output_text(message.text, logprobs))
    if message.refusal:
        content.append({"type": "refusal", "refusal": message.refusal})
    if content:
        items.append(message_item(new_id("msg"), content, status))
    items.extend(call_item(call, tools) for call in message.tool_calls)
    return items


def reasoning_item(block: ThinkingBlock, item_id: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": item_id or new_id("rs"), "type": "reasoning", "summary": []}
    if block.redacted is not None:
        item["encrypted_content"] = REDACTED + block.redacted
        return item
    if block.text:
        item["summary"].append({"type": "summary_text", "text": block.text})
    if block.signature:
        item["encrypted_content"] = block.signature
    return item


def message_item(item_id: str, content: list[dict[str, Any]], status: str) -> dict[str, Any]:
    return {"id": item_id, "type": "message", "status": status, "content": content, "role": "assistant"}


def output_text(text: str, logprobs: list[Any] | None = None) -> dict[str, Any]:
    return {"type": "output_text", "annotations": [], "logprobs": logprobs or [], "text": text}


def call_item(call: ToolCall, tools: ToolTable, item_id: str | None = None) -> dict[str, Any]:
    """A function_call item, or a custom_tool_call one for a custom tool, by the tool's own name."""
    original = tools.original(call.name)
    call_id = call.id or new_id("call")
    item: dict[str, Any]
    if original.custom:
        item = {
            "id": item_id or new_id("ctc"),
            "type": "custom_tool_call",
            "call_id": call_id,
            "input": custom_input(call.arguments),
            "name": original.name,
        }
    else:
        item = {
            "id": item_id or new_id("fc"),
            "type": "function_call",
            "status": "completed",
            "arguments": call.arguments,
            "call_id": call_id,
            "name": original.name,
        }
    if original.namespace is not None:
        item["namespace"] = original.namespace
    return item


def custom_input(arguments: str) -> str:
    """The `input` argument a custom tool's call carries; the model's text itself if it is no such JSON."""
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments
    found = value.get("input") if type(value) is dict else None
    return found if type(found) is str else arguments


def usage_of(usage: Usage | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_creation_tokens,
        },
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def _logprobs(logprobs: Mapping[str, Any]) -> list[Any]:
    """Chat completions' `logprobs.content` as an output_text part's logprobs."""
    out = []
    for token in logprobs.get("content") or ():
        if not isinstance(token, dict):
            continue
        out.append(
            {
                "token": token.get("token", ""),
                "bytes": token.get("bytes") or [],
                "logprob": token.get("logprob", 0.0),
                "top_logprobs": [
                    {
                        "token": top.get("token", ""),
                        "bytes": top.get("bytes") or [],
                        "logprob": top.get("logprob", 0.0),
                    }
                    for top in token.get("top_logprobs") or ()
                    if isinstance(top, dict)
                ],
            }
        )
    return out

"""Domain messages as Messages API turns: system texts lifted out, content as typed blocks."""

from __future__ import annotations

import base64
import binascii
import urllib.parse
from collections.abc import Sequence
from typing import Any

import orjson

from domain.errors import BadRequestError
from domain.messages import Content, DocumentPart, ImagePart, Message, Role, TextPart, ThinkingBlock


def split_messages(messages: Sequence[Message]) -> tuple[list[str], list[dict[str, Any]]]:
    """(system texts, turns): system and developer messages lifted out in order; the rest as
    alternating turns, consecutive same-role messages merged (tool results are user content), tool
    results first within their turn, and a turn of one text block sent as a plain string."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        role = message.role
        if role is Role.SYSTEM or role is Role.DEVELOPER:
            if text := message.text:
                system.append(text)
            continue
        if role is Role.ASSISTANT:
            api_role, blocks = "assistant", _assistant_blocks(message, index)
        elif role is Role.TOOL:
            api_role, blocks = "user", [_tool_result(message, index)]
        else:
            api_role, blocks = "user", content_blocks(message.content, f"messages[{index}]")
        if not blocks:
            continue
        if turns and turns[-1]["role"] == api_role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": api_role, "content": blocks})
    for turn in turns:
        blocks = turn["content"]
        if len(blocks) == 1 and blocks[0]["type"] == "text":
            turn["content"] = blocks[0]["text"]
        elif turn["role"] == "user" and any(block["type"] == "tool_result" for block in blocks[1:]):
            # The API wants a turn's tool results before anything else in it.
            turn["content"] = sorted(blocks, key=lambda block: block["type"] != "tool_result")
    return system, turns


def _assistant_blocks(message: Message, index: int) -> list[dict[str, Any]]:
    # Signed thinking leads the turn: with thinking on, the API checks that a turn calling tools
    # starts with the thinking block that decided the calls, signature intact.
    blocks = [block for thinking in message.thinking_blocks if (block := thinking_block(thinking))]
    if message.content is not None:
        blocks += [
            block
            for block in content_blocks(message.content, f"messages[{index}]")
            if block.get("text") != ""
        ]
    for position, call in enumerate(message.tool_calls):
        where = f"messages[{index}].tool_calls[{position}].function.arguments"
        arguments = _tool_input(call.arguments, where)
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": arguments})
    return blocks


def thinking_block(thinking: ThinkingBlock) -> dict[str, Any] | None:
    """A `thinking` block with its signature, or a `redacted_thinking` one. Reasoning without a signature
    (another provider's) is left out: the API refuses a thinking block it cannot verify."""
    if thinking.redacted is not None:
        return {"type": "redacted_thinking", "data": thinking.redacted}
    if thinking.signature:
        return {"type": "thinking", "thinking": thinking.text, "signature": thinking.signature}
    return None


def _tool_result(message: Message, index: int) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
    content = message.content
    if content is not None:
        block["content"] = (
            content if isinstance(content, str) else content_blocks(content, f"messages[{index}]")
        )
    if message.tool_error:
        block["is_error"] = True
    return block


def content_blocks(content: Content | None, where: str) -> list[dict[str, Any]]:
    """Text, image and document blocks for a message's content (`where` names it in errors)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    blocks: list[dict[str, Any]] = []
    for position, part in enumerate(content):
        if isinstance(part, TextPart):
            blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            blocks.append(image_block(part.url, f"{where}.content[{position}].image_url.url"))
        elif isinstance(part, DocumentPart):
            blocks.append(document_block(part, f"{where}.content[{position}].file.file_data"))
    return blocks


def image_block(url: str, where: str = "messages") -> dict[str, Any]:
    """A data URL as a base64 image source, anything else as a URL source."""
    if not url.startswith("data:"):
        return {"type": "image", "source": {"type": "url", "url": url}}
    media_type, data = _base64_data(url, where)
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def document_block(part: DocumentPart, where: str = "messages") -> dict[str, Any]:
    """A document: a `data:` URL of text (any text/* type) as a plain-text source, any other data URL
    (a PDF) as a base64 source, an https URL as a URL source; title and context when given."""
    url = part.url
    if not url.startswith("data:"):
        source: dict[str, Any] = {"type": "url", "url": url}
    elif url.startswith("data:text/"):
        source = {"type": "text", "media_type": "text/plain", "data": _text_of(url, where)}
    else:
        media_type, data = _base64_data(url, where)
        source = {"type": "base64", "media_type": media_type, "data": data}
    block: dict[str, Any] = {"type": "document", "source": source}
    if part.title is not None:
        block["title"] = part.title
    if part.context is not None:
        block["context"] = part.context
    return block


def _base64_data(url: str, where: str) -> tuple[str, str]:
    header, comma, data = url.partition(",")
    if not comma or not header.endswith(";base64"):
        raise BadRequestError(f"Invalid '{where}': a data URL must be base64 encoded.", param=where)
    return header[5:-7], data


def _text_of(url: str, where: str) -> str:
    # The plain-text source takes the text itself, not its base64.
    header, _, data = url.partition(",")
    try:
        if header.endswith(";base64"):
            return base64.b64decode(data, validate=True).decode("utf-8")
        return urllib.parse.unquote(data, errors="strict")
    except (binascii.Error, ValueError):
        raise BadRequestError(
            f"Invalid '{where}': the text document is not valid base64-encoded UTF-8.", param=where
        ) from None


def _tool_input(arguments: str, where: str) -> dict[str, Any]:
    if not arguments.strip():
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        raise BadRequestError(f"Invalid '{where}': the arguments are not valid JSON.", param=where) from None
    if not isinstance(value, dict):
        raise BadRequestError(f"Invalid '{where}': the arguments must be a JSON object.", param=where)
    return value

"""Anthropic's `system` and `messages` (content blocks of every kind) as domain messages."""

from __future__ import annotations

import base64

import orjson

from adapters.anthropic_format.validation import (
    at,
    dictionary,
    invalid,
    missing,
    optional_bool,
    optional_string,
    string,
    unknown_value,
    wrong_type,
)
from domain.messages import (
    ContentPart,
    DocumentPart,
    ImagePart,
    Message,
    Role,
    TextPart,
    ThinkingBlock,
    ToolCall,
)

# Block types Anthropic accepts that no other format can carry (server tools' calls and results, search
# results, uploads): they reach an Anthropic deployment in the native body and are left out of the
# domain messages; see untranslated_fields().
UNTRANSLATABLE_BLOCKS = frozenset(
    {
        "search_result", "server_tool_use", "web_search_tool_result", "web_fetch_tool_result",
        "code_execution_tool_result", "bash_code_execution_tool_result", "tool_search_tool_result",
        "text_editor_code_execution_tool_result", "container_upload", "mcp_tool_use", "mcp_tool_result",
        "compaction", "tool_reference", "browser_state", "advisor_tool_result",
    }
)  # fmt: skip
_USER_BLOCKS = ("text", "image", "document", "tool_result")
_ASSISTANT_BLOCKS = ("text", "tool_use", "thinking", "redacted_thinking")
_RESULT_BLOCKS = ("text", "image", "document")
_ROLES = ("user", "assistant")


def system_message(system: object, where: str = "system") -> Message | None:
    """The top-level `system` (a string or text blocks) as one system message; None when empty."""
    if system is None:
        return None
    if isinstance(system, str):
        return Message(Role.SYSTEM, system) if system else None
    if not isinstance(system, list):
        raise wrong_type(where, "a valid string or a valid list", system)
    parts: list[ContentPart] = []
    for index, block in enumerate(system):
        block_at = f"{where}.{index}"
        if not isinstance(block, dict):
            raise wrong_type(block_at, "a valid dictionary", block)
        if block.get("type") != "text":
            raise unknown_value(f"{block_at}.type", block.get("type"), ("text",))
        parts.append(TextPart(string(block, "text", block_at)))
    return Message(Role.SYSTEM, _content(parts)) if parts else None


def read_messages(messages: object, out: list[Message]) -> None:
    """Appends to `out` the domain messages `messages` spell: a user turn's tool results become tool
    messages (one per result, ahead of the turn's other content, as chat formats want them); an
    assistant turn's tool_use blocks its tool calls, its thinking blocks its thinking_blocks."""
    if not isinstance(messages, list):
        raise missing("messages") if messages is None else wrong_type("messages", "a valid list", messages)
    if not messages:
        raise invalid("messages", "List should have at least 1 item after validation, not 0")
    last = len(messages) - 1
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise wrong_type(f"messages.{index}", "a valid dictionary", message)
        role = message.get("role")
        content = message.get("content")
        if content is None:
            raise missing(f"messages.{index}.content")
        if not isinstance(content, str | list):
            raise wrong_type(f"messages.{index}.content", "a valid string or a valid list", content)
        if not content and not (role == "assistant" and index == last):
            # Only a final assistant turn (a prefill) may be empty.
            raise invalid(f"messages.{index}.content", "all messages must have non-empty content")
        if role == "user":
            _user(content, index, out)
        elif role == "assistant":
            out.append(_assistant(content, index))
        elif role == "system":
            found = system_message(content, f"messages.{index}.content")
            if found is not None:
                out.append(found)
        elif role is None:
            raise missing(f"messages.{index}.role")
        else:
            raise unknown_value(f"messages.{index}.role", role, _ROLES)


def _user(content: str | list, index: int, out: list[Message]) -> None:
    if isinstance(content, str):
        out.append(Message(Role.USER, content))
        return
    parts: list[ContentPart] = []
    before = len(out)
    for position, block in enumerate(content):
        kind = _kind(block, index, position)
        if kind == "text":
            parts.append(_text(block, index, position))
        elif kind == "tool_result":
            out.append(_tool_result(block, index, position))
        elif kind == "image" or kind == "document":
            part = _media(block, kind, _block_at(index, position))
            if part is not None:
                parts.append(part)
        elif kind not in UNTRANSLATABLE_BLOCKS:
            raise _bad_block(kind, "user", _USER_BLOCKS, index, position)
    if parts or len(out) == before:
        # A turn of only untranslatable blocks stays a turn (empty), so that the turns keep alternating.
        out.append(Message(Role.USER, _content(parts)))


def _assistant(content: str | list, index: int) -> Message:
    if isinstance(content, str):
        return Message(Role.ASSISTANT, content)
    parts: list[ContentPart] = []
    calls: list[ToolCall] = []
    thinking: list[ThinkingBlock] = []
    for position, block in enumerate(content):
        kind = _kind(block, index, position)
        if kind == "text":
            parts.append(_text(block, index, position))
        elif kind == "tool_use":
            calls.append(_tool_use(block, index, position))
        elif kind == "thinking":
            text = block.get("thinking")
            signature = block.get("signature")
            if type(text) is not str or not (signature is None or type(signature) is str):
                where = _block_at(index, position)
                text = string(block, "thinking", where)
                signature = optional_string(block, "signature", where)
            thinking.append(ThinkingBlock(text, signature))
        elif kind == "redacted_thinking":
            thinking.append(ThinkingBlock(redacted=string(block, "data", _block_at(index, position))))
        elif kind not in UNTRANSLATABLE_BLOCKS:
            raise _bad_block(kind, "assistant", _ASSISTANT_BLOCKS, index, position)
    texts = [block.text for block in thinking if block.redacted is None] if thinking else None
    reasoning = "".join(texts) if texts else None
    return Message(
        Role.ASSISTANT,
        _content(parts) if parts else None,
        tool_calls=tuple(calls),
        reasoning_content=reasoning,
        thinking_blocks=tuple(thinking),
    )


def _block_at(index: int, position: int) -> str:
    # Paths are built only where they may be needed: most blocks never fail.
    return f"messages.{index}.content.{position}"


def _kind(block: object, index: int, position: int) -> str:
    if not isinstance(block, dict):
        raise wrong_type(f"messages.{index}.content.{position}", "a valid dictionary", block)
    kind = block.get("type")
    if isinstance(kind, str):
        return kind
    where = f"messages.{index}.content.{position}.type"
    raise missing(where) if kind is None else wrong_type(where, "a valid string", kind)


def _bad_block(kind: str, role: str, allowed: tuple[str, ...], index: int, position: int) -> Exception:
    where = f"messages.{index}.content.{position}.type"
    if kind in _USER_BLOCKS or kind in _ASSISTANT_BLOCKS:
        return invalid(where, f"'{kind}' blocks are not allowed in {role} messages")
    return unknown_value(where, kind, allowed)


def _text(block: dict, index: int, position: int) -> TextPart:
    text = block.get("text")
    if type(text) is not str:
        where = f"messages.{index}.content.{position}.text"
        raise missing(where) if text is None else wrong_type(where, "a valid string", text)
    return TextPart(text)


def _tool_use(block: dict, index: int, position: int) -> ToolCall:
    call_id = block.get("id")
    name = block.get("name")
    arguments = block.get("input")
    if type(call_id) is not str or type(name) is not str or type(arguments) is not dict:
        where = _block_at(index, position)
        call_id = string(block, "id", where)
        name = string(block, "name", where)
        arguments = dictionary(block, "input", where)
    return ToolCall(call_id, name, orjson.dumps(arguments).decode())


def _tool_result(block: dict, index: int, position: int) -> Message:
    call_id = block.get("tool_use_id")
    error = block.get("is_error")
    content = block.get("content")
    if type(call_id) is str and call_id and (error is None or type(error) is bool) and type(content) is str:
        return Message(Role.TOOL, content, tool_call_id=call_id, tool_error=bool(error))
    where = _block_at(index, position)
    call_id = string(block, "tool_use_id", where)
    if not call_id:
        raise invalid(f"{where}.tool_use_id", "String should have at least 1 character")
    error = optional_bool(block, "is_error", where)
    if content is None:
        result: str | tuple[ContentPart, ...] = ""
    elif isinstance(content, str):
        result = content
    elif isinstance(content, list):
        parts: list[ContentPart] = []
        for item_position, item in enumerate(content):
            item_at = f"{where}.content.{item_position}"
            if not isinstance(item, dict):
                raise wrong_type(item_at, "a valid dictionary", item)
            kind = item.get("type")
            if kind == "text":
                parts.append(TextPart(string(item, "text", item_at)))
            elif kind == "image" or kind == "document":
                part = _media(item, kind, item_at)
                if part is not None:
                    parts.append(part)
            elif not (isinstance(kind, str) and kind in UNTRANSLATABLE_BLOCKS):
                raise unknown_value(f"{item_at}.type", kind, _RESULT_BLOCKS)
        result = _content(parts)
    else:
        raise wrong_type(f"{where}.content", "a valid string or a valid list", content)
    return Message(Role.TOOL, result, tool_call_id=call_id, tool_error=bool(error))


def _media(block: dict, kind: str, where: str) -> ContentPart | None:
    """An image or document block as its part; None for a source only Anthropic can read (a Files API
    `file_id`, or custom content holding more than text)."""
    source = dictionary(block, "source", where)
    source_at = f"{where}.source"
    source_kind = source.get("type")
    if source_kind == "base64":
        media_type = string(source, "media_type", source_at)
        url = f"data:{media_type};base64,{string(source, 'data', source_at)}"
    elif source_kind == "url":
        url = string(source, "url", source_at)
    elif source_kind == "file":
        string(source, "file_id", source_at)
        return None
    elif kind == "document" and source_kind == "text":
        url = _text_document(string(source, "data", source_at))
    elif kind == "document" and source_kind == "content":
        text = _content_source(source, source_at)
        if text is None:
            return None
        url = _text_document(text)
    else:
        kinds = ("base64", "url", "file") if kind == "image" else ("base64", "text", "content", "url", "file")
        raise unknown_value(f"{source_at}.type", source_kind, kinds)
    if kind == "image":
        return ImagePart(url)
    return DocumentPart(url, optional_string(block, "title", where), optional_string(block, "context", where))


def _text_document(text: str) -> str:
    return "data:text/plain;base64," + base64.b64encode(text.encode()).decode()


def _content_source(source: dict, where: str) -> str | None:
    """A custom-content document's text, its text blocks joined by blank lines; None when it holds
    images (a document of those has no equivalent outside Anthropic)."""
    content = source.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise (
            missing(f"{where}.content")
            if content is None
            else wrong_type(f"{where}.content", "a valid string or a valid list", content)
        )
    texts = []
    for position, item in enumerate(content):
        item_at = at(f"{where}.content", position)
        if not isinstance(item, dict):
            raise wrong_type(item_at, "a valid dictionary", item)
        if item.get("type") == "text":
            texts.append(string(item, "text", item_at))
        elif item.get("type") == "image":
            return None
        else:
            raise unknown_value(f"{item_at}.type", item.get("type"), ("text", "image"))
    return "\n\n".join(texts)


def _content(parts: list[ContentPart]) -> str | tuple[ContentPart, ...]:
    # A lone text block is the plain string it stands for, which every format carries alike.
    if len(parts) == 1 and type(parts[0]) is TextPart:
        return parts[0].text
    return tuple(parts)

"""Responses items (a request's input, a stored conversation's inputs and outputs) as domain messages.

Each item reads as one message; the assistant's own items (its messages, reasoning and tool calls) that
follow each other fold into one assistant message, as chat formats want a turn (Anthropic needs a turn's
tool calls together, their results right after). A reasoning item is a thinking block whose signature is
the item's `encrypted_content`; a redacted thinking block is a reasoning item with no summary whose
`encrypted_content` is REDACTED followed by the block's opaque data."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from adapters.responses_format.fields import (
    array,
    invalid,
    invalid_type,
    missing,
    optional_text,
    text,
    unknown_value,
)
from adapters.responses_format.tools import flat_name
from domain.errors import BadRequestError
from domain.messages import (
    Content,
    ContentPart,
    DocumentPart,
    ImageDetail,
    ImagePart,
    Message,
    Role,
    TextPart,
    ThinkingBlock,
    ToolCall,
)

REDACTED = "redacted_thinking:"
"""Starts the `encrypted_content` of a reasoning item that stands for a redacted thinking block. No
provider's signature holds a colon (they are base64), so the two never meet."""

# The prefixes of the ids given to items that come without one, as OpenAI's ids look.
ID_PREFIXES = {
    "message": "msg", "function_call": "fc", "function_call_output": "fco", "custom_tool_call": "ctc",
    "custom_tool_call_output": "ctco", "reasoning": "rs", "web_search_call": "ws", "file_search_call": "fs",
    "image_generation_call": "ig", "code_interpreter_call": "ci", "computer_call": "cu",
    "computer_call_output": "cuo", "local_shell_call": "lsh", "local_shell_call_output": "lsho",
    "shell_call": "sh", "shell_call_output": "sho", "apply_patch_call": "apc",
    "apply_patch_call_output": "apco", "mcp_call": "mcp", "mcp_list_tools": "mcpl",
    "mcp_approval_request": "mcpr", "mcp_approval_response": "mcpa", "tool_search_call": "tsc",
    "tool_search_output": "tso", "additional_tools": "at", "compaction": "cmp", "compaction_trigger": "cmpt",
    "configuration_update": "cfg", "program": "prg", "program_output": "prgo",
}  # fmt: skip
_TRANSLATED = frozenset(
    {
        "message", "function_call", "function_call_output", "custom_tool_call", "custom_tool_call_output",
        "reasoning", "item_reference",
    }
)  # fmt: skip
UNTRANSLATABLE = frozenset(ID_PREFIXES) - _TRANSLATED
"""Items of hosted tools and of the API's own machinery: only a Responses-API deployment reads them."""
_KINDS = tuple(sorted(_TRANSLATED | UNTRANSLATABLE))
_ROLES = {"user": Role.USER, "system": Role.SYSTEM, "developer": Role.DEVELOPER, "assistant": Role.ASSISTANT}
_DETAILS = {detail.value: detail for detail in ImageDetail}
_USER_PARTS = ("input_text", "input_image", "input_file")
_ASSISTANT_PARTS = ("output_text", "refusal")
_HISTORY = "previous_response_id"


def new_id(prefix: str) -> str:
    return f"{prefix}_{os.urandom(24).hex()}"


@dataclass(frozen=True, slots=True)
class Reference:
    """An `item_reference` to resolve against the conversation's items."""

    id: str
    where: str


Piece = Message | Reference


@dataclass(frozen=True, slots=True)
class Input:
    """A request's `input`, read: the items (each with an id), their messages, and the paths of what
    only a Responses-API deployment can serve."""

    items: tuple[Mapping[str, Any], ...] = ()
    pieces: tuple[Piece, ...] = ()
    untranslated: tuple[str, ...] = ()
    references: bool = False


def read_input(value: object) -> Input:
    if value is None:
        return Input()
    if type(value) is str:
        item = {"id": new_id("msg"), "type": "message", "role": "user", "content": [_input_text(value)]}
        return Input((item,), (Message(Role.USER, value),))
    if type(value) is not list:
        raise invalid_type("input", "a string or an array of input items", value)
    items: list[Mapping[str, Any]] = []
    pieces: list[Piece] = []
    untranslated: list[str] = []
    for index, item in enumerate(value):
        where = f"input[{index}]"
        kind = kind_of_item(item, where)
        piece = item_piece(item, kind, where, untranslated)
        if piece is not None:
            pieces.append(piece)
        items.append(_with_id(item, kind))
    references = any(type(piece) is Reference for piece in pieces)
    return Input(tuple(items), tuple(pieces), tuple(untranslated), references)


def read_history(history: Iterable[Mapping[str, Any]]) -> tuple[list[Piece], tuple[str, ...]]:
    """(the pieces of a stored conversation, ("previous_response_id",) when some of it only a
    Responses-API deployment can serve). The items are the gateway's own, in the wire format."""
    pieces: list[Piece] = []
    untranslated: list[str] = []
    for item in history:
        kind = item.get("type")
        if type(kind) is str and kind not in _TRANSLATED:
            # An upstream's item of a kind this gateway does not know (yet) is no reason to fail.
            untranslated.append(_HISTORY)
            continue
        piece = item_piece(item, kind_of_item(item, _HISTORY), _HISTORY, untranslated)
        if piece is not None:
            pieces.append(piece)
    return pieces, ((_HISTORY,) if untranslated else ())


def kind_of_item(item: object, where: str) -> str:
    if type(item) is not dict:
        raise invalid_type(where, "an object", item)
    kind = item.get("type")
    if kind is None:
        # The easy message form needs no type; a reference is its id alone.
        if "role" in item:
            return "message"
        if "id" in item:
            return "item_reference"
        raise missing(f"{where}.type")
    if type(kind) is not str:
        raise invalid_type(f"{where}.type", "a string", kind)
    if kind not in _TRANSLATED and kind not in UNTRANSLATABLE:
        raise unknown_value(f"{where}.type", kind, _KINDS)
    return kind


def item_piece(item: dict, kind: str, where: str, untranslated: list[str]) -> Piece | None:
    """The message one item stands for (an assistant message for the assistant's items, to be folded);
    None for an item that carries nothing a chat model reads."""
    if kind == "message":
        return _message(item, where, untranslated)
    if kind == "function_call" or kind == "custom_tool_call":
        return Message(Role.ASSISTANT, tool_calls=(_call(item, kind, where),))
    if kind == "function_call_output" or kind == "custom_tool_call_output":
        return _output(item, where, untranslated)
    if kind == "reasoning":
        return _reasoning(item, where)
    if kind == "item_reference":
        return Reference(text(item, "id", where), where)
    untranslated.append(where)
    return None


def _with_id(item: dict, kind: str) -> Mapping[str, Any]:
    """The item as it is kept: with its type and an id, a message's string content as one text part."""
    if kind == "item_reference":
        return item
    content = item.get("content")
    text_content = kind == "message" and type(content) is str
    if type(item.get("id")) is str and item.get("type") == kind and not text_content:
        return item
    out = dict(item)
    out["type"] = kind
    if type(out.get("id")) is not str:
        out["id"] = new_id(ID_PREFIXES[kind])
    if text_content:
        out["content"] = [_output_text(content) if out["role"] == "assistant" else _input_text(content)]
    return out


def _input_text(value: str) -> dict[str, Any]:
    return {"type": "input_text", "text": value}


def _output_text(value: str) -> dict[str, Any]:
    return {"type": "output_text", "text": value, "annotations": []}


def _message(item: dict, where: str, untranslated: list[str]) -> Message:
    role = item.get("role")
    found = _ROLES.get(role) if type(role) is str else None
    if found is None:
        if role is None:
            raise missing(f"{where}.role")
        raise unknown_value(f"{where}.role", role, tuple(_ROLES))
    content = item.get("content")
    if type(content) is str:
        return Message(found, content)
    if type(content) is not list:
        if content is None:
            raise missing(f"{where}.content")
        raise invalid_type(f"{where}.content", "a string or an array of content parts", content)
    if found is Role.ASSISTANT:
        return _assistant(content, where)
    return Message(found, _parts(content, f"{where}.content", untranslated))


def _assistant(content: list, where: str) -> Message:
    parts: list[ContentPart] = []
    refusals: list[str] = []
    for index, part in enumerate(content):
        part_at = f"{where}.content[{index}]"
        kind = _part_kind(part, part_at)
        if kind == "output_text" or kind == "input_text":
            parts.append(TextPart(text(part, "text", part_at)))
        elif kind == "refusal":
            refusals.append(text(part, "refusal", part_at))
        else:
            raise unknown_value(f"{part_at}.type", kind, _ASSISTANT_PARTS)
    return Message(
        Role.ASSISTANT, _content(parts) if parts else None, refusal="".join(refusals) if refusals else None
    )


def _parts(content: list, where: str, untranslated: list[str]) -> Content:
    parts: list[ContentPart] = []
    for index, part in enumerate(content):
        part_at = f"{where}[{index}]"
        kind = _part_kind(part, part_at)
        if kind == "input_text" or kind == "output_text":
            parts.append(TextPart(text(part, "text", part_at)))
        elif kind == "input_image":
            found = _image(part, part_at, untranslated)
            if found is not None:
                parts.append(found)
        elif kind == "input_file":
            document = _file(part, part_at, untranslated)
            if document is not None:
                parts.append(document)
        else:
            raise unknown_value(f"{part_at}.type", kind, _USER_PARTS)
    return _content(parts)


def _part_kind(part: object, where: str) -> str:
    if type(part) is not dict:
        raise invalid_type(where, "an object", part)
    kind = part.get("type")
    if type(kind) is str:
        return kind
    raise missing(f"{where}.type") if kind is None else invalid_type(f"{where}.type", "a string", kind)


def _image(part: dict, where: str, untranslated: list[str]) -> ImagePart | None:
    url = optional_text(part, "image_url", where)
    detail = part.get("detail")
    if detail is not None and type(detail) is not str:
        raise invalid_type(f"{where}.detail", "a string", detail)
    if url is None:
        if optional_text(part, "file_id", where) is None:
            raise missing(f"{where}.image_url")
        # An uploaded file only OpenAI can read.
        untranslated.append(f"{where}.file_id")
        return None
    return ImagePart(url, _DETAILS.get(detail) if detail else None)


def _file(part: dict, where: str, untranslated: list[str]) -> DocumentPart | None:
    filename = optional_text(part, "filename", where)
    data = optional_text(part, "file_data", where)
    if data is not None:
        if not data.startswith("data:"):
            media_type = (mimetypes.guess_type(filename)[0] if filename else None) or "application/pdf"
            data = f"data:{media_type};base64,{data}"
        return DocumentPart(data, filename)
    url = optional_text(part, "file_url", where)
    if url is not None:
        return DocumentPart(url, filename)
    if optional_text(part, "file_id", where) is None:
        raise missing(f"{where}.file_data")
    untranslated.append(f"{where}.file_id")
    return None


def _content(parts: list[ContentPart]) -> Content:
    # A lone text part is the plain string it stands for, which every format carries alike.
    if len(parts) == 1 and type(parts[0]) is TextPart:
        return parts[0].text
    return tuple(parts)


def _call(item: dict, kind: str, where: str) -> ToolCall:
    call_id = text(item, "call_id", where)
    name = text(item, "name", where)
    namespace = optional_text(item, "namespace", where)
    if namespace:
        name = flat_name(namespace, name)
    if kind == "function_call":
        return ToolCall(call_id, name, text(item, "arguments", where))
    # A custom tool is a function of one string argument (see tools.py).
    return ToolCall(call_id, name, orjson.dumps({"input": text(item, "input", where)}).decode())


def _output(item: dict, where: str, untranslated: list[str]) -> Message:
    call_id = text(item, "call_id", where)
    if not call_id:
        raise invalid(f"{where}.call_id", "empty string. Expected a string with at least 1 character.")
    output = item.get("output")
    if type(output) is str:
        return Message(Role.TOOL, output, tool_call_id=call_id)
    if type(output) is not list:
        if output is None:
            raise missing(f"{where}.output")
        raise invalid_type(f"{where}.output", "a string or an array of content parts", output)
    return Message(Role.TOOL, _parts(output, f"{where}.output", untranslated), tool_call_id=call_id)


def _reasoning(item: dict, where: str) -> Message | None:
    signature = optional_text(item, "encrypted_content", where)
    if signature is not None and signature.startswith(REDACTED):
        return Message(Role.ASSISTANT, thinking_blocks=(ThinkingBlock(redacted=signature[len(REDACTED) :]),))
    # The raw reasoning when there is some (open models), else its summary: what the model was shown.
    texts = _texts(item, "content", "reasoning_text", where) or _texts(item, "summary", "summary_text", where)
    reasoning = "\n\n".join(texts)
    if not reasoning and signature is None:
        return None
    return Message(
        Role.ASSISTANT,
        reasoning_content=reasoning or None,
        thinking_blocks=(ThinkingBlock(reasoning, signature),),
    )


def _texts(item: dict, key: str, kind: str, where: str) -> list[str]:
    parts = array(item, key, where)
    if not parts:
        return []
    texts = []
    for index, part in enumerate(parts):
        part_at = f"{where}.{key}[{index}]"
        found = _part_kind(part, part_at)
        if found != kind:
            raise unknown_value(f"{part_at}.type", found, (kind,))
        texts.append(text(part, "text", part_at))
    return texts


def fold(pieces: Sequence[Piece], resolve: Callable[[Reference], Piece | None]) -> list[Message]:
    """The messages `pieces` spell, each run of assistant messages folded into one; references are
    replaced by what `resolve` finds for them."""
    out: list[Message] = []
    run: list[Message] = []
    for found in pieces:
        piece = resolve(found) if type(found) is Reference else found
        if piece is None:
            continue
        if type(piece) is Reference:
            raise BadRequestError(
                f"Invalid '{found.where}': an item_reference may not name another.", param=found.where
            )
        if piece.role is Role.ASSISTANT:
            run.append(piece)
            continue
        if run:
            out.append(_merge(run))
            run = []
        out.append(piece)
    if run:
        out.append(_merge(run))
    return out


def _merge(run: list[Message]) -> Message:
    if len(run) == 1:
        return run[0]
    parts: list[ContentPart] = []
    calls: list[ToolCall] = []
    thinking: list[ThinkingBlock] = []
    reasoning: list[str] = []
    refusals: list[str] = []
    for message in run:
        content = message.content
        if type(content) is str:
            parts.append(TextPart(content))
        elif content:
            parts.extend(content)
        calls.extend(message.tool_calls)
        thinking.extend(message.thinking_blocks)
        if message.reasoning_content:
            reasoning.append(message.reasoning_content)
        if message.refusal:
            refusals.append(message.refusal)
    return Message(
        Role.ASSISTANT,
        _content(parts) if parts else None,
        tool_calls=tuple(calls),
        reasoning_content="".join(reasoning) if reasoning else None,
        refusal="".join(refusals) if refusals else None,
        thinking_blocks=tuple(thinking),
    )

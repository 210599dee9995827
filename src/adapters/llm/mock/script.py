"""What the mock provider answers, decided purely from the request: the same request always gets the
same reply, tool call and vectors."""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
from array import array
from collections.abc import Mapping
from typing import Any

from domain.completions import CompletionRequest
from domain.messages import FunctionTool, NamedToolChoice, Role, ToolCall, ToolChoiceMode

DEFAULT_DIMENSIONS = 16
"""Length of a mock embedding when the request does not ask for `dimensions`: small enough to read in a
test's output, and any caller that needs OpenAI's sizes can ask for them."""
PIXEL_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAAC0lEQVR4nGNgAAIAAAUAAXpeqz8AAAAASUVORK5CYII="
"""A valid 1x1 transparent PNG, base64: every image the mock makes."""
FLAGGED_MARKER = "mock-flagged"
"""A moderation input holding this is flagged in every category by the mock; any other flags nothing."""
_WORD = re.compile(r"\s*\S+")


def reply_text(request: CompletionRequest) -> str:
    """`mock_response` when the request has one; otherwise the last user message echoed in a friendly
    fixed sentence."""
    if request.mock_response is not None:
        return request.mock_response
    said = next((m.text for m in reversed(request.messages) if m.role is Role.USER), "")
    if not said:
        return "Hi there! Send me a message and I will echo it back. (Switchyard demo model, offline.)"
    return f'Hi there! You said: "{said}". (Switchyard demo model, offline.)'


def forced_tool_call(request: CompletionRequest) -> ToolCall | None:
    """The call a request forces (tool_choice "required" or a named function), arguments built from the
    schema's required properties; None when the request leaves the model free to answer in text."""
    choice = request.tool_choice
    if not request.tools or request.mock_response is not None:
        return None
    if isinstance(choice, NamedToolChoice):
        tool = next((t for t in request.tools if t.name == choice.name), request.tools[0])
    elif choice is ToolChoiceMode.REQUIRED:
        tool = request.tools[0]
    else:
        return None
    # Function arguments are always a JSON object, whatever the schema's top level says.
    value = _placeholder(tool.parameters or {})
    arguments = json.dumps(value if isinstance(value, dict) else {}, separators=(",", ":"))
    return ToolCall(id=_call_id(tool, arguments), name=tool.name, arguments=arguments)


def words(text: str) -> list[str]:
    """Pieces of `text` a word each, leading whitespace kept, that join back into exactly `text`."""
    pieces = _WORD.findall(text)
    rest = len(text) - sum(map(len, pieces))
    if rest:
        pieces.append(text[-rest:])
    return pieces or [text]


def unit_vector(item: str | tuple[int, ...], dimensions: int) -> array[float]:
    """A deterministic unit vector for one input, derived from a hash of it."""
    key = item.encode("utf-8", "surrogatepass") if isinstance(item, str) else repr(item).encode()
    raw = hashlib.shake_256(key).digest(4 * dimensions)
    values = [n / 2**31 - 1.0 for n in struct.unpack(f"<{dimensions}I", raw)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return array("f", (v / norm for v in values))


def _call_id(tool: FunctionTool, arguments: str) -> str:
    return "call_" + hashlib.sha256(f"{tool.name}\0{arguments}".encode()).hexdigest()[:24]


def _placeholder(schema: Mapping[str, Any], depth: int = 0) -> Any:
    """The simplest value a JSON schema accepts: only required properties, first enum value, zeros."""
    if depth > 16 or not isinstance(schema, Mapping):
        return None
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object" or (kind is None and "properties" in schema):
        properties = schema.get("properties") if isinstance(schema.get("properties"), Mapping) else {}
        required = schema.get("required") if isinstance(schema.get("required"), list) else []
        return {name: _placeholder(properties.get(name, {}), depth + 1) for name in required}
    return {"string": "", "integer": 0, "number": 0, "boolean": False, "array": []}.get(kind)


def overlap(query: str, document: str) -> float:
    """The share of the query's distinct words (case-folded) that the document holds: 0 to 1."""
    asked = set(re.findall(r"\w+", query.casefold()))
    held = set(re.findall(r"\w+", document.casefold()))
    return len(asked & held) / len(asked) if asked else 0.0

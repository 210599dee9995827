"""Tool definitions as the model sees them: OpenAI renders functions into the prompt as a TypeScript
namespace. Counting that text (plus a small fixed overhead) lands within a few tokens of the usage
OpenAI reports, where counting the JSON schema overshoots by a third."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain.messages import FunctionTool


def render_tools(tools: Sequence[FunctionTool]) -> str:
    lines = ["namespace functions {", ""]
    for tool in tools:
        if tool.description:
            lines.append(f"// {tool.description}")
        properties = (tool.parameters or {}).get("properties")
        if isinstance(properties, Mapping) and properties:
            lines.append(f"type {tool.name} = (_: {{")
            lines.append(_object_body(tool.parameters or {}, 0))
            lines.append("}) => any;")
        else:
            lines.append(f"type {tool.name} = () => any;")
        lines.append("")
    lines.append("} // namespace functions")
    return "\n".join(lines)


def _object_body(schema: Mapping[str, Any], indent: int) -> str:
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return ""
    required = schema.get("required")
    required = set(required) if isinstance(required, list) else set()
    lines = []
    for name, prop in properties.items():
        description = prop.get("description") if isinstance(prop, Mapping) else None
        if description:
            lines.append(f"// {description}")
        optional = "" if name in required else "?"
        lines.append(f"{name}{optional}: {_type(prop, indent)},")
    return "\n".join(" " * indent + line for line in lines)


def _type(schema: Any, indent: int) -> str:
    if not isinstance(schema, Mapping):
        return "any"
    kind, enum = schema.get("type"), schema.get("enum")
    if isinstance(enum, list) and kind in ("string", "integer", "number", None):
        return " | ".join(f'"{item}"' for item in enum)
    if kind == "string":
        return "string"
    if kind in ("integer", "number"):
        return "number"
    if kind in ("boolean", "null"):
        return str(kind)
    if kind == "array":
        return f"{_type(schema.get('items'), indent)}[]"
    if kind == "object":
        return f"{{\n{_object_body(schema, indent + 2)}\n}}"
    return "any"

"""Responses tools and tool_choice as the domain's function tools, and the way back from a call's name.

Function tools translate as they are. A custom (freeform) tool becomes a function of one required string
argument, `input`, its grammar told in the description. A namespace's tools are flattened into top-level
functions named `<namespace>__<name>` (made valid for every provider: at most 64 characters of
[a-zA-Z0-9_-]). Hosted tools (web search, file search, code interpreter, ...) only a Responses-API
deployment runs: they are left out of the translation and named in `left_out` as `tools.<type>`."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from adapters.responses_format.fields import (
    array,
    at,
    invalid,
    invalid_type,
    missing,
    obj,
    optional_flag,
    optional_text,
    text,
    unknown_value,
)
from domain.messages import FunctionTool, NamedToolChoice, ToolChoice, ToolChoiceMode

_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_NOT_NAME = re.compile(r"[^a-zA-Z0-9_-]")
_MODES = {"auto": ToolChoiceMode.AUTO, "none": ToolChoiceMode.NONE, "required": ToolChoiceMode.REQUIRED}
_GRAMMARS = ("lark", "regex")
_INPUT_SCHEMA = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "The tool's whole input, as raw text."}},
    "required": ["input"],
    "additionalProperties": False,
}


@dataclass(frozen=True, slots=True)
class ToolName:
    """What a translated function stands for: a function or custom tool `name`, inside `namespace`."""

    name: str
    namespace: str | None = None
    custom: bool = False


@dataclass(frozen=True, slots=True)
class ToolTable:
    """The request's tools as translated, and how to name their calls back."""

    tools: tuple[FunctionTool, ...] = ()
    renamed: Mapping[str, ToolName] = field(default_factory=dict)
    """Translated name -> the tool it stands for, for the custom and namespaced tools (only)."""
    left_out: tuple[str, ...] = ()
    """`tools.<type>` of each kind of hosted tool the request holds."""

    def original(self, name: str) -> ToolName:
        """The tool a call of the translated function `name` is a call of."""
        found = self.renamed.get(name)
        return found if found is not None else ToolName(name)


_NO_TOOLS = ToolTable()


def flat_name(namespace: str, name: str) -> str:
    """The top-level name of tool `name` of `namespace`; the same for the same two names, always."""
    flat = f"{namespace}__{name}"
    if _NAME.fullmatch(flat):
        return flat
    clean = _NOT_NAME.sub("_", flat)
    if len(clean) > 64:
        # A digest of the whole keeps two long names that share a prefix apart.
        clean = f"{clean[:55]}_{hashlib.sha256(flat.encode()).hexdigest()[:8]}"
    return clean


def read_tools(value: object) -> ToolTable:
    if value is None:
        return _NO_TOOLS
    if type(value) is not list:
        raise invalid_type("tools", "an array", value)
    tools: list[FunctionTool] = []
    renamed: dict[str, ToolName] = {}
    left_out: dict[str, None] = {}
    names: set[str] = set()
    for index, tool in enumerate(value):
        where = f"tools[{index}]"
        kind = _kind(tool, where)
        if kind == "function" or kind == "custom":
            name = text(tool, "name", where)
            if not _NAME.fullmatch(name):
                raise invalid(f"{where}.name", f"{name[:80]!r} does not match '^[a-zA-Z0-9_-]{{1,64}}$'.")
            _add(_tool(tool, kind, name, where), f"{where}.name", tools, names)
            if kind == "custom":
                renamed[name] = ToolName(name, custom=True)
        elif kind == "namespace":
            _namespace(tool, where, tools, renamed, names)
        else:
            left_out[f"tools.{kind}"] = None
    return ToolTable(tuple(tools), renamed, tuple(left_out))


def _kind(tool: object, where: str) -> str:
    if type(tool) is not dict:
        raise invalid_type(where, "an object", tool)
    kind = tool.get("type")
    if type(kind) is str:
        return kind
    raise missing(f"{where}.type") if kind is None else invalid_type(f"{where}.type", "a string", kind)


def _add(tool: FunctionTool, where: str, tools: list[FunctionTool], names: set[str]) -> None:
    if tool.name in names:
        raise invalid(where, f"a tool named {tool.name[:80]!r} is given twice.")
    names.add(tool.name)
    tools.append(tool)


def _namespace(
    tool: dict, where: str, tools: list[FunctionTool], renamed: dict[str, ToolName], names: set[str]
) -> None:
    namespace = text(tool, "name", where)
    if not namespace:
        raise invalid(f"{where}.name", "empty string. Expected a string with at least 1 character.")
    inner = array(tool, "tools", where)
    if inner is None:
        raise missing(f"{where}.tools")
    for position, member in enumerate(inner):
        member_at = f"{where}.tools[{position}]"
        kind = _kind(member, member_at)
        if kind != "function" and kind != "custom":
            raise unknown_value(f"{member_at}.type", kind, ("function", "custom"))
        name = text(member, "name", member_at)
        if not name:
            raise invalid(f"{member_at}.name", "empty string. Expected a string with at least 1 character.")
        flat = flat_name(namespace, name)
        _add(_tool(member, kind, flat, member_at), f"{member_at}.name", tools, names)
        renamed[flat] = ToolName(name, namespace, custom=kind == "custom")


def _tool(tool: dict, kind: str, name: str, where: str) -> FunctionTool:
    description = optional_text(tool, "description", where)
    if kind == "custom":
        return FunctionTool(name, _custom_description(description, tool, where), _INPUT_SCHEMA)
    parameters = obj(tool, "parameters", where)
    return FunctionTool(name, description, parameters, optional_flag(tool, "strict", where))


def _custom_description(description: str | None, tool: dict, where: str) -> str:
    """The custom tool's description, with how its one argument is to be written."""
    hint = "Call this tool with one argument, `input`: the tool's whole input as raw text (not JSON)"
    form = obj(tool, "format", where)
    kind = "text" if form is None else form.get("type")
    if form is not None and kind == "grammar":
        form_at = at(where, "format")
        syntax = text(form, "syntax", form_at)
        if syntax not in _GRAMMARS:
            raise unknown_value(f"{form_at}.syntax", syntax, _GRAMMARS)
        hint += f", which must match this {syntax} grammar exactly:\n{text(form, 'definition', form_at)}"
    elif kind == "text":
        hint += "."
    else:
        raise unknown_value(f"{where}.format.type", kind, ("text", "grammar"))
    return f"{description}\n\n{hint}" if description else hint


def read_tool_choice(value: object, table: ToolTable) -> tuple[ToolChoice | None, tuple[FunctionTool, ...]]:
    """(the tool choice, the tools it leaves the model). A choice of a hosted tool is `auto` (the hosted
    tools are left out); a choice that needs a tool when none is left is no choice at all."""
    tools = table.tools
    if value is None:
        return None, tools
    choice: ToolChoice
    if type(value) is str:
        mode = _MODES.get(value)
        if mode is None:
            raise unknown_value("tool_choice", value, tuple(_MODES))
        choice = mode
    elif type(value) is dict:
        kind = _kind(value, "tool_choice")
        if kind == "function" or kind == "custom":
            choice = NamedToolChoice(_chosen(value, "tool_choice", table))
        elif kind == "allowed_tools":
            choice, tools = _allowed(value, table)
        else:
            choice = ToolChoiceMode.AUTO
    else:
        raise invalid_type("tool_choice", "a string or an object", value)
    # No tool left (only hosted ones were sent, or none was allowed): nothing to choose from.
    return (choice if tools else None), tools


def _allowed(value: dict, table: ToolTable) -> tuple[ToolChoice, tuple[FunctionTool, ...]]:
    mode = value.get("mode")
    if mode != "auto" and mode != "required":
        raise unknown_value("tool_choice.mode", mode, ("auto", "required"))
    listed = array(value, "tools", "tool_choice")
    if listed is None:
        raise missing("tool_choice.tools")
    keep: set[str] = set()
    for index, tool in enumerate(listed):
        where = f"tool_choice.tools[{index}]"
        kind = _kind(tool, where)
        if kind == "function" or kind == "custom":
            keep.add(_chosen(tool, where, table))
    return _MODES[mode], tuple(tool for tool in table.tools if tool.name in keep)


def _chosen(choice: dict, where: str, table: ToolTable) -> str:
    """The translated name of the function or custom tool `choice` names."""
    name = text(choice, "name", where)
    namespace = optional_text(choice, "namespace", where)
    if namespace is not None:
        name = flat_name(namespace, name)
    if any(tool.name == name for tool in table.tools):
        return name
    # A namespaced tool may be named by its own name when that is unambiguous.
    found = [flat for flat, original in table.renamed.items() if original.name == name]
    if len(found) == 1:
        return found[0]
    raise invalid(f"{where}.name", f"no tool is named {name[:80]!r}.")

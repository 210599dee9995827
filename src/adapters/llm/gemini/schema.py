"""JSON Schema reduced to the OpenAPI 3.0 subset that Gemini's `Schema` accepts (function parameters and
`responseSchema`): `$ref`s inlined, `type: [x, "null"]` and null branches of `anyOf` turned into
`nullable`, types in Gemini's upper-case spelling, and what Gemini refuses or ignores left out
(`$schema`, `additionalProperties`, `default`, formats it does not know, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_TYPES = {
    "string": "STRING",
    "number": "NUMBER",
    "integer": "INTEGER",
    "boolean": "BOOLEAN",
    "array": "ARRAY",
    "object": "OBJECT",
}
# Gemini's Schema reference: these formats per type, none other.
_FORMATS = {
    "STRING": frozenset({"enum", "date-time"}),
    "NUMBER": frozenset({"float", "double"}),
    "INTEGER": frozenset({"int32", "int64", "enum"}),
}
_KEPT = ("title", "description", "minItems", "maxItems", "minimum", "maximum")


def gemini_schema(schema: Mapping[str, Any], *, ordered: bool = False) -> dict[str, Any]:
    """The reduced schema. `ordered` adds `propertyOrdering` (the caller's key order), which Gemini
    follows when it writes structured output; function parameters do not need it."""
    defs: dict[str, Any] = {}
    for key in ("definitions", "$defs"):
        if isinstance(schema.get(key), Mapping):
            defs.update(schema[key])
    return _reduce(schema, defs, ordered, ())


def _reduce(node: object, defs: Mapping[str, Any], ordered: bool, seen: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(node, Mapping):
        return {}
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        rest = {key: value for key, value in node.items() if key != "$ref"}
        if name in seen or not isinstance(defs.get(name), Mapping):
            # A recursive (or dangling) reference cannot be inlined: the loop is cut with an open object.
            return {"type": "OBJECT", **_kept(rest)}
        return _reduce({**defs[name], **rest}, defs, ordered, (*seen, name))
    all_of = node.get("allOf")
    if isinstance(all_of, list) and all_of:
        return _reduce(_merged(node, all_of, defs), defs, ordered, seen)

    out: dict[str, Any] = {}
    nullable = node.get("nullable") is True
    kind = node.get("type")
    if isinstance(kind, list):
        nullable = nullable or "null" in kind
        kinds = [k for k in kind if k != "null"]
        if len(kinds) > 1:
            rest = {key: value for key, value in node.items() if key != "type"}
            branches = [_reduce({**rest, "type": k}, defs, ordered, seen) for k in kinds]
            return {**_kept(node), "anyOf": branches, **({"nullable": True} if nullable else {})}
        kind = kinds[0] if kinds else None
    elif kind == "null":
        nullable, kind = True, None

    branches = node.get("anyOf") or node.get("oneOf")
    if isinstance(branches, list) and branches:
        nullable = nullable or any(_is_null(branch) for branch in branches)
        kept = [branch for branch in branches if not _is_null(branch)]
        if len(kept) == 1:
            rest = {key: value for key, value in node.items() if key not in ("anyOf", "oneOf")}
            inner = _reduce({**kept[0], **{k: v for k, v in rest.items() if k in _KEPT}}, defs, ordered, seen)
            return {**inner, "nullable": True} if nullable else inner
        if kept:
            out["anyOf"] = [_reduce(branch, defs, ordered, seen) for branch in kept]

    gemini_type = _TYPES.get(kind) if isinstance(kind, str) else None
    values = node.get("enum")
    if "const" in node:
        values = [node["const"]]
    if isinstance(values, list):
        nullable = nullable or None in values
        values = [value for value in values if value is not None]
        if gemini_type is None:
            gemini_type = "STRING" if all(isinstance(v, str) for v in values) else None
        if gemini_type in ("STRING", "INTEGER", "NUMBER") and values:
            out["enum"] = [value if isinstance(value, str) else _text(value) for value in values]
            if gemini_type != "STRING":
                out["format"] = "enum"
    if gemini_type is not None:
        out["type"] = gemini_type
    format_ = node.get("format")
    if isinstance(format_, str) and "format" not in out and format_ in _FORMATS.get(gemini_type or "", ()):
        out["format"] = format_
    out.update(_kept(node))
    if nullable:
        out["nullable"] = True

    properties = node.get("properties")
    if isinstance(properties, Mapping) and properties:
        out["properties"] = {str(name): _reduce(sub, defs, ordered, seen) for name, sub in properties.items()}
        required = node.get("required")
        if isinstance(required, list):
            # Gemini refuses a required name that is not among the properties.
            named = [name for name in required if name in out["properties"]]
            if named:
                out["required"] = named
        if ordered and len(properties) > 1:
            out["propertyOrdering"] = list(out["properties"])
        out.setdefault("type", "OBJECT")
    items = node.get("items")
    if isinstance(items, list):  # tuple validation: the first shape stands for all
        items = items[0] if items else None
    if isinstance(items, Mapping):
        out["items"] = _reduce(items, defs, ordered, seen)
        out.setdefault("type", "ARRAY")
    elif out.get("type") == "ARRAY":
        # Gemini refuses an array without `items` ("items: missing field"); a list of strings is the
        # likeliest meaning of an untyped one.
        out["items"] = {"type": "STRING"}
    return out


def _merged(node: Mapping[str, Any], all_of: list[Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """An `allOf` folded into one schema: properties and required names joined, other keys kept from
    the first schema that has them."""
    merged: dict[str, Any] = {key: value for key, value in node.items() if key != "allOf"}
    properties: dict[str, Any] = dict(merged.get("properties") or {})
    required: list[str] = list(merged.get("required") or [])
    for branch in all_of:
        if isinstance(branch, Mapping) and isinstance(branch.get("$ref"), str):
            branch = defs.get(branch["$ref"].rsplit("/", 1)[-1], {})
        if not isinstance(branch, Mapping):
            continue
        properties.update(branch.get("properties") or {})
        required.extend(name for name in branch.get("required") or () if name not in required)
        for key, value in branch.items():
            if key not in ("properties", "required"):
                merged.setdefault(key, value)
    if properties:
        merged["properties"] = properties
    if required:
        merged["required"] = required
    return merged


def _kept(node: Mapping[str, Any]) -> dict[str, Any]:
    return {key: node[key] for key in _KEPT if key in node and node[key] is not None}


def _is_null(branch: object) -> bool:
    return isinstance(branch, Mapping) and branch.get("type") == "null"


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

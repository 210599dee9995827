"""Request validation failures told the way OpenAI tells them: one message that names the field."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from adapters.openai_format.wire import UNION_TAGS
from domain.errors import BadRequestError

_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "a boolean",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "list_type": "an array",
}
# A value of no branch of a union is described by what the field takes, keyed by the field's name.
_UNION_EXPECTED = {
    "content": "a string or an array of content parts",
    "stop": "a string or an array of strings",
    "tool_choice": "'auto', 'none', 'required' or an object naming a function",
    "function_call": "'auto', 'none' or an object naming a function",
}


def param_name(loc: Sequence[int | str]) -> str | None:
    """('messages', 1, 'content') -> 'messages[1].content', the way OpenAI names a field."""
    name = ""
    for item in loc:
        if isinstance(item, int):
            name += f"[{item}]"
        elif item not in UNION_TAGS:
            name += f".{item}" if name else item
    return name or None


def kind_of(value: object) -> str:
    """The JSON kind of a decoded value, as an error message names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def invalid_type(param: str, expected: str, value: object) -> BadRequestError:
    return BadRequestError(
        f"Invalid type for '{param}': expected {expected}, but got {kind_of(value)} instead.", param=param
    )


def missing(param: str) -> BadRequestError:
    return BadRequestError(f"Missing required parameter: '{param}'.", param=param)


def bad_request(exc: ValidationError, *, what: str) -> BadRequestError:
    """The first failure of a validation, as OpenAI reports one; `what` names the body for a top-level
    failure (a body that is not an object at all)."""
    error = exc.errors(include_url=False)[0]
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    param = param_name(error["loc"])
    if param is None:
        return BadRequestError(f"The {what} must be a JSON object, but got {kind_of(value)} instead.")
    if kind == "missing":
        return missing(param)
    if kind in _EXPECTED:
        return invalid_type(param, _EXPECTED[kind], value)
    if kind in ("union_tag_not_found", "union_tag_invalid"):
        if ctx.get("discriminator") == "_number_kind()":
            return invalid_type(param, "a number", value)
        field = param.rsplit(".", 1)[-1].split("[", 1)[0]
        return invalid_type(param, _UNION_EXPECTED.get(field, "another type"), value)
    if kind == "literal_error":
        shown = repr(value[:80]) if isinstance(value, str) else kind_of(value)
        message = f"Invalid value for '{param}': {shown}. Supported values are: {ctx.get('expected')}."
    elif kind == "too_short":
        message = f"Invalid '{param}': empty array. Expected at least {ctx.get('min_length')} item."
    elif kind == "string_too_short":
        message = f"Invalid '{param}': empty string. Expected a string with at least 1 character."
    elif kind == "string_too_long":
        message = f"Invalid '{param}': string too long. Expected at most {ctx.get('max_length')} characters."
    elif kind == "string_pattern_mismatch":
        message = f"Invalid '{param}': expected a string that matches the pattern '{ctx.get('pattern')}'."
    elif kind in ("greater_than_equal", "greater_than"):
        message = f"Invalid '{param}': {value} is less than the minimum of {ctx.get('ge', ctx.get('gt'))}."
    elif kind in ("less_than_equal", "less_than"):
        message = f"Invalid '{param}': {value} is greater than the maximum of {ctx.get('le', ctx.get('lt'))}."
    else:
        message = f"Invalid '{param}': {error['msg']}."
    return BadRequestError(message, param=param)

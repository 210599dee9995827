"""Reading the fields of a decoded Responses request by hand, failures told the way OpenAI tells them."""

from __future__ import annotations

from adapters.openai_format.validation import invalid_type, kind_of, missing
from domain.errors import BadRequestError

__all__ = [
    "array",
    "at",
    "integer",
    "invalid",
    "invalid_type",
    "is_int",
    "missing",
    "number",
    "obj",
    "optional_flag",
    "optional_text",
    "text",
    "unknown_value",
]


def at(where: str, key: str) -> str:
    """The path of `key` inside the object at path `where` ("" for the body itself): `input[2].content`."""
    return f"{where}.{key}" if where else key


def invalid(param: str, reason: str) -> BadRequestError:
    return BadRequestError(f"Invalid '{param}': {reason}", param=param)


def unknown_value(param: str, value: object, supported: tuple[str, ...]) -> BadRequestError:
    shown = repr(value[:80]) if isinstance(value, str) else kind_of(value)
    allowed = ", ".join(repr(name) for name in supported)
    return BadRequestError(
        f"Invalid value for '{param}': {shown}. Supported values are: {allowed}.", param=param
    )


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def text(block: dict, key: str, where: str) -> str:
    """The required string field `key` of the object at path `where`."""
    value = block.get(key)
    if type(value) is str:
        return value
    if value is None:
        raise missing(at(where, key))
    raise invalid_type(at(where, key), "a string", value)


def optional_text(block: dict, key: str, where: str) -> str | None:
    value = block.get(key)
    if value is None or type(value) is str:
        return value
    raise invalid_type(at(where, key), "a string", value)


def optional_flag(block: dict, key: str, where: str) -> bool | None:
    value = block.get(key)
    if value is None or type(value) is bool:
        return value
    raise invalid_type(at(where, key), "a boolean", value)


def integer(block: dict, key: str, where: str, *, low: int, high: int | None = None) -> int | None:
    value = block.get(key)
    if value is None:
        return None
    param = at(where, key)
    if not is_int(value):
        raise invalid_type(param, "an integer", value)
    if value < low:
        raise invalid(param, f"{value} is less than the minimum of {low}.")
    if high is not None and value > high:
        raise invalid(param, f"{value} is greater than the maximum of {high}.")
    return value


def number(block: dict, key: str, where: str) -> float | None:
    value = block.get(key)
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    raise invalid_type(at(where, key), "a number", value)


def obj(block: dict, key: str, where: str) -> dict | None:
    """The optional object field `key`."""
    value = block.get(key)
    if value is None or type(value) is dict:
        return value
    raise invalid_type(at(where, key), "an object", value)


def array(block: dict, key: str, where: str) -> list | None:
    """The optional array field `key`."""
    value = block.get(key)
    if value is None or type(value) is list:
        return value
    raise invalid_type(at(where, key), "an array", value)

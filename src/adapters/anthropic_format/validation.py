"""Request validation failures told the way Anthropic tells them: `<field path>: <reason>`."""

from __future__ import annotations

from adapters.openai_format.validation import kind_of
from domain.errors import BadRequestError


def invalid(param: str, reason: str) -> BadRequestError:
    """`param` is the field's path as Anthropic writes it (`messages.1.content.0.type`)."""
    return BadRequestError(f"{param}: {reason}", param=param)


def missing(param: str) -> BadRequestError:
    return invalid(param, "Field required")


def wrong_type(param: str, expected: str, value: object) -> BadRequestError:
    return invalid(param, f"Input should be {expected}, not {kind_of(value)}")


def unknown_value(param: str, value: object, supported: tuple[str, ...]) -> BadRequestError:
    shown = repr(value[:80]) if isinstance(value, str) else kind_of(value)
    allowed = ", ".join(repr(name) for name in supported)
    return invalid(param, f"Input tag {shown} does not match any of the expected tags: {allowed}")


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def at(where: str, key: str | int) -> str:
    """The path of `key` inside the object at path `where` ("" for the body itself)."""
    return f"{where}.{key}" if where else str(key)


def string(block: dict, key: str, where: str) -> str:
    """The required string field `key` of a decoded object at path `where`."""
    value = block.get(key)
    if isinstance(value, str):
        return value
    if value is None:
        raise missing(at(where, key))
    raise wrong_type(at(where, key), "a valid string", value)


def optional_string(block: dict, key: str, where: str) -> str | None:
    value = block.get(key)
    if value is None or isinstance(value, str):
        return value
    raise wrong_type(at(where, key), "a valid string", value)


def optional_bool(block: dict, key: str, where: str) -> bool | None:
    value = block.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise wrong_type(at(where, key), "a valid boolean", value)


def dictionary(block: dict, key: str, where: str) -> dict:
    value = block.get(key)
    if isinstance(value, dict):
        return value
    if value is None:
        raise missing(at(where, key))
    raise wrong_type(at(where, key), "a valid dictionary", value)

"""Reading management requests: JSON bodies into their schemas and query parameters, every flaw a 400
naming the field; answers as JSON."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from litestar import Request, Response
from pydantic import BaseModel, ValidationError

from adapters.http.exchange import JSON, read_json
from domain.errors import BadRequestError

B = TypeVar("B", bound=BaseModel)


async def read_body(request: Request, schema: type[B]) -> B:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequestError("The request body must be a JSON object", code="invalid_json")
    return validate(schema, body)


def validate(schema: type[B], body: dict[str, Any]) -> B:
    try:
        return schema.model_validate(body)
    except ValidationError as exc:
        raise invalid(exc) from None


_SHAPE_MISMATCHES = frozenset({"model_type", "model_attributes_type", "list_type", "dict_type"})


def invalid(exc: ValidationError) -> BadRequestError:
    """The first flaw pydantic found, as a 400 naming the field (`member.0.role`)."""
    errors = exc.errors(include_url=False)
    # Of a union's alternatives, the ones whose shape did not even match say least: skip them.
    telling = [e for e in errors if e["type"] not in _SHAPE_MISMATCHES] or errors
    first = telling[0]
    # Unions add the tag of each alternative (`list[Member]`) to the location: not a field name.
    parts = [str(p) for p in first["loc"] if isinstance(p, int) or str(p).isidentifier()]
    param = ".".join(parts) or None
    message = str(first["msg"]).removeprefix("Value error, ")
    return BadRequestError(f"{param}: {message}" if param else message, param=param)


def query(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value if value not in (None, "") else None


def query_int(request: Request, name: str, default: int) -> int:
    value = query(request, name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise BadRequestError(f"{name} must be a whole number, got {value!r}", param=name) from None


def query_flag(request: Request, name: str) -> bool:
    value = (query(request, name) or "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise BadRequestError(f"{name} must be true or false, got {value!r}", param=name)
    return value in ("true", "1")


def query_list(request: Request, name: str) -> list[str]:
    """A list given as `a,b` or as the parameter repeated."""
    values = request.query_params.getall(name, [])
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def required_query(request: Request, name: str) -> str:
    value = query(request, name)
    if value is None:
        raise BadRequestError(f"The query parameter {name} is required", param=name)
    return value


def answer(data: Any) -> Response[bytes]:
    return Response(orjson.dumps(data), media_type=JSON, status_code=200)

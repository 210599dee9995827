"""The moderations format (`/v1/moderations`), both ways: a client's request parsed, a reply rendered, an
OpenAI upstream's body built and its reply read."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, ValidationError

from adapters.openai_format import wire
from adapters.openai_format.replies import _malformed
from adapters.openai_format.requests import _controls
from adapters.openai_format.validation import bad_request, invalid_type
from domain.errors import BadRequestError
from domain.moderation import ModerationRequest, ModerationResponse, ModerationResult


class ModerationBody(wire.GatewayFields):
    model_config = ConfigDict(strict=True, extra="allow")

    model: str = Field(min_length=1)
    input: Any  # checked by `_inputs`: a union would name its members in the error's `param`


def parse_moderation_request(body: object) -> ModerationRequest:
    """A `/v1/moderations` body (`input`: a string or an array of strings) as a domain request;
    BadRequestError naming the field otherwise."""
    try:
        request = ModerationBody.model_validate(body)
    except ValidationError as exc:
        raise bad_request(exc, what="request body") from exc
    return ModerationRequest(
        model=request.model,
        inputs=_inputs(request.input),
        metadata=request.metadata or {},
        controls=_controls(request),
        extra_body=request.__pydantic_extra__ or {},
    )


def _inputs(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        raise invalid_type("input", "a string or an array of strings", value)
    if not value:
        raise BadRequestError("Invalid 'input': must not be empty.", param="input")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise invalid_type(f"input[{index}]", "a string", item)
    return tuple(value)


def render_moderation(response: ModerationResponse) -> dict[str, Any]:
    """OpenAI's moderation object: the id, the model and one result per input, in order."""
    return {
        "id": response.id,
        "model": response.model,
        "results": [
            {
                "flagged": result.flagged,
                "categories": dict(result.categories),
                "category_scores": dict(result.category_scores),
                **(
                    {"category_applied_input_types": dict(result.category_applied_input_types)}
                    if result.category_applied_input_types is not None
                    else {}
                ),
            }
            for result in response.results
        ],
    }


def moderation_body(request: ModerationRequest, upstream_model: str) -> dict[str, Any]:
    """The body for an OpenAI upstream's `/moderations`."""
    inputs = request.inputs
    text: str | list[str] = inputs[0] if len(inputs) == 1 else list(inputs)
    return {**request.extra_body, "model": upstream_model, "input": text}


class _Result(wire._Lenient):
    flagged: bool = False
    categories: dict[str, bool | None] = Field(default_factory=dict)
    category_scores: dict[str, float | None] = Field(default_factory=dict)
    category_applied_input_types: dict[str, Any] | None = None


class _Moderation(wire._Lenient):
    id: str | None = None
    model: str | None = None
    results: list[_Result]


def read_moderation(body: object) -> ModerationResponse:
    """A decoded moderation reply from an upstream; BadGatewayError when it is not one."""
    try:
        reply = _Moderation.model_validate(body)
    except ValidationError as exc:
        raise _malformed("moderation", exc) from exc
    return ModerationResponse(
        id=reply.id or "",
        model=reply.model or "",
        results=tuple(
            ModerationResult(
                flagged=result.flagged,
                categories={name: bool(flag) for name, flag in result.categories.items()},
                category_scores={name: score or 0.0 for name, score in result.category_scores.items()},
                category_applied_input_types=result.category_applied_input_types,
            )
            for result in reply.results
        ),
    )

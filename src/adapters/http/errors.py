"""The one table from failures to HTTP answers: in OpenAI's error shape, or Anthropic's on the Anthropic
routes (/v1/messages...)."""

from __future__ import annotations

import math

import orjson
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException

from adapters.anthropic_format import render_error as render_anthropic_error
from adapters.openai_format import render_error
from domain.errors import (
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    SwitchyardError,
    UnprocessableEntityError,
)

_log = structlog.get_logger("switchyard.http")

# Framework exceptions (routing, body limits) by status, as the domain error each one means to a client.
_HTTP_STATUS_KINDS: dict[int, type[SwitchyardError]] = {
    400: BadRequestError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: UnprocessableEntityError,
}


ANTHROPIC_ROUTES = "/v1/messages"
"""Paths under this prefix speak Anthropic's format, errors included."""


def error_body(error: SwitchyardError, path: str) -> tuple[int, bytes]:
    """The status and JSON body of `error` in the format of the route at `path`."""
    if path.startswith(ANTHROPIC_ROUTES):
        status, body = render_anthropic_error(error)
        return status, orjson.dumps(body)
    return error.status_code, orjson.dumps(render_error(error))


def error_response(
    error: SwitchyardError, headers: dict[str, str] | None = None, *, path: str = ""
) -> Response[bytes]:
    headers = dict(headers or {})
    if isinstance(error, RateLimitError) and error.retry_after is not None:
        headers["retry-after"] = str(max(1, math.ceil(error.retry_after)))
    status, body = error_body(error, path)
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _switchyard_error(request: Request, exc: SwitchyardError) -> Response[bytes]:
    return error_response(exc, path=request.scope["path"])


def _http_exception(request: Request, exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if isinstance(exc, NotFoundException):
        error: SwitchyardError = NotFoundError(f"Unknown route: {request.method} {request.url.path}")
    elif status == 405:
        error = BadRequestError(f"Method {request.method} is not allowed on {request.url.path}")
    elif status == 413:
        error = BadRequestError("Request body is too large", code="request_too_large")
    else:
        kind = _HTTP_STATUS_KINDS.get(status, BadRequestError if status < 500 else InternalServerError)
        error = kind(str(exc.detail))
    response = error_response(error, path=request.scope["path"])
    if status in (405, 413):
        response.status_code = status
    return response


def _unexpected(request: Request, exc: Exception) -> Response[bytes]:
    _log.exception("unhandled error", path=request.url.path, error=repr(exc))
    return error_response(InternalServerError("Internal server error"), path=request.scope["path"])


EXCEPTION_HANDLERS = {
    SwitchyardError: _switchyard_error,
    HTTPException: _http_exception,
    Exception: _unexpected,
}

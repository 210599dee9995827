"""watsonx.ai's failures translated into the domain error tree, in one place.

watsonx.ai answers errors with `{"errors": [{"code", "message", "more_info"}], "trace", "status_code"}`
(cloud.ibm.com/apidocs/watsonx-ai#error-handling), by status:

    400 BadRequestError       refined by the message: a prompt over the model's limit ->
                              ContextWindowExceededError
    401 AuthenticationError   (authentication_token_expired, user_authorization_failed)
    403 PermissionDeniedError; its code token_quota_reached -> RateLimitError
    404 NotFoundError (model_not_supported) · 408 TimeoutError · 422 UnprocessableEntityError
    429 RateLimitError (retry_after from Retry-After)
    500 InternalServerError · 502 BadGatewayError · 503 ServiceUnavailableError · 504 TimeoutError
A stream's `event: error` carries the same body; its `status_code`, else 500, picks the kind.
Unlisted statuses and transport failures are translated as adapters/llm/upstream_errors.py says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from adapters.llm.json_io import decode_or_none
from adapters.llm.upstream_errors import COMMON_STATUSES, kind_of_unlisted, retry_after
from domain import errors
from domain.errors import SwitchyardError

_BY_CODE: dict[str, type[SwitchyardError]] = {
    "token_quota_reached": errors.RateLimitError,
    "authentication_token_expired": errors.AuthenticationError,
}
_CONTEXT = re.compile(
    r"context length|context window|maximum sequence length|input tokens .*(exceed|limit)|"
    r"exceeds? the (total )?tokens? limit",
    re.I,
)


def upstream_error(
    status: int | None, body: bytes | object, headers: Mapping[str, str] | None = None
) -> SwitchyardError:
    """The domain error for watsonx.ai's error answer: the raw body, or the decoded one of a stream's
    error event (`status` None: the body's own status_code says it)."""
    payload = decode_or_none(body) if isinstance(body, bytes) else body
    details = payload if isinstance(payload, dict) else {}
    first = _first_error(details)
    if status is None:
        stated = details.get("status_code")
        status = stated if isinstance(stated, int) and 400 <= stated < 600 else 500
    code = first.get("code") if isinstance(first.get("code"), str) else None
    message = first.get("message") or details.get("message")
    if not isinstance(message, str) or not message:
        text = body.decode("utf-8", "replace").strip()[:200] if isinstance(body, bytes) else ""
        message = f"watsonx.ai answered HTTP {status}" + (f": {text}" if text else ".")
    kind = _BY_CODE.get(code or "") or COMMON_STATUSES.get(status) or kind_of_unlisted(status)
    if kind is errors.BadRequestError and _CONTEXT.search(message):
        kind = errors.ContextWindowExceededError
    fields = {"code": None if kind.default_code is not None else code}
    if kind is errors.RateLimitError:
        return errors.RateLimitError(message, retry_after=retry_after(headers or {}), **fields)
    return kind(message, **fields)


def _first_error(details: Mapping[str, object]) -> Mapping[str, object]:
    found = details.get("errors")
    if isinstance(found, list) and found and isinstance(found[0], dict):
        return found[0]
    return {}

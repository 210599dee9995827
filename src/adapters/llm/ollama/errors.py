"""Ollama's failures translated into the domain error tree, in one place.

Ollama answers errors as `{"error": "..."}` (docs/api/errors.mdx), with 400 (bad request), 404 (model
not found: `model "x" not found, try pulling it first`), 429 (rate limited, for cloud models), 500 and
502 (a cloud model out of reach); a failure after a stream began is a line `{"error": "..."}` of the
stream itself. A message about the context length (`the input length exceeds the context length`,
`the prompt is longer than the context length ...`) is a ContextWindowExceededError whatever the status.
Unlisted statuses and transport failures are translated as adapters/llm/upstream_errors.py says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from adapters.llm.json_io import decode_or_none
from adapters.llm.upstream_errors import status_error
from domain import errors
from domain.errors import SwitchyardError

_CONTEXT = re.compile(r"context length|context window|exceeds maximum context", re.I)


def upstream_error(
    status: int | None, body: bytes | object, headers: Mapping[str, str] | None = None
) -> SwitchyardError:
    """The domain error for Ollama's error answer: the raw body with its status, or the decoded
    `{"error": ...}` line of a stream (status None)."""
    message = _message(status, body)
    if _CONTEXT.search(message):
        return errors.ContextWindowExceededError(message)
    if status is None:
        return errors.InternalServerError(message)
    return status_error(status, message, headers)


def _message(status: int | None, body: bytes | object) -> str:
    payload = decode_or_none(body) if isinstance(body, bytes) else body
    if isinstance(payload, dict) and isinstance(payload.get("error"), str) and payload["error"]:
        return payload["error"]
    text = body.decode("utf-8", "replace").strip()[:200] if isinstance(body, bytes) else ""
    answered = f"HTTP {status}" if status is not None else "an error"
    return f"Ollama answered {answered}" + (f": {text}" if text else ".")

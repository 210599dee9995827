"""JSON bodies to and from upstreams, and closing a reply, with failures as domain errors."""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
import orjson

from domain.errors import BadGatewayError, BadRequestError


def decode(content: bytes | str, sender: str = "The upstream") -> Any:
    """The JSON value of an upstream body; BadGatewayError, saying that `sender` sent it, when it is not
    JSON."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        shown = content[:200] if isinstance(content, str) else content[:200].decode("utf-8", "replace")
        raise BadGatewayError(f"{sender} sent a body that is not JSON: {shown!r}") from exc


def decode_or_none(content: bytes) -> Any:
    """The JSON value of an error body, or None when it is not JSON (a proxy's HTML page, say): an error
    answer is read for what it says, never refused for its form."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return None


def encode(body: dict[str, Any]) -> bytes:
    """The request body as JSON bytes; BadRequestError for what JSON cannot carry (integers beyond 64
    bits, lone surrogates, nesting deeper than 254 levels)."""
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError as exc:
        raise BadRequestError(f"The request cannot be sent upstream as JSON: {exc}") from exc


async def close_quietly(response: httpx.Response) -> None:
    # Closing is best effort: the reply is abandoned either way, and a failure to close must not
    # replace the error (or the cancellation) that made us close it.
    with contextlib.suppress(httpx.HTTPError):
        await response.aclose()

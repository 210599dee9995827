"""What every provider adapter's error translation shares, in one place.

httpx.TimeoutException, an elapsed whole-call timer -> TimeoutError
httpx.DecodingError                                 -> BadGatewayError
httpx.TransportError (connect, reset, protocol)     -> APIConnectionError
an error status no provider table lists             -> InternalServerError (5xx), BadRequestError (4xx),
                                                       BadGatewayError (a redirect, or another answer
                                                       that is no reply)
Retry-After(-ms), or OpenAI's x-ratelimit-reset-*   -> a RateLimitError's retry_after
"""

from __future__ import annotations

import builtins
import email.utils
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import httpx

from domain import errors
from domain.errors import SwitchyardError

TRANSPORT_FAILURES = (httpx.HTTPError, httpx.InvalidURL, builtins.TimeoutError)
"""What httpx (or a whole-call timer around it) raises when the upstream cannot be talked to."""
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)")
_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def transport_error(exc: Exception) -> SwitchyardError:
    """The domain error for a failure to talk to the upstream at all."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException | builtins.TimeoutError):
        return errors.TimeoutError(f"The upstream did not answer in time: {detail}")
    if isinstance(exc, httpx.DecodingError):
        return errors.BadGatewayError(f"The upstream sent a body that cannot be decoded: {detail}")
    return errors.APIConnectionError(f"Could not talk to the upstream: {detail}")


@contextmanager
def transport_errors() -> Iterator[None]:
    """Wraps calls into httpx so that none of its exceptions leaves the adapter."""
    try:
        yield
    except TRANSPORT_FAILURES as exc:
        raise transport_error(exc) from exc


COMMON_STATUSES: Mapping[int, type[SwitchyardError]] = {
    400: errors.BadRequestError,
    401: errors.AuthenticationError,
    403: errors.PermissionDeniedError,
    404: errors.NotFoundError,
    408: errors.TimeoutError,
    413: errors.BadRequestError,
    422: errors.UnprocessableEntityError,
    429: errors.RateLimitError,
    500: errors.InternalServerError,
    502: errors.BadGatewayError,
    503: errors.ServiceUnavailableError,
    504: errors.TimeoutError,
}
"""What the usual HTTP error statuses mean, for a provider whose own table differs in a row or two."""


def status_error(
    status: int,
    message: str,
    headers: Mapping[str, str] | None,
    table: Mapping[int, type[SwitchyardError]] = COMMON_STATUSES,
) -> SwitchyardError:
    """The domain error of `status` by `table` (else as `kind_of_unlisted` says), saying `message`; a
    rate limit carrying the wait its headers ask for."""
    kind = table.get(status) or kind_of_unlisted(status)
    if kind is errors.RateLimitError:
        return errors.RateLimitError(message, retry_after=retry_after(headers or {}))
    return kind(message)


def kind_of_unlisted(status: int) -> type[SwitchyardError]:
    """The kind of an error status that the provider's own table does not list."""
    if status >= 500:
        return errors.InternalServerError
    if status >= 400:
        return errors.BadRequestError
    return errors.BadGatewayError  # a redirect or other answer that is no reply


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait before the next call, from Retry-After(-ms) or OpenAI's x-ratelimit-reset-*."""
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(float(value) * scale, 0.0)
            except ValueError:
                pass
    value = headers.get("retry-after")
    if value:
        try:
            return max(email.utils.parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
        except (TypeError, ValueError):
            pass
    resets = [
        seconds
        for name in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")
        if (seconds := _duration(headers.get(name))) is not None
    ]
    # Which limit was hit is not said; waiting for the later reset is the safe choice.
    return max(resets) if resets else None


def _duration(value: str | None) -> float | None:
    """OpenAI writes resets as Go durations ("1s", "6m0s", "20ms"); Azure as plain seconds."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    parts = _DURATION.findall(value)
    if not parts or "".join(number + unit for number, unit in parts) != value:
        return None
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)

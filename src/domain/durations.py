"""Durations as LiteLLM writes them: `30s`, `5m`, `1h`, `1d`, `7d`, `2w`, `1mo`."""

from __future__ import annotations

import re
from datetime import timedelta

from domain.errors import BadRequestError

_DURATION = re.compile(r"\s*(\d+)\s*(s|m|h|d|w|mo)\s*")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "mo": 30 * 86400}


def parse_duration(text: str, *, param: str = "duration") -> timedelta:
    """`30s`, `5m`, `1h`, `1d`, `7d`, `2w`, `1mo` (30 days) as a timedelta; anything else is a 400 naming
    `param`."""
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise BadRequestError(f"{param} must look like 30s, 5m, 1h, 1d, 7d or 1mo; got {text!r}", param=param)
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])

"""What the vector indexes share: an entry's expiry, its scope as a short key, its reply as bytes."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from adapters.cache.codec import decode_or_miss, encode_or_skip
from domain.caching import CachedReply

FOREVER = 1e15
"""The expiry (Unix seconds) of an entry stored without a ttl: a number every backend can compare and
JSON can carry (unlike infinity), some thirty million years from now."""


def to_store(
    scope: str, vector: Sequence[float], entry: CachedReply, ttl: float | None, now: float
) -> tuple[bytes, float] | None:
    """The bytes of an entry added at `now` and when it expires; None when nothing is to be stored: a ttl
    of 0 or less, no vector, or a reply the codec cannot write (logged)."""
    if (ttl is not None and ttl <= 0) or not vector:
        return None
    data = encode_or_skip(scope, entry)
    return None if data is None else (data, FOREVER if ttl is None else now + ttl)


def scope_key(scope: str) -> int:
    """A signed 64-bit key of `scope`: indexes filter on it (cheaper than on a long string with a shared
    prefix), and the full scope stored beside it is compared on a hit, so a collision is a miss, never
    another scope's reply."""
    return int.from_bytes(hashlib.sha256(scope.encode()).digest()[:8], "big", signed=True)


def reply_of(data: bytes | None) -> CachedReply | None:
    """The reply stored bytes spell; None (a miss) for bytes that are not one."""
    entry = decode_or_miss(data)
    return entry if isinstance(entry, CachedReply) else None

"""The binary `application/vnd.amazon.eventstream` framing, decoded incrementally as bytes arrive.

A message is
    prelude:  total length (uint32) | headers length (uint32) | CRC32 of those 8 bytes (uint32)
    headers:  name length (uint8) | name (utf-8) | value type (uint8) | value ...
    payload:  total - headers - 16 bytes
    CRC32 of everything before it (uint32)
all big-endian. A network read may end inside a message or hold several; both CRCs are checked, so a
corrupted or truncated stream is an error, never a misread event.
"""

from __future__ import annotations

import struct
from typing import NamedTuple
from zlib import crc32

_PRELUDE = struct.Struct(">III")
_UINT32 = struct.Struct(">I")
_PRELUDE_LENGTH = 12
_MIN_LENGTH = 16  # prelude and message CRC, no headers, no payload
_MAX_HEADERS_LENGTH = 128 * 1024
_MAX_PAYLOAD_LENGTH = 24 * 1024 * 1024  # the limits botocore enforces
# Value type -> (struct of a fixed-size value, its size); 0 and 1 are true and false, carried by the type.
_FIXED = {
    2: (struct.Struct(">b"), 1),
    3: (struct.Struct(">h"), 2),
    4: (struct.Struct(">i"), 4),
    5: (struct.Struct(">q"), 8),
    8: (struct.Struct(">q"), 8),  # timestamp, milliseconds since the epoch
}
HeaderValue = bool | int | bytes | str


class EventStreamError(ValueError):
    """The bytes are not a well-formed event stream."""


class Message(NamedTuple):
    headers: dict[str, HeaderValue]
    payload: bytes


class EventStreamDecoder:
    """Feed it bytes as they arrive; it hands back each message once the whole of it has come."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[Message]:
        """The messages completed by `data`, in order; the rest waits for the next read."""
        buffer = self._pending + data if self._pending else data
        view = memoryview(buffer)
        size = len(buffer)
        position = 0
        messages: list[Message] = []
        while size - position >= _PRELUDE_LENGTH:
            total, headers_length, prelude_crc = _PRELUDE.unpack_from(view, position)
            if crc32(view[position : position + 8]) != prelude_crc:
                raise EventStreamError("the prelude of an event stream message fails its CRC check")
            if headers_length > _MAX_HEADERS_LENGTH:
                raise EventStreamError(f"an event stream message declares {headers_length} bytes of headers")
            payload_length = total - headers_length - _MIN_LENGTH
            if payload_length < 0 or payload_length > _MAX_PAYLOAD_LENGTH:
                raise EventStreamError(f"an event stream message declares an impossible length ({total})")
            end = position + total
            if end > size:
                break
            (message_crc,) = _UINT32.unpack_from(view, end - 4)
            if crc32(view[position : end - 4]) != message_crc:
                raise EventStreamError("an event stream message fails its CRC check")
            headers_start = position + _PRELUDE_LENGTH
            headers = _headers(buffer[headers_start : headers_start + headers_length])
            messages.append(Message(headers, bytes(view[headers_start + headers_length : end - 4])))
            position = end
        self._pending = buffer[position:] if position < size else b""
        return messages

    def finish(self) -> None:
        """Call at the end of the stream: a message cut off by it is an error."""
        if self._pending:
            raise EventStreamError(
                f"the event stream ended inside a message ({len(self._pending)} bytes of it arrived)"
            )


def _headers(data: bytes) -> dict[str, HeaderValue]:
    headers: dict[str, HeaderValue] = {}
    position, size = 0, len(data)
    try:
        while position < size:
            end = position + 1 + data[position]
            name = data[position + 1 : end].decode()
            kind = data[end]
            position = end + 1
            value: HeaderValue
            if kind == 7 or kind == 6:  # string, byte array: a uint16 length first
                start = position + 2
                position = start + ((data[position] << 8) | data[position + 1])
                if position > size:
                    raise EventStreamError("an event stream header value runs past its headers")
                value = data[start:position].decode() if kind == 7 else data[start:position]
            elif kind == 0 or kind == 1:
                value = kind == 0
            elif kind == 9:  # uuid
                value = data[position : position + 16]
                position += 16
            elif kind in _FIXED:
                unpacker, length = _FIXED[kind]
                (value,) = unpacker.unpack_from(data, position)
                position += length
            else:
                raise EventStreamError(f"an event stream header has an unknown value type {kind}")
            if name in headers:
                raise EventStreamError(f"an event stream message repeats the header {name!r}")
            headers[name] = value
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise EventStreamError(f"an event stream message has malformed headers: {exc}") from exc
    if position != size:
        raise EventStreamError("an event stream header runs past its headers")
    return headers

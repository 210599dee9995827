"""The incremental decoder of AWS's binary event stream framing.

The encoded messages are botocore's test vectors (tests/unit/test_eventstream.py in boto/botocore,
themselves from AWS's event stream test suite): what AWS's own encoders produce."""

from __future__ import annotations

import pytest

from adapters.llm.bedrock.eventstream import EventStreamDecoder, EventStreamError, Message

EMPTY_MESSAGE = b"\x00\x00\x00\x10\x00\x00\x00\x00\x05\xc2H\xeb}\x98\xc8\xff"
INT8_HEADER = b"\x00\x00\x00\x17\x00\x00\x00\x07)\x86\x01X\x04byte\x02\xff\xc2\xf8i\xdc"
INT16_HEADER = b"\x00\x00\x00\x19\x00\x00\x00\tq\x0e\x92>\x05short\x03\xff\xff\xb2|\xb6\xcc"
INT32_HEADER = (
    b"\x00\x00\x00\x1d\x00\x00\x00\r\x83\xe3\xf0\xe7\x07integer\x04\xff\xff\xff\xff\x8b\x8e\x12\xeb"
)
INT64_HEADER = b"\x00\x00\x00\x1e\x00\x00\x00\x0e]J\xdb\x8d\x04long\x05" + b"\xff" * 8 + b"K\xc22\xda"
PAYLOAD_NO_HEADERS = b"\x00\x00\x00\x1d\x00\x00\x00\x00\xfdR\x8cZ{'foo':'bar'}\xc3e96"
PAYLOAD_ONE_STR_HEADER = (
    b"\x00\x00\x00=\x00\x00\x00 \x07\xfd\x83\x96\x0ccontent-type\x07\x00\x10"
    b"application/json{'foo':'bar'}\x8d\x9c\x08\xb1"
)
ALL_HEADERS_TYPES = (
    b"\x00\x00\x00\x62\x00\x00\x00\x52\x03\xb5\xcb\x9c"
    b"\x010\x00\x011\x01\x012\x02\x02\x013\x03\x00\x03"
    b"\x014\x04\x00\x00\x00\x04\x015\x05\x00\x00\x00\x00\x00\x00\x00\x05"
    b"\x016\x06\x00\x05bytes\x017\x07\x00\x04utf8"
    b"\x018\x08\x00\x00\x00\x00\x00\x00\x00\x08\x019\x090123456789abcdef"
    b"\x63\x35\x36\x71"
)
ERROR_EVENT_MESSAGE = (
    b"\x00\x00\x00\x52\x00\x00\x00\x42\xbf\x23\x63\x7e"
    b"\x0d:message-type\x07\x00\x05error"
    b"\x0b:error-code\x07\x00\x04code"
    b"\x0e:error-message\x07\x00\x07message"
    b"\x6b\x6c\xea\x3d"
)
INITIAL_RESPONSE = (
    b"\x00\x00\x00~\x00\x00\x00O\xc5\xa3\xdd\xc6\r:message-type\x07\x00"
    b"\x05event\x0b:event-type\x07\x00\x10initial-response\r:content-type"
    b'\x07\x00\ttext/json{"InitialResponse": "sometext"}\xf6\x98$\x83'
)
POSITIVE = [
    (EMPTY_MESSAGE, Message({}, b"")),
    (INT8_HEADER, Message({"byte": -1}, b"")),
    (INT16_HEADER, Message({"short": -1}, b"")),
    (INT32_HEADER, Message({"integer": -1}, b"")),
    (INT64_HEADER, Message({"long": -1}, b"")),
    (PAYLOAD_NO_HEADERS, Message({}, b"{'foo':'bar'}")),
    (PAYLOAD_ONE_STR_HEADER, Message({"content-type": "application/json"}, b"{'foo':'bar'}")),
    (
        ALL_HEADERS_TYPES,
        Message(
            {
                "0": True,
                "1": False,
                "2": 2,
                "3": 3,
                "4": 4,
                "5": 5,
                "6": b"bytes",
                "7": "utf8",
                "8": 8,
                "9": b"0123456789abcdef",
            },
            b"",
        ),
    ),
    (
        ERROR_EVENT_MESSAGE,
        Message({":message-type": "error", ":error-code": "code", ":error-message": "message"}, b""),
    ),
    (
        INITIAL_RESPONSE,
        Message(
            {":message-type": "event", ":event-type": "initial-response", ":content-type": "text/json"},
            b'{"InitialResponse": "sometext"}',
        ),
    ),
]
NEGATIVE = {
    "a length past the payload limit": b"\x01\x00\x00\x1d\x00\x00\x00\x00\xfdR\x8cZ{'foo':'bar'}\xc3e96",
    "a corrupted payload": b"\x00\x00\x00\x1d\x00\x00\x00\x00\xfdR\x8cZ{'foo':'bar'\x8d\xc3e96",
    "a corrupted header": (
        b"\x00\x00\x00=\x00\x00\x00 \x07\xfd\x83\x96\x0ccontent+type\x07\x00\x10"
        b"application/json{'foo':'bar'}\x8d\x9c\x08\xb1"
    ),
    "a corrupted header length": (
        b"\x00\x00\x00=\xff\x00\x01\x02\x07\xfd\x83\x96\x0ccontent-type\x07\x00"
        b"\x10application/json{'foo':'bar'}\x8d\x9c\x08\xb1"
    ),
    "a repeated header": (
        b"\x00\x00\x00\x24\x00\x00\x00\x14\x4b\xb9\x82\xd0\x04test\x04asdf\x04test\x04asdf\xf3\xf4\x75\x63"
    ),
}


@pytest.mark.parametrize(("encoded", "expected"), POSITIVE)
def test_each_aws_test_vector_decodes_to_its_headers_and_payload(encoded: bytes, expected: Message) -> None:
    decoder = EventStreamDecoder()

    assert decoder.feed(encoded) == [expected]
    decoder.finish()


def test_several_messages_in_one_read_come_out_in_order() -> None:
    decoder = EventStreamDecoder()

    messages = decoder.feed(b"".join(encoded for encoded, _ in POSITIVE))

    assert messages == [expected for _, expected in POSITIVE]


def test_a_stream_cut_at_every_byte_yields_each_message_once_it_is_whole() -> None:
    stream = b"".join(encoded for encoded, _ in POSITIVE)
    for cut in range(1, len(stream)):
        decoder = EventStreamDecoder()

        messages = decoder.feed(stream[:cut]) + decoder.feed(stream[cut:])

        assert messages == [expected for _, expected in POSITIVE]
        decoder.finish()


def test_a_stream_fed_a_byte_at_a_time_yields_nothing_until_a_message_completes() -> None:
    decoder = EventStreamDecoder()
    got: list[list[Message]] = [decoder.feed(bytes((byte,))) for byte in PAYLOAD_ONE_STR_HEADER]

    assert all(batch == [] for batch in got[:-1])
    assert got[-1] == [POSITIVE[6][1]]


@pytest.mark.parametrize("damage", sorted(NEGATIVE))
def test_a_damaged_message_is_an_error_not_a_misread_event(damage: str) -> None:
    with pytest.raises(EventStreamError):
        EventStreamDecoder().feed(NEGATIVE[damage])


def test_a_stream_that_ends_inside_a_message_is_an_error_at_its_end() -> None:
    decoder = EventStreamDecoder()

    assert decoder.feed(PAYLOAD_NO_HEADERS + PAYLOAD_ONE_STR_HEADER[:20]) == [POSITIVE[5][1]]
    with pytest.raises(EventStreamError, match="ended inside a message"):
        decoder.finish()


def test_a_corrupted_prelude_is_caught_before_waiting_for_its_declared_length() -> None:
    damaged = bytearray(PAYLOAD_NO_HEADERS)
    damaged[3] = 0x7F  # the total length, which the prelude CRC covers

    with pytest.raises(EventStreamError, match="prelude"):
        EventStreamDecoder().feed(bytes(damaged[:12]))

"""Bedrock's streamed replies as a pass-through call's usage reader sees them: the events of
`application/vnd.amazon.eventstream`, each as its JSON document.

ConverseStream's events carry their JSON as the payload (its `metadata` event holds `usage`);
InvokeModelWithResponseStream's `chunk` events wrap the model's own event as base64 in `{"bytes": ...}`
(an Anthropic model's message_start and message_delta, and in the last one Bedrock's
`amazon-bedrock-invocationMetrics`), which is unwrapped. Exceptions and other message types carry no usage.
"""

from __future__ import annotations

import base64
import binascii

import orjson

from adapters.llm.bedrock.eventstream import EventStreamDecoder
from ports.passthrough import ReplyFraming


class AwsEventFraming(ReplyFraming):
    content_type = "application/vnd.amazon.eventstream"

    __slots__ = ("_decoder",)

    def __init__(self) -> None:
        self._decoder = EventStreamDecoder()

    def events(self, chunk: bytes) -> list[bytes]:
        documents: list[bytes] = []
        for message in self._decoder.feed(chunk):
            if message.headers.get(":message-type") != "event":
                continue
            if message.headers.get(":event-type") == "chunk":
                try:
                    wrapped = orjson.loads(message.payload).get("bytes")
                    documents.append(base64.b64decode(wrapped, validate=True))
                except (orjson.JSONDecodeError, AttributeError, TypeError, binascii.Error) as exc:
                    raise ValueError(f"a Bedrock stream chunk is not wrapped as documented: {exc}") from exc
            else:
                documents.append(message.payload)
        return documents

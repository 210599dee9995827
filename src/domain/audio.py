"""Audio requests and replies: speech to text (transcriptions, translations) and text to speech."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import field
from decimal import Decimal
from typing import Any

from domain.completions import Usage
from domain.errors import BadRequestError
from domain.frozen import frozen

TRANSCRIPTION_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
SPEECH_FORMATS = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
"""Each speech format OpenAI answers in, and the content type its bytes are sent with."""


@frozen
class AudioFile:
    """An uploaded recording, whole (its size bounded by the gateway before it gets here)."""

    filename: str
    content: bytes
    content_type: str = "application/octet-stream"


@frozen
class TranscriptionRequest:
    """Speech to text; `translate`: into English (OpenAI's translations), else in the spoken language."""

    model: str
    file: AudioFile
    translate: bool = False
    language: str | None = None
    prompt: str | None = None
    response_format: str = "json"
    temperature: float | None = None
    timestamp_granularities: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    controls: Mapping[str, Any] = field(default_factory=dict)
    extra_body: Mapping[str, Any] = field(default_factory=dict)
    """Other form fields, sent upstream as they came."""

    def __post_init__(self) -> None:
        if not self.model:
            raise BadRequestError("model is required", param="model")
        _require_format(self.response_format, TRANSCRIPTION_FORMATS)

    @property
    def inputs(self) -> tuple[str, ...]:
        """The text sent with the audio (its prompt), for estimates and the ledger."""
        return (self.prompt,) if self.prompt else ()


@frozen
class TranscriptionResponse:
    """`text` is the whole reply for the text formats (text, srt, vtt) and the transcript otherwise."""

    model: str
    text: str
    response_format: str = "json"
    task: str = "transcribe"
    language: str | None = None
    duration: float | None = None
    """Seconds of audio, when the upstream said (verbose_json) or the gateway could read it (a WAV)."""
    segments: tuple[Mapping[str, Any], ...] | None = None
    words: tuple[Mapping[str, Any], ...] | None = None
    usage: Usage = field(default_factory=Usage)
    cost: Decimal | None = None
    id: str | None = None
    """Upstreams give none; kept for the tracing of every reply alike."""


@frozen
class SpeechRequest:
    model: str
    input: str
    voice: str
    response_format: str = "mp3"
    speed: float | None = None
    instructions: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    controls: Mapping[str, Any] = field(default_factory=dict)
    extra_body: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.model:
            raise BadRequestError("model is required", param="model")
        if not self.input:
            raise BadRequestError("input must not be empty", param="input")
        if not self.voice:
            raise BadRequestError("voice is required", param="voice")
        _require_format(self.response_format, tuple(SPEECH_FORMATS))
        if self.speed is not None and not 0.25 <= self.speed <= 4.0:
            raise BadRequestError("speed must be between 0.25 and 4.0", param="speed")

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.input,)


@frozen
class SpeechResponse:
    """The audio as it arrives (`audio` yields its bytes; closing it ends the upstream call)."""

    model: str
    content_type: str
    audio: AsyncIterator[bytes]
    usage: Usage = field(default_factory=Usage)
    cost: Decimal | None = None
    id: str | None = None


def _require_format(asked: str, formats: tuple[str, ...]) -> None:
    if asked not in formats:
        raise BadRequestError(f"response_format must be one of {', '.join(formats)}", param="response_format")


def subtitles(cues: Sequence[tuple[float, float, str]], response_format: str) -> str | None:
    """The cues (start and end in seconds, and their text) as SubRip (srt) or WebVTT (vtt); None for
    the other formats."""
    if response_format == "srt":
        blocks = (
            f"{number}\n{_timestamp(start, ',')} --> {_timestamp(end, ',')}\n{text}\n\n"
            for number, (start, end, text) in enumerate(cues, 1)
        )
        return "".join(blocks)
    if response_format == "vtt":
        blocks = (
            f"{_timestamp(start, '.')} --> {_timestamp(end, '.')}\n{text}\n\n" for start, end, text in cues
        )
        return "WEBVTT\n\n" + "".join(blocks)
    return None


def _timestamp(seconds: float, mark: str) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}{mark}{rest % 1000:03d}"


def speech_usage(request: SpeechRequest) -> Usage:
    """Speech is billed by the characters of its input."""
    return Usage(characters=len(request.input))


def wav_seconds(data: bytes) -> float | None:
    """The duration of a RIFF/WAVE recording read from its header; None when `data` is no WAV."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    position, byte_rate = 12, 0
    while position + 8 <= len(data):
        chunk, size = data[position : position + 4], struct.unpack_from("<I", data, position + 4)[0]
        body = position + 8
        if chunk == b"fmt " and size >= 16:
            byte_rate = struct.unpack_from("<I", data, body + 8)[0]
        elif chunk == b"data":
            if not byte_rate:
                return None
            # A streamed WAV may state a size beyond what was sent: count only the bytes there are.
            return min(size, len(data) - body) / byte_rate
        position = body + size + (size & 1)
    return None


def silent_wav(seconds: float, rate: int = 24000) -> bytes:
    """A valid mono 16-bit PCM WAV of `seconds` of silence."""
    frames = int(seconds * rate)
    data = bytes(frames * 2)
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + len(data), b"WAVE", b"fmt ", 16, 1, 1, rate, rate * 2, 2, 16, b"data", len(data),
    )  # fmt: skip
    return header + data

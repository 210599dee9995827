"""The mock's offline audio: a transcript that states the recording's length, and speech as silence."""

from __future__ import annotations

from collections.abc import AsyncIterator

from domain.audio import (
    SpeechRequest,
    SpeechResponse,
    TranscriptionRequest,
    TranscriptionResponse,
    silent_wav,
    speech_usage,
    subtitles,
    wav_seconds,
)
from domain.completions import Usage

_CHUNK = 4096
_SECONDS_PER_CHARACTER = 0.01
_MAX_SPEECH_SECONDS = 2.0


def mock_transcription(request: TranscriptionRequest, model: str) -> TranscriptionResponse:
    """ "mock transcription of N seconds of audio" (N from the WAV header; "of audio" for other files),
    in the format asked for; "translation" when translating."""
    seconds = wav_seconds(request.file.content)
    what = "translation" if request.translate else "transcription"
    length = f"{round(seconds, 2):g} seconds of " if seconds is not None else ""
    transcript = f"mock {what} of {length}audio"
    text = subtitles(((0.0, seconds or 0.0, transcript),), request.response_format) or transcript
    return TranscriptionResponse(
        model=model,
        text=text,
        response_format=request.response_format,
        task="translate" if request.translate else "transcribe",
        language="english" if request.translate else (request.language or "english"),
        duration=seconds,
        segments=({"id": 0, "start": 0.0, "end": seconds or 0.0, "text": transcript},),
        words=tuple({"word": word, "start": 0.0, "end": seconds or 0.0} for word in transcript.split()),
        usage=Usage(audio_seconds=seconds or 0.0),
    )


def mock_speech(request: SpeechRequest, model: str) -> SpeechResponse:
    """A short WAV of silence (whatever `response_format` asked: the mock encodes nothing else), its
    length growing with the input's, streamed in a few chunks."""
    seconds = min(len(request.input) * _SECONDS_PER_CHARACTER, _MAX_SPEECH_SECONDS)
    return SpeechResponse(model, "audio/wav", _chunks(silent_wav(seconds)), speech_usage(request))


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), _CHUNK):
        yield data[start : start + _CHUNK]

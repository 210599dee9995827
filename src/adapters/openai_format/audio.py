"""The audio formats, both ways: a client's transcription form or speech body parsed, a transcript
rendered, an OpenAI upstream's multipart form and speech body built and its transcript read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import ConfigDict, Field, ValidationError

from adapters.openai_format import wire
from adapters.openai_format.requests import _controls
from adapters.openai_format.validation import bad_request
from domain.audio import AudioFile, SpeechRequest, TranscriptionRequest, TranscriptionResponse, wav_seconds
from domain.completions import Usage
from domain.errors import BadGatewayError, BadRequestError

TEXT = "text/plain; charset=utf-8"
_GRANULARITIES = "timestamp_granularities[]"
_KNOWN_FIELDS = frozenset(
    {"file", "model", "language", "prompt", "response_format", "temperature", _GRANULARITIES}
)


def parse_transcription_form(
    fields: Mapping[str, list[str]], file: AudioFile | None, *, translate: bool
) -> TranscriptionRequest:
    """A transcription or translation form (its text fields, each with every value sent, and its file)
    as a domain request; BadRequestError naming a missing `file` or `model` or a bad field."""
    if file is None:
        raise BadRequestError("Missing required parameter: 'file'.", param="file")
    model = _one(fields, "model")
    if not model:
        raise BadRequestError("Missing required parameter: 'model'.", param="model")
    temperature = _one(fields, "temperature")
    try:
        heat = float(temperature) if temperature else None
    except ValueError:
        raise BadRequestError("Invalid 'temperature': expected a number.", param="temperature") from None
    return TranscriptionRequest(
        model=model,
        file=file,
        translate=translate,
        language=_one(fields, "language"),
        prompt=_one(fields, "prompt"),
        response_format=_one(fields, "response_format") or "json",
        temperature=heat,
        timestamp_granularities=tuple(fields.get(_GRANULARITIES, ())),
        extra_body={name: values[-1] for name, values in fields.items() if name not in _KNOWN_FIELDS},
    )


def _one(fields: Mapping[str, list[str]], name: str) -> str | None:
    values = fields.get(name)
    return values[-1] if values else None


def transcription_form(request: TranscriptionRequest, upstream_model: str) -> list[tuple[str, str]]:
    """The text fields of the upstream's form (its file goes alongside). Translations take no
    `language` nor timestamps: their output is English text."""
    form = [("model", upstream_model), ("response_format", request.response_format)]
    if request.prompt is not None:
        form.append(("prompt", request.prompt))
    if request.temperature is not None:
        form.append(("temperature", repr(request.temperature)))
    if not request.translate:
        if request.language is not None:
            form.append(("language", request.language))
        form.extend((_GRANULARITIES, granularity) for granularity in request.timestamp_granularities)
    form.extend((name, str(value)) for name, value in request.extra_body.items())
    return form


def read_transcription(body: bytes, request: TranscriptionRequest, model: str) -> TranscriptionResponse:
    """An OpenAI upstream's transcript in the format asked for: JSON for json and verbose_json, the
    whole body as the text otherwise. Billed seconds from its `duration` (or usage) where it says, else
    from the upload's WAV header."""
    task = "translate" if request.translate else "transcribe"
    malformed = BadGatewayError("The upstream sent a malformed transcription.")
    heard = wav_seconds(request.file.content)
    if request.response_format not in ("json", "verbose_json"):
        text = body.decode("utf-8", "replace")
        usage = Usage(audio_seconds=heard or 0.0)
        return TranscriptionResponse(model, text, request.response_format, task, duration=heard, usage=usage)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise malformed from None
    if not isinstance(payload, dict) or not isinstance(payload.get("text"), str):
        raise malformed
    duration = payload.get("duration")
    usage = payload.get("usage")
    if not isinstance(duration, int | float) and isinstance(usage, dict) and usage.get("type") == "duration":
        duration = usage.get("seconds")
    seconds = float(duration) if isinstance(duration, int | float) else heard
    return TranscriptionResponse(
        model=model,
        text=payload["text"],
        response_format=request.response_format,
        task=payload.get("task") or task,
        language=payload.get("language"),
        duration=seconds,
        segments=_items(payload.get("segments")),
        words=_items(payload.get("words")),
        usage=Usage(audio_seconds=seconds or 0.0),
    )


def _items(value: Any) -> tuple[dict[str, Any], ...] | None:
    return tuple(item for item in value if isinstance(item, dict)) if isinstance(value, list) else None


def render_transcription(response: TranscriptionResponse) -> tuple[bytes, str]:
    """The body and content type OpenAI answers with: `{"text"}` for json, the whole verbose object for
    verbose_json, plain text for text, srt and vtt."""
    if response.response_format == "json":
        return orjson.dumps({"text": response.text}), "application/json"
    if response.response_format != "verbose_json":
        return response.text.encode(), TEXT
    verbose: dict[str, Any] = {
        "task": response.task,
        "language": response.language,
        "duration": response.duration,
        "text": response.text,
    }
    if response.segments is not None:
        verbose["segments"] = list(response.segments)
    if response.words is not None:
        verbose["words"] = list(response.words)
    return orjson.dumps(verbose), "application/json"


class SpeechBody(wire.GatewayFields):
    model_config = ConfigDict(strict=True, extra="allow")

    model: str = Field(min_length=1)
    input: str = Field(min_length=1)
    voice: str = Field(min_length=1)
    response_format: str = "mp3"
    speed: float | None = None
    instructions: str | None = None
    stream_format: str | None = None


def parse_speech_request(body: object) -> SpeechRequest:
    """A `/v1/audio/speech` body as a domain request; BadRequestError naming the field otherwise."""
    try:
        request = SpeechBody.model_validate(body)
    except ValidationError as exc:
        raise bad_request(exc, what="request body") from exc
    extra = dict(request.__pydantic_extra__ or {})
    if request.stream_format is not None:
        extra["stream_format"] = request.stream_format
    return SpeechRequest(
        model=request.model,
        input=request.input,
        voice=request.voice,
        response_format=request.response_format,
        speed=request.speed,
        instructions=request.instructions,
        metadata=request.metadata or {},
        controls=_controls(request),
        extra_body=extra,
    )


def speech_body(request: SpeechRequest, upstream_model: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": upstream_model,
        "input": request.input,
        "voice": request.voice,
        "response_format": request.response_format,
    }
    if request.speed is not None:
        body["speed"] = request.speed
    if request.instructions is not None:
        body["instructions"] = request.instructions
    body.update(request.extra_body)
    return body

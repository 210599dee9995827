"""Deepgram's pre-recorded transcription, both ways: the `/v1/listen` call built from a domain request,
its reply read into a domain transcription in the OpenAI format asked for.

The call (developers.deepgram.com/reference/speech-to-text/listen-pre-recorded) posts the raw audio
with its content type, the options in the query string (`model`, `language`, `punctuate`,
`utterances`, ...) and the key as `Authorization: Token <key>`. The reply is
`{"metadata": {"duration", ...}, "results": {"channels": [{"alternatives": [{"transcript", "words"}],
"detected_language"?}], "utterances"?: [{"start", "end", "transcript"}]}}`. As in LiteLLM's deepgram
provider the transcript is the first channel's first alternative and the billed seconds the metadata's
duration; its utterances become verbose_json's segments and the cues of srt and vtt.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import httpx

from domain.audio import TranscriptionRequest, TranscriptionResponse, subtitles
from domain.completions import Usage
from domain.deployments import Deployment
from domain.errors import BadGatewayError, UnsupportedParameterError

DEFAULT_API_BASE = "https://api.deepgram.com/v1"
DEFAULT_LANGUAGE = "en"
"""What Deepgram transcribes in when the call names no language and asks for no detection."""
_UTTERANCES = frozenset({"verbose_json", "srt", "vtt"})
"""The formats that need the recording cut into timed utterances (segments, cues)."""


def refused(request: TranscriptionRequest) -> UnsupportedParameterError | None:
    """What of an OpenAI transcription Deepgram cannot do, named; None when it can do it all."""
    if request.translate:
        return UnsupportedParameterError(
            "Deepgram transcribes but does not translate: use /v1/audio/transcriptions", param="model"
        )
    for param, value in (("prompt", request.prompt), ("temperature", request.temperature)):
        if value is not None:
            return UnsupportedParameterError(f"Deepgram does not take '{param}'", param=param)
    return None


def listen_url(deployment: Deployment, request: TranscriptionRequest) -> httpx.URL:
    """`{api_base}/listen` with the call's options as its query; a base written without the version
    segment (`https://api.deepgram.com`) means the same host."""
    query: dict[str, str] = {"model": deployment.upstream_model, "punctuate": "true"}
    if request.language:
        query["language"] = request.language
    if request.response_format in _UTTERANCES:
        query["utterances"] = "true"
    # Other form fields are Deepgram's own options (smart_format, diarize, detect_language, ...).
    query.update((name, _query_value(value)) for name, value in request.extra_body.items())
    return _listen(deployment.api_base or DEFAULT_API_BASE).copy_merge_params(query)


@functools.lru_cache(maxsize=256)
def _listen(api_base: str) -> httpx.URL:
    base = api_base.rstrip("/")
    return httpx.URL((base if base.endswith("/v1") else base + "/v1") + "/listen")


def _query_value(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def headers(deployment: Deployment, content_type: str) -> dict[str, str]:
    out = {"Content-Type": content_type, "Accept": "application/json"}
    key = deployment.credentials.api_key
    if key is not None and key.value:
        out["Authorization"] = f"Token {key.value}"
    return out


def read_transcription(payload: object, request: TranscriptionRequest, model: str) -> TranscriptionResponse:
    """Deepgram's reply as a transcription in the format asked for; BadGatewayError when it is no
    reply of Deepgram's."""
    try:
        results, duration = payload["results"], float(payload["metadata"]["duration"])  # type: ignore[index]
        channel = results["channels"][0]
        best = channel["alternatives"][0]
        transcript = best["transcript"]
        if not isinstance(transcript, str):
            raise TypeError(transcript)
    except (TypeError, KeyError, IndexError, ValueError):
        raise BadGatewayError("Deepgram sent a malformed transcription.") from None
    utterances = [item for item in results.get("utterances") or () if isinstance(item, dict)]
    cues = [(_seconds(u, "start"), _seconds(u, "end"), str(u.get("transcript", ""))) for u in utterances]
    text = subtitles(cues or [(0.0, duration, transcript)], request.response_format) or transcript
    return TranscriptionResponse(
        model=model,
        text=text,
        response_format=request.response_format,
        language=request.language or channel.get("detected_language") or DEFAULT_LANGUAGE,
        duration=duration,
        segments=tuple(
            {"id": number, "start": start, "end": end, "text": said}
            for number, (start, end, said) in enumerate(cues)
        ),
        words=tuple(_word(word) for word in best.get("words") or () if isinstance(word, dict)),
        usage=Usage(audio_seconds=duration),
    )


def _seconds(item: Mapping[str, Any], name: str) -> float:
    value = item.get(name)
    return float(value) if isinstance(value, int | float) else 0.0


def _word(word: Mapping[str, Any]) -> dict[str, Any]:
    """A word as OpenAI's verbose_json gives it: the word and its start and end in seconds."""
    return {"word": str(word.get("word", "")), "start": _seconds(word, "start"), "end": _seconds(word, "end")}

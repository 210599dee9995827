"""The audio contract (LLMProvider.transcribe and .speak): every adapter that serves them, the mock and
each real one behind a fake upstream in its wire format (OpenAI's /audio/transcriptions, /translations
and /speech, at Azure's deployment URL and a compatible host's too; Deepgram's /v1/listen), gives a
recording's text in the format asked (a translation, from those that translate), its duration when
verbose, and speech as a stream of audio bytes with their content type, billed by the input's
characters; the real ones raise each upstream failure as its domain error."""

from __future__ import annotations

import httpx
import pytest

from domain import errors
from domain.audio import SPEECH_FORMATS, AudioFile, SpeechRequest, TranscriptionRequest
from tests.contract.harnesses.base import HttpHarness, ProviderHarness, RecordingStream
from tests.contract.surfaces import (
    AUDIO_SECONDS,
    FAILURES,
    SERVED_BY,
    backend_fixture,
    fail_with,
    wav,
    wire_upstream,
)

backend = backend_fixture("transcribe")
upstream_backend = backend_fixture("transcribe", real_only=True)
speaker = backend_fixture("speak", name="speaker")
upstream_speaker = backend_fixture("speak", real_only=True, name="upstream_speaker")


def _transcription(**changes: object) -> TranscriptionRequest:
    fields: dict[str, object] = {"model": "whisper", "file": AudioFile("talk.wav", wav(), "audio/wav")}
    return TranscriptionRequest(**(fields | changes))  # type: ignore[arg-type]


def _speech(**changes: object) -> SpeechRequest:
    fields: dict[str, object] = {"model": "voice", "input": "Hello there, world.", "voice": "alloy"}
    return SpeechRequest(**(fields | changes))  # type: ignore[arg-type]


def _skip_unless_it_translates(backend: ProviderHarness, translate: bool) -> None:
    provider = backend.deployment.provider
    if translate and provider not in SERVED_BY["translate"]:
        pytest.skip(f"{provider} transcribes but does not translate")


@pytest.mark.parametrize("translate", [False, True])
@pytest.mark.parametrize("response_format", ["json", "text", "srt", "vtt", "verbose_json"])
async def test_a_recording_comes_back_as_text_in_the_format_asked(
    backend: ProviderHarness, response_format: str, translate: bool
) -> None:
    _skip_unless_it_translates(backend, translate)
    request = _transcription(response_format=response_format, translate=translate)

    reply = await backend.provider.transcribe(request, backend.deployment)

    assert reply.text.strip()
    assert reply.response_format == response_format
    assert reply.task == ("translate" if translate else "transcribe")
    if response_format == "srt":
        assert "-->" in reply.text and reply.text.lstrip().startswith("1")
    if response_format == "vtt":
        assert reply.text.startswith("WEBVTT")


@pytest.mark.parametrize("translate", [False, True])
async def test_a_verbose_transcription_says_the_recordings_duration_and_bills_it(
    backend: ProviderHarness, translate: bool
) -> None:
    _skip_unless_it_translates(backend, translate)
    request = _transcription(response_format="verbose_json", translate=translate)

    reply = await backend.provider.transcribe(request, backend.deployment)

    assert reply.duration == pytest.approx(AUDIO_SECONDS)
    assert reply.usage.audio_seconds == pytest.approx(AUDIO_SECONDS)
    assert reply.language


async def test_a_wav_transcription_is_billed_its_length_even_when_the_reply_says_none(
    backend: ProviderHarness,
) -> None:
    reply = await backend.provider.transcribe(_transcription(), backend.deployment)

    assert reply.usage.audio_seconds == pytest.approx(AUDIO_SECONDS)


@pytest.mark.parametrize("kind", sorted(FAILURES))
async def test_each_upstream_failure_of_a_transcription_is_raised_as_its_domain_error(
    upstream_backend: ProviderHarness, kind: str
) -> None:
    fail_with(upstream_backend, kind)

    with pytest.raises(errors.SwitchyardError) as raised:
        await upstream_backend.provider.transcribe(_transcription(), upstream_backend.deployment)

    assert type(raised.value) is FAILURES[kind]
    assert raised.value.message


async def test_speech_streams_audio_bytes_with_their_content_type(speaker: ProviderHarness) -> None:
    request = _speech(response_format="wav")

    reply = await speaker.provider.speak(request, speaker.deployment)
    pieces = [piece async for piece in reply.audio]

    assert reply.content_type == SPEECH_FORMATS["wav"]
    assert len(pieces) > 1 and all(isinstance(piece, bytes) for piece in pieces)
    audio = b"".join(pieces)
    assert audio[:4] == b"RIFF" and audio[8:12] == b"WAVE"


@pytest.mark.parametrize("response_format", sorted(SPEECH_FORMATS))
async def test_speech_in_any_format_is_audio_billed_by_the_inputs_characters(
    speaker: ProviderHarness, response_format: str
) -> None:
    request = _speech(response_format=response_format)

    reply = await speaker.provider.speak(request, speaker.deployment)
    audio = b"".join([piece async for piece in reply.audio])

    assert audio
    assert reply.content_type.startswith("audio/")
    assert reply.usage.characters == len(request.input)
    assert reply.model


@pytest.mark.parametrize("response_format", ["mp3", "opus", "flac"])
async def test_an_upstream_speaks_in_the_format_asked(
    upstream_speaker: ProviderHarness, response_format: str
) -> None:
    reply = await upstream_speaker.provider.speak(
        _speech(response_format=response_format), upstream_speaker.deployment
    )
    await reply.audio.aclose()  # type: ignore[attr-defined]

    assert reply.content_type == SPEECH_FORMATS[response_format]


@pytest.mark.parametrize("kind", sorted(FAILURES))
async def test_each_upstream_failure_of_speech_is_raised_before_any_audio(
    upstream_speaker: ProviderHarness, kind: str
) -> None:
    fail_with(upstream_speaker, kind)

    with pytest.raises(errors.SwitchyardError) as raised:
        await upstream_speaker.provider.speak(_speech(), upstream_speaker.deployment)

    assert type(raised.value) is FAILURES[kind]
    assert raised.value.message


async def test_closing_speech_early_releases_the_upstream(upstream_speaker: ProviderHarness) -> None:
    assert isinstance(upstream_speaker, HttpHarness)
    opened: list[RecordingStream] = []

    def answer(request: httpx.Request) -> httpx.Response:
        response = wire_upstream(request)
        assert isinstance(response.stream, RecordingStream)
        opened.append(response.stream)
        return response

    upstream_speaker.upstream.answer = answer
    reply = await upstream_speaker.provider.speak(_speech(), upstream_speaker.deployment)
    audio = aiter(reply.audio)

    first = await anext(audio)
    await reply.audio.aclose()  # type: ignore[attr-defined]

    assert first
    assert [stream.closed for stream in opened] == [True]

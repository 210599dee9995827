"""What the OpenAI adapter sends for audio: the upload as multipart/form-data with its fields, the
transcript read back in each format, speech posted as JSON and its bytes streamed back."""

from __future__ import annotations

import io

import httpx
from multipart import parse_form_data

from adapters.openai_format.audio import parse_speech_request, parse_transcription_form
from domain.audio import AudioFile, silent_wav
from tests.contract.harnesses.openai import OpenAIHarness
from tests.contract.outgoing import harness_fixture, sent_json

harness = harness_fixture(OpenAIHarness)
WAV = silent_wav(1.5, rate=8000)


def _form(sent: httpx.Request) -> tuple[dict[str, list[str]], dict[str, bytes]]:
    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": sent.headers["content-type"],
        "CONTENT_LENGTH": str(len(sent.content)),
        "wsgi.input": io.BytesIO(sent.content),
    }
    forms, files = parse_form_data(environ, strict=True)
    fields = {name: forms.getall(name) for name in forms}
    return fields, {name: files[name].raw for name in files}


def _transcription(translate: bool = False, **fields: list[str]):
    form = {"model": ["whisper"], **fields}
    return parse_transcription_form(form, AudioFile("talk.wav", WAV, "audio/wav"), translate=translate)


async def test_a_transcription_uploads_the_file_with_its_fields_and_reads_the_text(harness) -> None:
    harness.upstream.answer = lambda _: httpx.Response(200, json={"text": "hello there"})
    request = _transcription(
        language=["fr"], prompt=["names: Ada"], temperature=["0.2"], **{"timestamp_granularities[]": ["word"]}
    )

    reply = await harness.provider.transcribe(request, harness.deployment)

    (sent,) = harness.upstream.sent
    assert str(sent.url) == "https://api.openai.example/v1/audio/transcriptions"
    assert sent.headers["authorization"] == "Bearer sk-test-123"
    assert sent.headers["content-type"].startswith("multipart/form-data; boundary=")
    fields, files = _form(sent)
    assert fields == {
        "model": ["gpt-4o-mini"],
        "response_format": ["json"],
        "prompt": ["names: Ada"],
        "temperature": ["0.2"],
        "language": ["fr"],
        "timestamp_granularities[]": ["word"],
    }
    assert files == {"file": WAV}
    assert reply.text == "hello there"
    assert reply.duration == 1.5  # the upstream said none: read from the WAV header
    assert reply.usage.audio_seconds == 1.5


async def test_a_translation_goes_to_translations_without_a_language(harness) -> None:
    verbose = {"task": "translate", "language": "english", "duration": 9.25, "text": "hi", "segments": []}
    harness.upstream.answer = lambda _: httpx.Response(200, json=verbose)
    request = _transcription(translate=True, language=["fr"], response_format=["verbose_json"])

    reply = await harness.provider.transcribe(request, harness.deployment)

    (sent,) = harness.upstream.sent
    assert str(sent.url) == "https://api.openai.example/v1/audio/translations"
    fields, _ = _form(sent)
    assert "language" not in fields
    assert fields["response_format"] == ["verbose_json"]
    assert (reply.task, reply.duration, reply.usage.audio_seconds) == ("translate", 9.25, 9.25)


async def test_a_subtitle_reply_is_kept_whole(harness) -> None:
    srt = "1\n00:00:00,000 --> 00:00:01,500\nhello\n\n"
    harness.upstream.answer = lambda _: httpx.Response(200, text=srt)

    reply = await harness.provider.transcribe(_transcription(response_format=["srt"]), harness.deployment)

    assert reply.text == srt


async def test_speech_is_posted_as_json_and_its_bytes_streamed_back(harness) -> None:
    audio = b"ID3" + bytes(10_000)
    harness.upstream.answer = lambda _: httpx.Response(
        200, content=audio, headers={"content-type": "audio/mpeg"}
    )
    request = parse_speech_request(
        {"model": "voice", "input": "Hello", "voice": "alloy", "speed": 1.5, "instructions": "cheerful"}
    )

    reply = await harness.provider.speak(request, harness.deployment)
    received = b"".join([chunk async for chunk in reply.audio])

    (sent,) = harness.upstream.sent
    assert str(sent.url) == "https://api.openai.example/v1/audio/speech"
    assert sent_json(sent) == {
        "model": "gpt-4o-mini",
        "input": "Hello",
        "voice": "alloy",
        "response_format": "mp3",
        "speed": 1.5,
        "instructions": "cheerful",
    }
    assert reply.content_type == "audio/mpeg"
    assert received == audio
    assert reply.usage.characters == 5

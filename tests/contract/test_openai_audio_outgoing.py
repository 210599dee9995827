"""What the OpenAI adapter sends for audio: the upload as multipart/form-data with its fields, the
transcript read back in each format, speech posted as JSON and its bytes streamed back; and Azure's,
the same at its deployment's (or the v1 API's) audio URLs with its api-key or Entra ID token."""

from __future__ import annotations

import io

import httpx
import pytest
from multipart import parse_form_data

from adapters.openai_format.audio import parse_speech_request, parse_transcription_form
from domain.audio import AudioFile, silent_wav
from domain.deployments import Credentials, Secret
from tests.contract.harnesses.azure import API_BASE, AzureHarness
from tests.contract.harnesses.openai import OpenAIHarness
from tests.contract.outgoing import harness_fixture, sent_json
from tests.contract.surfaces import wire_upstream

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


async def _azure_audio(harness: AzureHarness, call: str) -> httpx.Request:
    """What the Azure adapter sent for one audio `call` (transcription, translation or speech)."""
    harness.upstream.answer = wire_upstream
    provider, deployment = harness.provider, harness.deployment
    if call == "speech":
        speech = parse_speech_request({"model": "voice", "input": "Hello", "voice": "alloy"})
        await (await provider.speak(speech, deployment)).audio.aclose()  # type: ignore[attr-defined]
    else:
        await provider.transcribe(_transcription(translate=call == "translations"), deployment)
    await harness.close()
    (sent,) = harness.upstream.sent
    return sent


@pytest.mark.parametrize("call", ["transcriptions", "translations", "speech"])
async def test_azure_audio_goes_to_the_deployments_audio_route_with_the_api_key(call: str) -> None:
    # learn.microsoft.com/azure/ai-foundry/openai/reference (2024-10-21 GA: audio transcriptions,
    # translations and speech under /openai/deployments/{deployment-id}/audio/...).
    sent = await _azure_audio(AzureHarness(), call)

    assert str(sent.url) == (
        f"{API_BASE}/openai/deployments/gpt-4o-deployment/audio/{call}?api-version=2024-10-21"
    )
    assert sent.headers["api-key"] == "azure-key-123"
    assert "authorization" not in sent.headers
    expected_type = "application/json" if call == "speech" else "multipart/form-data; boundary="
    assert sent.headers["content-type"].startswith(expected_type)


@pytest.mark.parametrize("call", ["transcriptions", "speech"])
async def test_azure_audio_on_the_v1_api_names_the_deployment_as_the_model(call: str) -> None:
    credentials = Credentials(api_key=Secret("k"), extra={"api_version": "preview"})
    sent = await _azure_audio(AzureHarness(credentials=credentials), call)

    assert str(sent.url) == f"{API_BASE}/openai/v1/audio/{call}?api-version=preview"
    model = sent_json(sent)["model"] if call == "speech" else _form(sent)[0]["model"][0]
    assert model == "gpt-4o-deployment"


async def test_azure_audio_takes_an_entra_id_token_as_a_bearer_token() -> None:
    extra = {"azure_ad_token": "eyJ-configured", "api_version": "2024-10-21"}
    sent = await _azure_audio(AzureHarness(credentials=Credentials(extra=extra)), "transcriptions")

    assert sent.headers["authorization"] == "Bearer eyJ-configured"
    assert "api-key" not in sent.headers

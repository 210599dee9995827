"""What the Deepgram adapter sends: the raw upload posted to `/v1/listen` with its content type, the
options in the query and the key as a `Token`; the reply read in each OpenAI format; what Deepgram
cannot do refused before any call. The fake it is tested against is read by Deepgram's own SDK too."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from deepgram import AsyncDeepgramClient
from deepgram.environment import DeepgramClientEnvironment

from adapters.openai_format.audio import parse_transcription_form
from domain import errors
from domain.audio import AudioFile, silent_wav
from tests.contract.harnesses.deepgram import DeepgramHarness
from tests.contract.outgoing import harness_fixture
from tests.contract.surfaces import wire_upstream
from tests.e2e.deepgram_upstream import TRANSCRIPT

harness = harness_fixture(DeepgramHarness)
WAV = silent_wav(2.0, rate=8000)


def _transcription(translate: bool = False, **fields: list[str]):
    form = {"model": ["nova"], **fields}
    return parse_transcription_form(form, AudioFile("talk.wav", WAV, "audio/wav"), translate=translate)


async def _sent(harness: DeepgramHarness, **fields: list[str]) -> tuple[httpx.Request, object]:
    harness.upstream.answer = wire_upstream
    reply = await harness.provider.transcribe(_transcription(**fields), harness.deployment)
    (sent,) = harness.upstream.sent
    return sent, reply


async def test_the_recording_is_posted_raw_with_the_options_in_the_query(harness) -> None:
    sent, reply = await _sent(harness, language=["fr"])

    assert sent.url.path == "/v1/listen"
    assert dict(sent.url.params) == {"model": "nova-3", "punctuate": "true", "language": "fr"}
    assert sent.headers["authorization"] == "Token dg-test-123"
    assert sent.headers["content-type"] == "audio/wav"
    assert sent.content == WAV
    assert (reply.text, reply.duration, reply.usage.audio_seconds) == (TRANSCRIPT, 2.0, 2.0)
    assert reply.language == "fr"


async def test_a_verbose_transcription_has_the_utterances_as_segments_and_the_words(harness) -> None:
    sent, reply = await _sent(harness, response_format=["verbose_json"])

    assert sent.url.params["utterances"] == "true"
    assert reply.segments == ({"id": 0, "start": 0.0, "end": 2.0, "text": TRANSCRIPT},)
    assert [word["word"] for word in reply.words] == ["hello", "from", "the", "fake", "deepgram"]
    assert reply.words[-1]["end"] == 2.0
    assert reply.language == "en"  # Deepgram's own default when none is asked for


async def test_subtitles_are_cued_from_the_utterances(harness) -> None:
    _, srt = await _sent(harness, response_format=["srt"])

    assert srt.text == f"1\n00:00:00,000 --> 00:00:02,000\n{TRANSCRIPT}\n\n"


async def test_other_form_fields_are_deepgrams_own_options(harness) -> None:
    sent, reply = await _sent(harness, smart_format=["true"], detect_language=["true"])

    assert sent.url.params["smart_format"] == "true"
    assert reply.language == "en"  # as detected


async def test_a_base_without_the_version_segment_means_the_same_host(harness) -> None:
    harness.deployment = dataclasses.replace(harness.deployment, api_base="https://api.deepgram.example/")

    sent, _ = await _sent(harness)

    assert str(sent.url).startswith("https://api.deepgram.example/v1/listen?")


@pytest.mark.parametrize(
    ("fields", "translate", "param"),
    [
        ({}, True, "model"),
        ({"prompt": ["names: Ada"]}, False, "prompt"),
        ({"temperature": ["0.2"]}, False, "temperature"),
    ],
)
async def test_what_deepgram_cannot_do_is_refused_before_any_call(harness, fields, translate, param) -> None:
    with pytest.raises(errors.UnsupportedParameterError) as refused:
        await harness.provider.transcribe(_transcription(translate, **fields), harness.deployment)

    assert refused.value.param == param
    assert harness.upstream.sent == []


async def test_a_reply_that_is_not_deepgrams_is_a_bad_gateway(harness) -> None:
    harness.upstream.answer = lambda _: httpx.Response(200, json={"results": {"channels": []}})

    with pytest.raises(errors.BadGatewayError):
        await harness.provider.transcribe(_transcription(), harness.deployment)


async def test_an_error_says_what_deepgram_said(harness) -> None:
    harness.answer_json(401, "errors/unauthorized.json")

    with pytest.raises(errors.AuthenticationError) as raised:
        await harness.provider.transcribe(_transcription(), harness.deployment)

    assert raised.value.message == "Deepgram: Invalid credentials."


async def test_deepgrams_own_sdk_reads_the_fake_upstream() -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(wire_upstream)) as http:
        base = "https://api.deepgram.example"
        environment = DeepgramClientEnvironment(base=base, production=base, agent=base, agent_rest=base)
        client = AsyncDeepgramClient(api_key="dg-test-123", environment=environment, httpx_client=http)

        reply = await client.listen.v1.media.transcribe_file(
            request=WAV, model="nova-3", punctuate=True, utterances=True
        )

    assert reply.metadata.duration == 2.0
    assert reply.results.channels[0].alternatives[0].transcript == TRANSCRIPT
    assert reply.results.utterances[0].end == 2.0

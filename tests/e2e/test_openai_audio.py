"""The audio routes through the real server, driven by the official `openai` client against mock
deployments (a real short WAV transcribed and translated, speech streamed back to a file) and a Deepgram
deployment in front of a fake Deepgram (the WAV transcribed through `/v1/listen`)."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.e2e.conftest import gateway_serving
from tests.e2e.deepgram_upstream import TRANSCRIPT, FakeDeepgram
from tests.unit.test_audio_http import a_wav

pytestmark = pytest.mark.e2e

MODELS = [
    {
        "model_name": "whisper",
        "litellm_params": {"model": "mock/whisper"},
        "model_info": {"mode": "audio_transcription", "input_cost_per_second": 0.0001},
    },
    {
        "model_name": "voice",
        "litellm_params": {"model": "mock/voice"},
        "model_info": {"mode": "audio_speech", "input_cost_per_character": 0.000015},
    },
]


@pytest.fixture(scope="module")
def deepgram() -> Iterator[FakeDeepgram]:
    with FakeDeepgram() as server:
        yield server


@pytest.fixture(scope="module")
def client(deepgram: FakeDeepgram, tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    directory: Path = tmp_path_factory.mktemp("audio")
    # No mode given: a Deepgram deployment transcribes whatever its model's name.
    nova = {
        "model_name": "nova",
        "litellm_params": {"model": "deepgram/nova-3", "api_base": deepgram.base_url, "api_key": "dg-key"},
        "model_info": {"input_cost_per_second": 0.0001},
    }
    with gateway_serving([*MODELS, nova], directory) as gateway:
        yield gateway


def test_a_real_wav_is_transcribed(client) -> None:
    reply = client.audio.transcriptions.with_raw_response.create(
        file=("hello.wav", a_wav(1.25), "audio/wav"), model="whisper"
    )

    assert reply.parse().text == "mock transcription of 1.25 seconds of audio"
    assert reply.headers["x-switchyard-response-cost"] == "0.000125"


def test_a_verbose_translation_states_its_duration(client) -> None:
    reply = client.audio.translations.create(
        file=("hello.wav", a_wav(2), "audio/wav"), model="whisper", response_format="verbose_json"
    )

    assert reply.text == "mock translation of 2 seconds of audio"
    assert reply.duration == 2.0  # type: ignore[attr-defined]


def test_a_text_transcription_is_a_plain_string(client) -> None:
    reply = client.audio.transcriptions.create(
        file=("hello.wav", a_wav(1), "audio/wav"), model="whisper", response_format="text"
    )

    assert reply == "mock transcription of 1 seconds of audio"


def test_speech_streams_back_aa_wav(client, tmp_path: Path) -> None:
    target = tmp_path / "speech.wav"
    with client.audio.speech.with_streaming_response.create(
        model="voice", voice="alloy", input="Hello from Switchyard", response_format="wav"
    ) as response:
        assert response.headers["content-type"] == "audio/wav"
        response.stream_to_file(target)

    with wave.open(str(target), "rb") as spoken:
        assert spoken.getnframes() > 0
        assert spoken.getframerate() == 24000


def test_model_info_shows_the_audio_modes(client) -> None:
    info = client.get("/model/info", cast_to=object)

    modes = {row["model_name"]: row["model_info"]["mode"] for row in info["data"]}  # type: ignore[index]
    assert modes == {"whisper": "audio_transcription", "voice": "audio_speech", "nova": "audio_transcription"}


def test_deepgram_transcribes_a_real_wav_through_its_listen_api(client, deepgram: FakeDeepgram) -> None:
    reply = client.audio.transcriptions.with_raw_response.create(
        file=("hello.wav", a_wav(1.5), "audio/wav"), model="nova", language="en"
    )

    assert reply.parse().text == TRANSCRIPT
    assert reply.headers["x-switchyard-response-cost"] == "0.00015"  # 1.5 s, as Deepgram measured it
    sent = deepgram.requests[-1]
    assert sent["path"] == "/v1/listen"
    assert sent["query"] == {"model": "nova-3", "punctuate": "true", "language": "en"}
    assert sent["headers"]["authorization"] == "Token dg-key"
    assert sent["headers"]["content-type"] == "audio/wav"


def test_a_verbose_deepgram_transcription_has_openais_shape(client) -> None:
    reply = client.audio.transcriptions.create(
        file=("hello.wav", a_wav(2), "audio/wav"), model="nova", response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
    )  # fmt: skip

    assert (reply.text, reply.duration, reply.language) == (TRANSCRIPT, 2.0, "en")  # type: ignore[attr-defined]
    assert reply.segments[0].end == 2.0  # type: ignore[attr-defined]
    assert [word.word for word in reply.words][:2] == ["hello", "from"]  # type: ignore[attr-defined]


def test_deepgram_refuses_a_translation_naming_the_model(client) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.audio.translations.create(file=("hello.wav", a_wav(1), "audio/wav"), model="nova")

    assert refused.value.body["param"] == "model"  # type: ignore[index]
    assert "does not translate" in refused.value.message

"""The audio routes through the real server, driven by the official `openai` client against mock
deployments: a real short WAV transcribed and translated, speech streamed back to a file."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.e2e.conftest import gateway_serving
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
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    directory: Path = tmp_path_factory.mktemp("audio")
    with gateway_serving(MODELS, directory) as gateway:
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
    assert modes == {"whisper": "audio_transcription", "voice": "audio_speech"}

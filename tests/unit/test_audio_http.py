"""The audio routes through the app: uploads read with a size limit, transcripts in each format, speech
streamed back, routed only to deployments that serve audio, priced by second or character, logged."""

from __future__ import annotations

import asyncio
import io
import wave
from collections.abc import AsyncIterator
from decimal import Decimal

import orjson
import pytest
from litestar.testing import AsyncTestClient

from adapters.llm.mock import MockProvider
from domain.audio import silent_wav, wav_seconds
from domain.deployments import Capabilities, Deployment
from domain.pricing import ModelPrices
from tests.fakes import FakeTokenCounter
from tests.unit import test_http_api
from tests.unit.test_text_completions_http import _Journals, _records

LISTENER = Capabilities(chat=False, transcription=True, mode="audio_transcription")
SPEAKER = Capabilities(chat=False, speech=True, mode="audio_speech")


def a_wav(seconds: float, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as recording:
        recording.setnchannels(1)
        recording.setsampwidth(2)
        recording.setframerate(rate)
        recording.writeframes(bytes(int(seconds * rate) * 2))
    return out.getvalue()


@pytest.fixture
async def client(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AsyncTestClient]:
    _Journals.opened = []
    monkeypatch.setattr(test_http_api, "InMemorySpendJournal", _Journals)
    more = (
        Deployment(id="dep-w1", model_name="whisper", provider="anthropic", upstream_model="claude"),
        Deployment(
            id="dep-w2",
            model_name="whisper",
            provider="mock",
            upstream_model="whisper-mock",
            capabilities=LISTENER,
            prices=ModelPrices(per_second=Decimal("0.0001")),
        ),
        Deployment(
            id="dep-t1",
            model_name="voice",
            provider="mock",
            upstream_model="tts-mock",
            capabilities=SPEAKER,
            prices=ModelPrices(per_character=Decimal("0.000015")),
        ),
    )
    provider = MockProvider(FakeTokenCounter())
    async with AsyncTestClient(test_http_api._app(provider, more=more)) as test_client:  # type: ignore[arg-type]
        yield test_client


def _form(**fields: str) -> dict[str, str]:
    return {"model": "whisper", **fields}


async def test_a_wav_is_transcribed_by_the_deployment_that_listens_priced_per_second(client) -> None:
    for _ in range(4):  # whichever the router would pick, only the transcribing deployment serves it
        response = await client.post(
            "/v1/audio/transcriptions", data=_form(), files={"file": ("hello.wav", a_wav(2.5), "audio/wav")}
        )

        assert response.status_code == 200, response.text
        assert response.headers["x-switchyard-model-id"] == "dep-w2"
    assert response.json() == {"text": "mock transcription of 2.5 seconds of audio"}
    assert response.headers["x-switchyard-response-cost"] == "0.00025"
    records = await _records()
    assert {record.call_type for record in records} == {"audio_transcription"}
    assert records[-1].cost == Decimal("0.00025")


async def test_text_and_subtitle_formats_are_plain_text(client) -> None:
    wav = ("a.wav", a_wav(1), "audio/wav")

    text = await client.post("/audio/transcriptions", data=_form(response_format="text"), files={"file": wav})
    srt = await client.post(
        "/v1/audio/transcriptions", data=_form(response_format="srt"), files={"file": wav}
    )

    assert text.status_code == 200, text.text
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text == "mock transcription of 1 seconds of audio"
    assert srt.text.startswith("1\n00:00:00,000 --> 00:00:01,000\nmock transcription")


async def test_verbose_json_has_the_duration_and_a_translation_is_logged_as_one(client) -> None:
    response = await client.post(
        "/v1/audio/translations",
        data=_form(response_format="verbose_json"),
        files={"file": ("a.wav", a_wav(3), "audio/wav")},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["task"] == "translate"
    assert body["duration"] == 3.0
    assert body["text"] == "mock translation of 3 seconds of audio"
    assert body["segments"][0]["end"] == 3.0
    assert (await _records())[-1].call_type == "audio_translation"


async def test_a_file_that_is_no_wav_is_transcribed_without_a_length_or_a_cost(client) -> None:
    response = await client.post(
        "/v1/audio/transcriptions", data=_form(), files={"file": ("a.mp3", b"ID3not-a-wav", "audio/mpeg")}
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"text": "mock transcription of audio"}
    assert response.headers["x-switchyard-response-cost"] == "0"


async def test_a_file_over_the_limit_is_a_413_naming_it(client) -> None:
    too_big = bytes(25 * 1024 * 1024 + 1)  # OpenAI's own limit, the default

    response = await client.post(
        "/v1/audio/transcriptions", data=_form(), files={"file": ("big.wav", too_big, "audio/wav")}
    )

    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["param"] == "file"
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "request_too_large"


WAV_FILE = {"file": ("a.wav", b"RIFF", "audio/wav")}


@pytest.mark.parametrize(("fields", "files", "param"), [
    ({"model": "whisper"}, None, "file"),
    ({}, WAV_FILE, "model"),
    ({"model": "whisper", "response_format": "xml"}, WAV_FILE, "response_format"),
    ({"model": "whisper", "temperature": "hot"}, WAV_FILE, "temperature"),
])  # fmt: skip
async def test_a_missing_or_bad_field_is_a_400_naming_it(client, fields, files, param) -> None:
    files = files or {"other": ("x", b"x")}
    response = await client.post("/v1/audio/transcriptions", data=fields, files=files)

    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


async def test_a_json_body_is_refused_as_not_multipart(client) -> None:
    response = await client.post("/v1/audio/transcriptions", json={"model": "whisper"})

    assert response.status_code == 400
    assert "multipart/form-data" in response.json()["error"]["message"]


async def test_a_model_that_cannot_transcribe_refuses_naming_the_model(client) -> None:
    response = await client.post(
        "/v1/audio/transcriptions", data={"model": "voice"}, files={"file": ("a.wav", a_wav(1), "audio/wav")}
    )

    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "model"


async def test_speech_is_streamed_back_as_a_wav_priced_per_character(client) -> None:
    text = "Hello from the gateway"

    response = await client.post("/v1/audio/speech", json={"model": "voice", "input": text, "voice": "alloy"})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/wav"
    assert wav_seconds(response.content) == pytest.approx(len(text) * 0.01)
    assert response.content == silent_wav(len(text) * 0.01)
    assert response.headers["x-switchyard-response-cost"] == "0.00033"
    records = await _records()
    assert records[-1].call_type == "audio_speech"
    assert records[-1].cost == Decimal("0.00033")


@pytest.mark.parametrize(("body", "param"), [
    ({"input": "hi", "voice": "alloy"}, "model"),
    ({"model": "voice", "voice": "alloy"}, "input"),
    ({"model": "voice", "input": "hi"}, "voice"),
    ({"model": "voice", "input": "hi", "voice": "alloy", "response_format": "ogg"}, "response_format"),
    ({"model": "voice", "input": "hi", "voice": "alloy", "speed": 9.0}, "speed"),
])  # fmt: skip
async def test_a_bad_speech_field_is_a_400_naming_it(client, body, param) -> None:
    response = await client.post("/audio/speech", json=body)

    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


async def test_model_info_shows_the_audio_modes_and_their_prices(client) -> None:
    rows = (await client.get("/v1/model/info")).json()["data"]

    infos = {row["model_info"]["id"]: row["model_info"] for row in rows}
    assert infos["dep-w2"]["mode"] == "audio_transcription"
    assert infos["dep-w2"]["input_cost_per_second"] == 0.0001
    assert infos["dep-t1"]["mode"] == "audio_speech"
    assert infos["dep-t1"]["input_cost_per_character"] == 0.000015


def test_the_upload_limit_comes_from_general_settings_and_audio_models_get_their_mode() -> None:
    from adapters.config.loader import load_config

    model_list = [
        {"model_name": "stt", "litellm_params": {"model": "groq/whisper-large-v3", "api_key": "k"}},
        {"model_name": "tts", "litellm_params": {"model": "openai/tts-1", "api_key": "k"},
         "model_info": {"input_cost_per_character": 0.000015}},
    ]  # fmt: skip
    config = load_config({"model_list": model_list, "general_settings": {"max_audio_upload_mb": 2}}, {})

    assert config.max_audio_upload_bytes == 2 * 1024 * 1024
    stt, tts = config.deployments
    assert stt.capabilities.mode == "audio_transcription"
    assert (stt.capabilities.transcription, stt.capabilities.chat) == (True, False)
    assert (tts.capabilities.mode, tts.capabilities.speech) == ("audio_speech", True)
    assert tts.prices is not None and tts.prices.per_character == Decimal("0.000015")


async def test_speech_the_caller_hangs_up_on_is_recorded_as_a_499_once_the_audio_stops(client) -> None:
    body = orjson.dumps({"model": "voice", "input": "x" * 150, "voice": "alloy"})  # 1.5 s: many pieces
    heard = asyncio.Event()
    sent: list[dict] = []

    async def receive() -> dict:
        if not sent:
            return {"type": "http.request", "body": body, "more_body": False}
        await heard.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            heard.set()
            await asyncio.sleep(0.01)  # the caller is gone before the next piece

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/v1/audio/speech", "raw_path": b"/v1/audio/speech", "query_string": b"", "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 5000), "server": ("testserver", 80), "app": client.app,
    }  # fmt: skip
    await client.app(scope, receive, send)

    assert sent[0]["status"] == 200
    assert not any(m["type"] == "http.response.body" and not m.get("more_body") for m in sent)
    record = (await _records())[-1]
    assert (record.call_type, record.status_code) == ("audio_speech", 499)
    assert record.cost == Decimal("0.00225")  # 150 characters: the upstream was asked for them all

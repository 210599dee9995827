"""Speech is recorded once its audio ends, however it ends: a whole stream once as a success, one the
caller leaves as a 499, one the upstream breaks as that error; each priced by the input's characters,
its upstream seconds covering the stream, its deployment's slot held until then."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from domain.audio import SpeechRequest, SpeechResponse, speech_usage
from domain.deployments import Capabilities, Deployment, Limits
from domain.errors import BadGatewayError, RateLimitError
from domain.pricing import ModelPrices
from domain.spend import CallStatus
from tests.fakes import FakeClock, FakeLLMProvider
from tests.unit.test_metering import Rig

TEXT = "Hello there, world."
PER_CHARACTER = Decimal("0.000015")
VOICE = Deployment(
    id="tts-1", model_name="voice", provider="openai", upstream_model="tts-1",
    prices=ModelPrices(per_character=PER_CHARACTER), limits=Limits(max_parallel_requests=1),
    capabilities=Capabilities(chat=False, speech=True, mode="audio_speech"),
)  # fmt: skip


class Speaker(FakeLLMProvider):
    """Speaks in three pieces, each taking a second of the rig's clock; `breaks` ends the audio with
    that error after the first piece."""

    supports_speech = True

    def __init__(self, breaks: Exception | None = None) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.breaks = breaks
        self.closed = 0

    async def speak(self, request: SpeechRequest, deployment: Deployment) -> SpeechResponse:
        return SpeechResponse(deployment.upstream_model, "audio/mpeg", self._audio(), speech_usage(request))

    async def _audio(self) -> AsyncIterator[bytes]:
        try:
            for number in range(3):
                self.clock.advance(1.0)
                if number == 1 and self.breaks is not None:
                    raise self.breaks
                yield b"ID3" if number == 0 else bytes(100)
        finally:
            self.closed += 1


def _rig(breaks: Exception | None = None) -> tuple[Rig, Speaker]:
    speaker = Speaker(breaks)
    rig = Rig(VOICE, provider=speaker)
    speaker.clock = rig.clock
    return rig, speaker


async def _speak(rig: Rig, call_id: str = "v1") -> SpeechResponse:
    served = await rig.completions.speak(
        SpeechRequest(model="voice", input=TEXT, voice="alloy"), call_id=call_id
    )
    return served.value


async def test_a_whole_speech_is_recorded_once_when_its_audio_ends_priced_per_character() -> None:
    rig, _ = _rig()

    speech = await _speak(rig)
    assert await rig.records() == []  # nothing yet: the audio has not been heard
    audio = b"".join([piece async for piece in speech.audio])
    await speech.audio.aclose()  # type: ignore[attr-defined]

    assert audio.startswith(b"ID3")
    [record] = await rig.records()
    assert (record.request_id, record.status, record.status_code) == ("v1", CallStatus.SUCCESS, 200)
    assert record.usage.characters == len(TEXT)
    assert record.cost == speech.cost == len(TEXT) * PER_CHARACTER
    assert record.upstream_seconds == pytest.approx(3.0)  # every read of the stream


async def test_a_speech_the_caller_leaves_midway_is_recorded_as_a_499_and_still_charged() -> None:
    rig, speaker = _rig()

    speech = await _speak(rig)
    async for _ in speech.audio:
        break
    await speech.audio.aclose()  # type: ignore[attr-defined]

    [record] = await rig.records()
    assert (record.status, record.status_code) == (CallStatus.FAILURE, 499)
    assert record.cost == len(TEXT) * PER_CHARACTER  # the upstream took the whole input
    assert record.upstream_seconds == pytest.approx(1.0)
    assert speaker.closed == 1


async def test_a_speech_the_upstream_breaks_is_recorded_with_its_error() -> None:
    rig, _ = _rig(breaks=BadGatewayError("the upstream hung up"))

    speech = await _speak(rig)
    with pytest.raises(BadGatewayError):
        [piece async for piece in speech.audio]
    await speech.audio.aclose()  # type: ignore[attr-defined]

    [record] = await rig.records()
    assert (record.status, record.status_code, record.error_type) == (CallStatus.FAILURE, 502, "bad_gateway")
    assert record.deployment_id == VOICE.id


async def test_the_deployments_slot_is_held_until_the_audio_ends() -> None:
    rig, _ = _rig()

    speech = await _speak(rig, "v1")
    with pytest.raises(RateLimitError):  # one call at a time, and the first is still speaking
        await _speak(rig, "v2")
    await speech.audio.aclose()  # type: ignore[attr-defined]
    again = await _speak(rig, "v3")
    await again.audio.aclose()  # type: ignore[attr-defined]

    statuses = {record.request_id: record.status_code for record in await rig.records()}
    assert statuses == {"v1": 499, "v2": 429, "v3": 499}

"""POST /v1/audio/transcriptions, /v1/audio/translations (multipart uploads) and /v1/audio/speech
(the audio streamed back; the call's limits held, and the call recorded, until the audio ends)."""

from __future__ import annotations

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency

from adapters.http.exchange import (
    Inference,
    admitted,
    admitted_call,
    answered,
    exchange,
    released_on_failure,
    with_header_tags,
)
from adapters.http.sse import ByteStream, streamed_head
from adapters.http.uploads import Upload, upload_reader
from adapters.openai_format.audio import parse_speech_request, parse_transcription_form, render_transcription
from application.access import Ticket
from domain.audio import SpeechResponse


class AudioController(Controller):
    # Uploads are bounded as they stream in (uploads.py), by their own limit rather than the app's.
    @post(["/v1/audio/transcriptions", "/audio/transcriptions"], status_code=200, request_max_body_size=None)
    async def transcribe(self, request: Request, inference: NamedDependency[Inference]) -> Response:
        return await _transcription(request, inference, translate=False)

    @post(["/v1/audio/translations", "/audio/translations"], status_code=200, request_max_body_size=None)
    async def translate(self, request: Request, inference: NamedDependency[Inference]) -> Response:
        return await _transcription(request, inference, translate=True)

    @post(["/v1/audio/speech", "/audio/speech"], status_code=200)
    async def speak(self, request: Request, inference: NamedDependency[Inference]) -> Response:
        speak = inference.completions.speak

        async def handle(body: object, call_id: str, started: float) -> Response:
            asked = with_header_tags(parse_speech_request(body), request)
            ticket = await admitted(
                inference, request, asked, None, call_id=call_id, call_type="audio_speech"
            )
            served = await released_on_failure(ticket, speak(asked, call_id=call_id, caller=ticket.caller))
            speech = served.value
            headers = answered(call_id, served, started, ticket)
            return ByteStream(_ReleasingAudio(speech, ticket), headers, streamed_head(speech.content_type))

        return await exchange(request, handle, inference.in_flight)


class _ReleasingAudio:
    """The speech's audio; the caller's ticket given back, charged the call's cost, once the audio ends
    or is closed (as for a streamed chat, its limits hold until then)."""

    __slots__ = ("_audio", "_cost", "_ticket")

    def __init__(self, speech: SpeechResponse, ticket: Ticket) -> None:
        self._audio = speech.audio
        self._cost = speech.cost
        self._ticket = ticket

    def __aiter__(self) -> _ReleasingAudio:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await anext(self._audio)
        except StopAsyncIteration:
            self._ticket.release(0, self._cost)
            raise

    async def aclose(self) -> None:
        try:
            await self._audio.aclose()  # type: ignore[attr-defined]
        finally:
            self._ticket.release(0, self._cost)


async def _transcription(request: Request, inference: Inference, *, translate: bool) -> Response:
    transcribe = inference.completions.transcribe
    call_type = "audio_translation" if translate else "audio_transcription"

    async def handle(upload: object, call_id: str, started: float) -> Response:
        assert isinstance(upload, Upload)
        parsed = parse_transcription_form(upload.fields, upload.file, translate=translate)
        asked = with_header_tags(parsed, request)
        served, headers = await admitted_call(
            inference, request, asked, None, call_id=call_id, started=started, call_type=call_type,
            call=lambda ticket: transcribe(asked, call_id=call_id, caller=ticket.caller, call_type=call_type),
        )  # fmt: skip
        body, media_type = render_transcription(served.value)
        return Response(body, media_type=media_type, headers=headers)

    read = upload_reader(inference.max_audio_upload_bytes)
    return await exchange(request, handle, inference.in_flight, read=read)

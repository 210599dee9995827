"""POST /v1/audio/transcriptions, /v1/audio/translations (multipart uploads) and /v1/audio/speech
(the audio streamed back)."""

from __future__ import annotations

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.response import Stream

from adapters.http.exchange import Inference, admitted_call, exchange, with_header_tags
from adapters.http.uploads import Upload, upload_reader
from adapters.openai_format.audio import parse_speech_request, parse_transcription_form, render_transcription


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
            served, headers = await admitted_call(
                inference, request, asked, None, call_id=call_id, started=started, call_type="audio_speech",
                call=lambda ticket: speak(asked, call_id=call_id, caller=ticket.caller),
            )  # fmt: skip
            return Stream(served.value.audio, media_type=served.value.content_type, headers=headers)

        return await exchange(request, handle, inference.in_flight)


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

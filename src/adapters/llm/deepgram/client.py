"""The Deepgram provider: speech to text over one pooled httpx client; it serves no chat."""

from __future__ import annotations

from typing import ClassVar

import httpx

from adapters.llm import http_calls
from adapters.llm.deepgram import mapping
from adapters.llm.deepgram.errors import upstream_error
from adapters.llm.json_io import decode
from adapters.llm.no_chat import NoChatProvider
from domain.audio import TranscriptionRequest, TranscriptionResponse
from domain.deployments import Deployment


class DeepgramProvider(NoChatProvider):
    """Transcribes with Deepgram's pre-recorded API at `deployment.api_base`
    (https://api.deepgram.com/v1 by default), the deployment's key sent as `Token <key>`."""

    name: ClassVar[str] = "deepgram"
    supports_transcription: ClassVar[bool] = True
    no_chat: ClassVar[str] = "Deepgram serves audio transcriptions only"

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def transcribe(
        self, request: TranscriptionRequest, deployment: Deployment
    ) -> TranscriptionResponse:
        refusal = mapping.refused(request)
        if refusal is not None:
            raise refusal
        upload = request.file
        response = await http_calls.post(
            self._client,
            mapping.listen_url(deployment, request),
            upload.content,
            mapping.headers(deployment, upload.content_type),
            limits=deployment.limits,
            failed=upstream_error,
        )
        payload = decode(response.content, "Deepgram")
        return mapping.read_transcription(payload, request, deployment.upstream_model)

"""What the contract suites of the non-chat port methods (test_{moderation,rerank,images,audio}_contract.py)
share: the adapters that serve each method, each real one behind a fake upstream that answers every call
from what it was sent, in its provider's wire format (OpenAI's /moderations, /rerank, /images/generations,
/audio/*; Cohere's /v2/rerank; Deepgram's /v1/listen), and the upstream failures every real adapter must
translate."""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest
from multipart import parse_form_data

from adapters.llm.mock.script import FLAGGED_MARKER, PIXEL_PNG
from domain import errors
from domain.audio import SPEECH_FORMATS, silent_wav
from tests.contract.harnesses.azure import AzureHarness
from tests.contract.harnesses.base import HttpHarness, ProviderHarness, RecordingStream
from tests.contract.harnesses.cohere import CohereHarness
from tests.contract.harnesses.compatible_hosts import host_harness
from tests.contract.harnesses.deepgram import DeepgramHarness
from tests.contract.harnesses.mock import MockHarness
from tests.contract.harnesses.openai import OpenAIHarness
from tests.contract.harnesses.retrieval import JinaHarness, VoyageHarness
from tests.contract.image_upstreams import IMAGE_BACKENDS, IMAGE_PATHS, image_reply
from tests.e2e.deepgram_upstream import listen_reply

BACKENDS: dict[str, Callable[[], ProviderHarness]] = {
    "mock": MockHarness,
    "openai": OpenAIHarness,
    "azure": AzureHarness,
    "cohere": CohereHarness,
    "groq": host_harness("groq"),
    "deepgram": DeepgramHarness,
    "voyage": VoyageHarness,
    "jina_ai": JinaHarness,
    **IMAGE_BACKENDS,
}
SERVED_BY: dict[str, tuple[str, ...]] = {
    "moderate": ("mock", "openai", "azure"),
    # openai: a compatible host's /rerank (vLLM, TEI); jina_ai answers in that shape too.
    "rerank": ("mock", "openai", "cohere", "voyage", "jina_ai"),
    "generate_images": ("mock", "openai", "azure", *IMAGE_BACKENDS),
    "transcribe": ("mock", "openai", "azure", "groq", "deepgram"),
    "translate": ("mock", "openai", "azure", "groq"),  # Deepgram transcribes only
    "speak": ("mock", "openai", "azure"),
}
"""Each port method and the backends its contract suite runs against."""

FAILURES: dict[str, type[errors.SwitchyardError]] = {
    "bad_request": errors.BadRequestError,
    "unauthorized": errors.AuthenticationError,
    "rate_limited": errors.RateLimitError,
    "server_error": errors.InternalServerError,
    "unavailable": errors.ServiceUnavailableError,
}
"""The upstream failures (by the harnesses' names, see their `failures`) and the domain error of each."""

VOYAGE_HOST = "api.voyageai.com"
TRANSCRIPT = "hello from the fake upstream"
AUDIO_SECONDS = 1.5


def backend_fixture(
    method: str, *, real_only: bool = False, name: str | None = None
) -> Callable[..., AsyncIterator[ProviderHarness]]:
    """A fixture (`name`; by default `backend`, or `upstream_backend` when `real_only`) giving each test a
    harness of every backend serving `method` (but the mock when `real_only`), its fake upstream
    speaking the provider's wire format."""
    names = tuple(backend for backend in SERVED_BY[method] if not (real_only and backend == "mock"))

    @pytest.fixture(name=name or ("upstream_backend" if real_only else "backend"), params=names)
    async def fixture(request: pytest.FixtureRequest) -> AsyncIterator[ProviderHarness]:
        harness = BACKENDS[request.param]()
        if isinstance(harness, HttpHarness):
            harness.upstream.answer = wire_upstream
        yield harness
        await harness.close()

    return fixture


def fail_with(harness: ProviderHarness, kind: str) -> None:
    """Scripts the harness's upstream to answer every call with its failure `kind`."""
    assert isinstance(harness, HttpHarness)
    failure = harness.failures[kind]
    harness.answer_json(failure.status, failure.fixture, failure.headers)


def wire_upstream(request: httpx.Request) -> httpx.Response:
    """The fake upstream: answers each endpoint from the request, as the provider would."""
    path = request.url.path
    if path.endswith("/v2/rerank"):
        return httpx.Response(200, json=_cohere_rerank(orjson.loads(request.content)))
    if path.endswith("/rerank") and request.url.host == VOYAGE_HOST:
        return httpx.Response(200, json=_voyage_rerank(orjson.loads(request.content)))
    if path.endswith("/rerank"):
        return httpx.Response(200, json=_hosted_rerank(orjson.loads(request.content)))
    if path.endswith("/moderations"):
        return httpx.Response(200, json=_moderation(orjson.loads(request.content)))
    if path.endswith("/images/generations"):
        return httpx.Response(200, json=_images(orjson.loads(request.content)))
    if path.endswith(("/audio/transcriptions", "/audio/translations")):
        return _transcription(request, translate=path.endswith("/translations"))
    if path.endswith("/audio/speech"):
        return _speech(orjson.loads(request.content))
    if path.endswith(IMAGE_PATHS):
        return image_reply(request)
    if path.endswith("/v1/listen"):
        return httpx.Response(200, json=listen_reply(dict(request.url.params), request.content))
    return httpx.Response(
        404, json={"error": {"message": f"no route {path}", "type": "invalid_request_error"}}
    )


def relevance(query: str, document: str) -> float:
    """The fakes' score: the share of the query's words the document holds."""
    asked = set(query.lower().split())
    return len(asked & set(document.lower().split())) / len(asked)


def _moderation(body: dict[str, Any]) -> dict[str, Any]:
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    results = []
    for text in inputs:
        flagged = FLAGGED_MARKER in text
        results.append(
            {
                "flagged": flagged,
                "categories": {"harassment": flagged, "violence": False, "illicit": None},
                "category_scores": {
                    "harassment": 0.97 if flagged else 0.01,
                    "violence": 0.02,
                    "illicit": None,
                },
                "category_applied_input_types": {"harassment": ["text"], "violence": ["text"]},
            }
        )
    return {"id": "modr-fake", "model": body["model"], "results": results}


def _cohere_rerank(body: dict[str, Any]) -> dict[str, Any]:
    # Cohere ranks, cuts to top_n and bills a search unit; it never sends the documents back.
    scored = [
        {"index": index, "relevance_score": relevance(body["query"], document)}
        for index, document in enumerate(body["documents"])
    ]
    ranked = sorted(scored, key=lambda result: -result["relevance_score"])[: body.get("top_n")]
    return {"id": "rerank-fake", "results": ranked, "meta": {"billed_units": {"search_units": 1}}}


def _voyage_rerank(body: dict[str, Any]) -> dict[str, Any]:
    # Voyage ranks under `data`, cuts to top_k and sends documents back only when asked.
    scored = [
        {"index": index, "relevance_score": relevance(body["query"], document)}
        | ({"document": document} if body.get("return_documents") else {})
        for index, document in enumerate(body["documents"])
    ]
    ranked = sorted(scored, key=lambda result: -result["relevance_score"])[: body.get("top_k")]
    return {"object": "list", "data": ranked, "model": body["model"], "usage": {"total_tokens": 26}}


def _hosted_rerank(body: dict[str, Any]) -> dict[str, Any]:
    # A host may answer in document order and send every document back whatever was asked.
    results = [
        {
            "index": index,
            "document": {"text": document},
            "relevance_score": relevance(body["query"], document),
        }
        for index, document in enumerate(body["documents"])
    ]
    return {"id": "rerank-fake", "model": body["model"], "usage": {"total_tokens": 21}, "results": results}


def _images(body: dict[str, Any]) -> dict[str, Any]:
    count = body.get("n", 1)
    if body.get("response_format") == "url":
        data = [{"url": f"https://images.example/{index}.png"} for index in range(count)]
        return {"created": int(time.time()), "data": data}
    return {
        "created": int(time.time()),
        "data": [{"b64_json": PIXEL_PNG, "revised_prompt": body["prompt"]}] * count,
        "usage": {"input_tokens": 9, "output_tokens": 272 * count, "total_tokens": 9 + 272 * count},
    }


def _transcription(request: httpx.Request, *, translate: bool) -> httpx.Response:
    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": request.headers["content-type"],
        "CONTENT_LENGTH": str(len(request.content)),
        "wsgi.input": io.BytesIO(request.content),
    }
    forms, files = parse_form_data(environ, strict=True)
    assert "file" in files, "a transcription uploads its file"
    response_format = forms.get("response_format", "json")
    if response_format == "srt":
        return httpx.Response(200, text=f"1\n00:00:00,000 --> 00:00:01,500\n{TRANSCRIPT}\n\n")
    if response_format == "vtt":
        return httpx.Response(200, text=f"WEBVTT\n\n00:00:00.000 --> 00:00:01.500\n{TRANSCRIPT}\n\n")
    if response_format == "text":
        return httpx.Response(200, text=TRANSCRIPT + "\n")
    if response_format == "verbose_json":
        segment = {"id": 0, "start": 0.0, "end": AUDIO_SECONDS, "text": TRANSCRIPT}
        return httpx.Response(
            200,
            json={
                "task": "translate" if translate else "transcribe",
                "language": "english",
                "duration": AUDIO_SECONDS,
                "text": TRANSCRIPT,
                "segments": [segment],
            },
        )
    return httpx.Response(200, json={"text": TRANSCRIPT})


def _speech(body: dict[str, Any]) -> httpx.Response:
    response_format = body.get("response_format", "mp3")
    audio = silent_wav(0.2) if response_format == "wav" else b"ID3" + bytes(9_000)
    return httpx.Response(
        200,
        headers={"content-type": SPEECH_FORMATS[response_format]},
        stream=RecordingStream(audio, piece=1024),
    )


def wav(seconds: float = AUDIO_SECONDS) -> bytes:
    """A recording to transcribe."""
    return silent_wav(seconds, rate=8000)

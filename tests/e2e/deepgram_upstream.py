"""A fake Deepgram in its pre-recorded wire format (developers.deepgram.com/reference/speech-to-text/
listen-pre-recorded): `POST /v1/listen?model=...` with the raw audio as the body and the key as
`Authorization: Token <key>`, answered with `{"metadata", "results"}` whose transcript says the
recording's length; `utterances=true` adds the utterances, `detect_language=true` the language found.
`listen_reply` is the answer itself, shared with the contract suite's httpx fake; `FakeDeepgram` serves
it on a real socket (its base URL is what a deployment's api_base names: `{root}/v1`)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from domain.audio import wav_seconds
from tests.e2e.fake_server import FakeHandler, FakeServer

TRANSCRIPT = "Hello from the fake Deepgram."
UNAUTHORIZED = {"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials.", "request_id": "dg-req-1"}


def listen_reply(query: Mapping[str, str], audio: bytes) -> dict[str, Any]:
    """Deepgram's answer to a recording posted with the options `query`: one channel, one alternative,
    its words spread evenly over the recording (of the WAV's length; 0 for other audio)."""
    duration = wav_seconds(audio) or 0.0
    said = TRANSCRIPT.split()
    step = duration / len(said)
    words = [
        {"word": word.strip(".").lower(), "start": n * step, "end": (n + 1) * step, "confidence": 0.99,
         "punctuated_word": word}
        for n, word in enumerate(said)
    ]  # fmt: skip
    channel: dict[str, Any] = {
        "alternatives": [{"transcript": TRANSCRIPT, "confidence": 0.99, "words": words}]
    }
    if query.get("detect_language") == "true":
        channel |= {"detected_language": "en", "language_confidence": 0.98}
    results: dict[str, Any] = {"channels": [channel]}
    if query.get("utterances") == "true":
        results["utterances"] = [
            {"start": 0.0, "end": duration, "confidence": 0.99, "channel": 0, "transcript": TRANSCRIPT,
             "words": words, "id": str(uuid.uuid4())}
        ]  # fmt: skip
    model_id = str(uuid.uuid4())
    metadata = {
        "transaction_key": "deprecated",
        "request_id": str(uuid.uuid4()),
        "sha256": "0" * 64,
        "created": "2026-01-01T00:00:00.000Z",
        "duration": duration,
        "channels": 1,
        "models": [model_id],
        "model_info": {model_id: {"name": query.get("model", "general"), "version": "1", "arch": "nova-3"}},
    }
    return {"metadata": metadata, "results": results}


class _Handler(FakeHandler):
    def do_POST(self) -> None:
        audio = self.read_body()
        url = urlsplit(self.path)
        query = {name: values[-1] for name, values in parse_qs(url.query).items()}
        self.record(len(audio), path=url.path, query=query)
        if not self.headers.get("authorization", "").startswith("Token "):
            return self.send_json(401, UNAUTHORIZED)
        if url.path != "/v1/listen":
            return self.send_json(404, {"err_code": "NOT_FOUND", "err_msg": f"no route {url.path}"})
        return self.send_json(200, listen_reply(query, audio))


class FakeDeepgram(FakeServer):
    handler = _Handler

    @property
    def base_url(self) -> str:
        return self.root + "/v1"

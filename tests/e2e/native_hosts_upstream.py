"""A fake of five providers on one real socket, each in its own wire format and under its own path
prefix (what each deployment's api_base names):

- `/voyage/v1/embeddings`, `/voyage/v1/rerank`: Voyage AI (base64 float32 vectors when asked, rerank
  under `data`, usage as total_tokens only);
- `/jina/v1/embeddings`, `/jina/v1/rerank`: Jina AI (float vectors, rerank under `results` with every
  document unless `return_documents` is false);
- `/hf/v1/chat/completions`, `/hf/hf-inference/models/{model}/pipeline/feature-extraction`: Hugging
  Face's router and the hf-inference pipeline (the bare list of vectors);
- `/client/v4/accounts/{account}/ai/v1/...`: Cloudflare Workers AI's OpenAI-compatible endpoints;
- `/sf/api/v2/cortex/v1/chat/completions`, `/sf/api/v2/cortex/inference:embed`: Snowflake Cortex.

Chat answers "Hello from {host}!" whole or streamed in OpenAI's format; each vector is the input's length
followed by 1.0s, so tests can tell inputs apart.
"""

from __future__ import annotations

import base64
import json
import re
import struct

from tests.e2e.fake_server import FakeHandler, FakeServer
from tests.e2e.upstream import chunk, completion, usage_chunk

DIMENSIONS = 4
_CLOUDFLARE = re.compile(r"^/client/v4/accounts/[^/]+/ai/v1/")
_HF_PIPELINE = re.compile(r"^/hf/hf-inference/models/(?P<model>.+)/pipeline/feature-extraction$")


def vector(text: str) -> list[float]:
    return [float(len(text))] + [1.0] * (DIMENSIONS - 1)


def packed(values: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def embedding_list(model: str, vectors: list, usage: dict) -> dict:
    """OpenAI's embeddings list, which Voyage, Jina and Cloudflare answer with (usage as each counts)."""
    data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
    return {"object": "list", "data": data, "model": model, "usage": usage}


def relevance(query: str, document: str) -> float:
    asked = set(query.lower().split())
    return len(asked & set(document.lower().split())) / len(asked)


class _Handler(FakeHandler):
    server: FakeNativeHosts

    def do_POST(self) -> None:
        body = json.loads(self.read_body())
        self.record(body)
        path = self.path
        if path.startswith("/voyage/v1/"):
            return self._voyage(path.removeprefix("/voyage/v1"), body)
        if path.startswith("/jina/v1/"):
            return self._jina(path.removeprefix("/jina/v1"), body)
        if _HF_PIPELINE.match(path):  # one text, one vector; a list of texts, a list of them
            inputs = body["inputs"]
            vectors = vector(inputs) if isinstance(inputs, str) else [vector(text) for text in inputs]
            return self.send_json(200, vectors)
        if path == "/hf/v1/chat/completions":
            return self._chat("Hugging Face", body)
        if _CLOUDFLARE.match(path):
            return self._openai("Cloudflare", path, body)
        if path == "/sf/api/v2/cortex/v1/chat/completions":
            return self._chat("Snowflake", body)
        if path == "/sf/api/v2/cortex/inference:embed":
            data = [{"embedding": [vector(text)], "index": i} for i, text in enumerate(body["text"])]
            return self.send_json(200, {"data": data, "model": body["model"], "usage": {"total_tokens": 7}})
        return self.send_json(404, {"detail": f"no route {path}"})

    def _voyage(self, path: str, body: dict) -> None:
        if path == "/embeddings":
            packs = body.get("encoding_format") == "base64"
            vectors = [packed(vector(t)) if packs else vector(t) for t in body["input"]]
            return self.send_json(200, embedding_list(body["model"], vectors, {"total_tokens": 10}))
        ranked = self._ranked(body, body.get("top_k"), with_documents=bool(body.get("return_documents")))
        usage = {"total_tokens": 30}
        return self.send_json(200, {"object": "list", "data": ranked, "model": body["model"], "usage": usage})

    def _jina(self, path: str, body: dict) -> None:
        if path == "/embeddings":
            vectors = [vector(t) for t in body["input"]]
            usage = {"total_tokens": 10, "prompt_tokens": 10}
            return self.send_json(200, embedding_list(body["model"], vectors, usage))
        ranked = self._ranked(body, body.get("top_n"), with_documents=body.get("return_documents", True))
        ranked = [{**r, "document": {"text": r["document"]}} if "document" in r else r for r in ranked]
        return self.send_json(200, {"model": body["model"], "usage": {"total_tokens": 30}, "results": ranked})

    def _ranked(self, body: dict, top: int | None, *, with_documents: bool) -> list[dict]:
        scored = [
            {"index": i, "relevance_score": relevance(body["query"], document)}
            | ({"document": document} if with_documents else {})
            for i, document in enumerate(body["documents"])
        ]
        return sorted(scored, key=lambda result: -result["relevance_score"])[:top]

    def _openai(self, host: str, path: str, body: dict) -> None:
        if path.endswith("/embeddings"):
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            vectors = [vector(t) for t in inputs]
            usage = {"prompt_tokens": 5, "total_tokens": 5}
            return self.send_json(200, embedding_list(body["model"], vectors, usage))
        return self._chat(host, body)

    def _chat(self, host: str, body: dict) -> None:
        model, text = body["model"], f"Hello from {host}!"
        if not body.get("stream"):
            return self.send_json(200, completion(model, {"role": "assistant", "content": text}))
        self.start_chunks("text/event-stream")
        events = [chunk(model, {"role": "assistant", "content": ""})]
        events += [chunk(model, {"content": word}) for word in re.findall(r"\S+\s*", text)]
        events += [chunk(model, {}, "stop"), usage_chunk(model)]
        for event in events:
            self.send_chunk(b"data: " + json.dumps(event).encode() + b"\n\n")
        self.send_chunk(b"data: [DONE]\n\n")
        self.send_chunk(b"")


class FakeNativeHosts(FakeServer):
    handler = _Handler

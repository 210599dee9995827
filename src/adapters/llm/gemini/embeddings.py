"""Domain embedding requests as the bodies of Gemini's `:embedContent` / `:batchEmbedContents` and
Vertex AI's `:predict`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from domain.embeddings import EmbeddingRequest
from domain.errors import UnsupportedParameterError

_EMBED_PASSTHROUGH = {"task_type": "taskType", "taskType": "taskType", "title": "title"}


def embed_body(request: EmbeddingRequest, model: str, texts: Iterable[str]) -> dict[str, Any]:
    """`:embedContent` for one text, `:batchEmbedContents` for several (each request names the model)."""
    options = _embed_options(request)
    items = [{"content": {"parts": [{"text": text}]}, **options} for text in texts]
    if len(items) == 1:
        return items[0]
    name = model if model.startswith("models/") else f"models/{model}"
    return {"requests": [{"model": name, **item} for item in items]}


def predict_body(request: EmbeddingRequest, texts: Iterable[str]) -> dict[str, Any]:
    """Vertex AI's `:predict` body for its text embedding models."""
    options = _embed_options(request)
    instance = {"task_type": options["taskType"]} if "taskType" in options else {}
    if "title" in options:
        instance["title"] = options["title"]
    body: dict[str, Any] = {"instances": [{"content": text, **instance} for text in texts]}
    if request.dimensions is not None:
        body["parameters"] = {"outputDimensionality": request.dimensions}
    return body


def embedding_texts(request: EmbeddingRequest) -> list[str]:
    """The inputs as texts; Gemini embeds no token arrays."""
    if not all(isinstance(item, str) for item in request.inputs):
        raise UnsupportedParameterError(
            "Gemini embeds texts only, not token arrays", param="input", provider="gemini"
        )
    return list(request.inputs)  # type: ignore[arg-type]


def _embed_options(request: EmbeddingRequest) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if request.dimensions is not None:
        options["outputDimensionality"] = request.dimensions
    for name, value in request.extra_body.items():
        if name not in _EMBED_PASSTHROUGH:
            raise UnsupportedParameterError(
                f"Gemini embeddings do not take the parameter '{name}'", param=name, provider="gemini"
            )
        options[_EMBED_PASSTHROUGH[name]] = value
    return options

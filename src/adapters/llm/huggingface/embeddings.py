"""hf-inference's feature-extraction pipeline on the wire (huggingface.co/docs/inference-providers/tasks/
feature-extraction): POST `/hf-inference/models/{model}/pipeline/feature-extraction` with `{inputs: [...]}`
(and the pipeline's `normalize`, `truncate`, `prompt_name` as the caller sends them); the reply is the
bare list of vectors, one per input, with no usage."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from adapters.llm.retrieval import texts_of
from domain.completions import Usage
from domain.embeddings import Embedding, EmbeddingRequest, EmbeddingResponse
from domain.errors import BadGatewayError, UnsupportedParameterError

PIPELINES = "/hf-inference/models/"
_PROVIDER = "hf-inference/"
_VECTORS = TypeAdapter(list[list[float]])


def pipeline_model(upstream: str) -> str:
    """The model id the pipeline takes: `<org>/<model>`, or `hf-inference/<org>/<model>` as LiteLLM may
    write it; UnsupportedParameterError for another provider's, which serves no such pipeline."""
    model = upstream.removeprefix(_PROVIDER)
    if model.count("/") > 1:
        raise UnsupportedParameterError(
            f"Hugging Face embeddings go through hf-inference, not '{model.split('/')[0]}'", param="model"
        )
    return model


def pipeline_path(model: str) -> str:
    return f"{PIPELINES}{model}/pipeline/feature-extraction"


def embed_body(request: EmbeddingRequest) -> dict[str, Any]:
    return {**request.extra_body, "inputs": texts_of(request, "Hugging Face", sized=False)}


def read_embeddings(body: object, model: str) -> EmbeddingResponse:
    """A decoded pipeline reply; BadGatewayError when it is not one vector per input (a model without
    pooling answers a vector per token)."""
    try:
        vectors = _VECTORS.validate_python(body)
    except ValidationError as exc:
        raise BadGatewayError("Hugging Face sent no sentence embeddings (one vector per input).") from exc
    data = tuple(Embedding(index=index, vector=vector) for index, vector in enumerate(vectors))
    return EmbeddingResponse(model=model, data=data, usage=Usage())

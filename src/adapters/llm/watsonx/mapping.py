"""watsonx.ai's API, both ways and pure: domain requests as `/ml/v1/text/chat` and `/ml/v1/text/embeddings`
bodies, replies and stream events as domain replies and chunks.

The chat body is OpenAI's with watsonx.ai's names (cloud.ibm.com/apidocs/watsonx-ai#text-chat): the model
as `model_id`, the project or deployment space as `project_id` / `space_id`, a named tool choice mode
(auto, none, required) as `tool_choice_option`. A model id `deployment/<id>` calls a deployed model at
`/ml/v1/deployments/<id>/text/chat`, which takes neither model nor project (as LiteLLM does). Replies
and stream chunks are OpenAI's shapes; a stream is SSE at `/text/chat_stream` (`event: message`, ending
with a usage-only chunk, or on older models with every chunk carrying running usage, tool call names
repeated, and `event: close`), normalised here to the contract's shape.
"""

from __future__ import annotations

import dataclasses
import functools
import urllib.parse
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from adapters.openai_format import read_chunk, read_response
from adapters.openai_format.upstream import chat_request_body
from domain.completions import (
    ChunkChoice,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    Usage,
)
from domain.deployments import Deployment
from domain.embeddings import Embedding, EmbeddingRequest, EmbeddingResponse
from domain.errors import AuthenticationError, BadGatewayError, UnsupportedParameterError
from domain.messages import DocumentPart

DEFAULT_API_VERSION = "2024-03-13"
"""LiteLLM's default `version` query parameter (WATSONX_DEFAULT_API_VERSION)."""
DEFAULT_IAM_URL = "https://iam.cloud.ibm.com/identity/token"
APIKEY_GRANT = "urn:ibm:params:oauth:grant-type:apikey"
CHAT, CHAT_STREAM, EMBEDDINGS = "text/chat", "text/chat_stream", "text/embeddings"
DEPLOYMENT = "deployment/"
_TOOL_CHOICE_OPTIONS = frozenset({"auto", "none", "required"})
# What LiteLLM's watsonx chat config does not list among the OpenAI parameters it supports.
_REFUSED = ("user", "parallel_tool_calls", "top_k", "logit_bias")


def unsupported(request: CompletionRequest) -> list[str]:
    """What watsonx.ai's chat cannot honour: no end-user id, parallel-call switch, top_k or token biases;
    documents only as data: URLs (it fetches nothing)."""
    params = request.params
    refused = [name for name in _REFUSED if getattr(params, name) is not None]
    if any(
        isinstance(part, DocumentPart) and not part.url.startswith("data:")
        for message in request.messages
        if not isinstance(message.content, str | None)
        for part in message.content
    ):
        refused.append("documents")
    return refused


def chat_body(request: CompletionRequest, deployment: Deployment) -> dict[str, Any]:
    body = chat_request_body(request, model=deployment.upstream_model)
    # The endpoint called decides whether the reply streams; usage always comes with it.
    for name in ("model", "stream", "stream_options"):
        body.pop(name, None)
    choice = body.pop("tool_choice", None)
    if isinstance(choice, str) and choice in _TOOL_CHOICE_OPTIONS:
        body["tool_choice_option"] = choice
    elif choice is not None:
        body["tool_choice"] = choice
    body.update(scope(deployment))
    return body


def scope(deployment: Deployment) -> dict[str, str]:
    """The model and the project or space the call is billed to; nothing for a deployed model."""
    model = deployment.upstream_model
    if model.startswith(DEPLOYMENT):
        return {}
    extra = deployment.credentials.extra
    if extra.get("project_id"):
        return {"model_id": model, "project_id": str(extra["project_id"])}
    if extra.get("space_id"):
        return {"model_id": model, "space_id": str(extra["space_id"])}
    raise AuthenticationError(
        "a watsonx deployment needs project_id or space_id (WATSONX_PROJECT_ID, WATSONX_SPACE_ID)"
    )


def read_reply(payload: object, deployment: Deployment) -> CompletionResponse:
    """A decoded `/text/chat` reply; older models name the model in `model_id` only."""
    response = read_response(payload)
    return response if response.model else dataclasses.replace(response, model=deployment.upstream_model)


class StreamReader:
    """Turns one stream's chunks into the contract's: one id throughout, a tool call's id and name on its
    first delta only, and the usage (the last seen; older models send it running) held back for a final
    chunk of its own."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._head: CompletionChunk | None = None
        self._usage: Usage | None = None
        self._named: set[tuple[int, int]] = set()

    def read(self, payload: object) -> CompletionChunk | None:
        chunk = read_chunk(payload)
        if chunk.usage is not None:
            self._usage = chunk.usage
        if self._head is None:
            self._head = chunk
        if not chunk.choices:
            return None
        head = self._head
        return dataclasses.replace(
            chunk, id=head.id, created=head.created, model=head.model or self._model, usage=None,
            choices=tuple(self._once_named(choice) for choice in chunk.choices),
        )  # fmt: skip

    def last(self) -> CompletionChunk | None:
        """The chunk that ends the stream with its usage; None when the stream said nothing."""
        head = self._head
        if head is None:
            return None
        return CompletionChunk(
            id=head.id, created=head.created, model=head.model or self._model, usage=self._usage or Usage()
        )

    def _once_named(self, choice: ChunkChoice) -> ChunkChoice:
        calls = choice.delta.tool_calls
        if not calls:
            return choice
        pieces = []
        for call in calls:
            key = (choice.index, call.index)
            if key in self._named:
                call = dataclasses.replace(call, id=None, name=None)
            elif call.id or call.name:
                self._named.add(key)
            pieces.append(call)
        return dataclasses.replace(choice, delta=dataclasses.replace(choice.delta, tool_calls=tuple(pieces)))


def embed_body(request: EmbeddingRequest, deployment: Deployment) -> dict[str, Any]:
    """`/text/embeddings` takes texts and no output size; a `dimensions` is refused unless dropped."""
    if not isinstance(request.inputs[0], str):
        raise UnsupportedParameterError(
            "watsonx.ai embeds texts, not token arrays", param="input", provider="watsonx"
        )
    drop = deployment.drop_params or bool(request.controls.get("drop_params"))
    if request.dimensions is not None and not drop:
        raise UnsupportedParameterError(
            "watsonx.ai embeddings take no dimensions", param="dimensions", provider="watsonx"
        )
    body: dict[str, Any] = {"inputs": list(request.inputs), **scope(deployment)}
    if request.extra_body:
        body.update(request.extra_body)  # parameters.truncate_input_tokens, ... as the caller sent them
    return body


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)


class _Vector(_Lenient):
    embedding: list[float]


class _Embeddings(_Lenient):
    results: list[_Vector]
    input_token_count: int | None = None


def read_embeddings(payload: object, *, model: str) -> EmbeddingResponse:
    try:
        reply = _Embeddings.model_validate(payload)
    except ValidationError as exc:
        raise BadGatewayError(
            f"watsonx.ai sent a malformed embeddings reply: {exc.errors()[0]['msg']}"
        ) from exc
    return EmbeddingResponse(
        model=model,
        data=tuple(Embedding(index=i, vector=item.embedding) for i, item in enumerate(reply.results)),
        usage=Usage(prompt_tokens=reply.input_token_count or 0),
    )


def url(deployment: Deployment, operation: str) -> httpx.URL:
    if not deployment.api_base:
        raise AuthenticationError(
            "a watsonx deployment needs api_base, its region's URL (WATSONX_URL), "
            "e.g. https://us-south.ml.cloud.ibm.com"
        )
    version = deployment.credentials.extra.get("api_version") or DEFAULT_API_VERSION
    model = deployment.upstream_model if operation != EMBEDDINGS else ""
    return _url(deployment.api_base, model, operation, str(version))


@functools.lru_cache(maxsize=1024)
def _url(api_base: str, model: str, operation: str, version: str) -> httpx.URL:
    base = api_base.rstrip("/")
    if model.startswith(DEPLOYMENT):
        base += "/ml/v1/deployments/" + urllib.parse.quote(model.removeprefix(DEPLOYMENT), safe="")
    else:
        base += "/ml/v1"
    return httpx.URL(f"{base}/{operation}?version={urllib.parse.quote(version)}")

"""The OpenAI wire format, both ways: what clients send and are sent, what upstreams are sent and answer.

Shared by the HTTP edge and the OpenAI provider adapter; pure functions over domain types."""

from adapters.openai_format.render import render_chunk, render_embeddings, render_error, render_response
from adapters.openai_format.replies import read_chunk, read_embeddings, read_response
from adapters.openai_format.requests import parse_chat_request, parse_embedding_request
from adapters.openai_format.upstream import chat_request_body, embedding_request_body

__all__ = [
    "chat_request_body",
    "embedding_request_body",
    "parse_chat_request",
    "parse_embedding_request",
    "read_chunk",
    "read_embeddings",
    "read_response",
    "render_chunk",
    "render_embeddings",
    "render_error",
    "render_response",
]

"""The legacy text completions format (`/v1/completions`), both ways: a client's request parsed into a chat
request that carries the body as sent (`NativeRequest` of format `text_completion`, so that an
OpenAI-format upstream gets it at its own `/completions`), `text_completion` objects and chunks rendered,
and an upstream's read back."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, ValidationError

from adapters.openai_format import wire
from adapters.openai_format.replies import _finish, _malformed, _usage
from adapters.openai_format.requests import _controls
from adapters.openai_format.validation import bad_request, invalid_type
from domain.completions import (
    Choice,
    ChunkChoice,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    Delta,
    FinishReason,
    NativeRequest,
    SamplingParams,
    Usage,
)
from domain.errors import BadRequestError
from domain.messages import Message, Role

TEXT_COMPLETION = "text_completion"
"""The client wire format of the legacy completions API, as `NativeRequest.format` names it."""
ONLY_NATIVE = ("suffix", "echo", "logprobs", "best_of")
"""Fields a chat model cannot honour: only a deployment serving `/completions` itself takes them."""
_GATEWAY_ONLY = frozenset({*wire.CONTROL_FIELDS, "metadata", "mock_response"})


class TextCompletionRequest(wire.GatewayFields):
    # Unknown fields are kept: they are provider-specific and travel upstream as they are.
    model_config = ConfigDict(strict=True, extra="allow")

    model: str = Field(min_length=1)
    prompt: Any  # checked by `_prompt`: a union would name its members in the error's `param`
    suffix: str | None = None
    max_tokens: int | None = Field(None, ge=0)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    n: int | None = Field(None, ge=1, le=128)
    stop: str | list[str] | None = None
    echo: bool | None = None
    logprobs: int | None = Field(None, ge=0, le=5)
    best_of: int | None = Field(None, ge=1)
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    seed: int | None = None
    user: str | None = None
    stream: bool | None = None
    stream_options: wire.StreamOptions | None = None
    mock_response: str | None = None


def parse_text_completion_request(body: object) -> CompletionRequest:
    """A `/v1/completions` body as a chat request of one user message (the prompt), with the body as sent
    in `native`; BadRequestError naming the field for any body that is not a valid request. A prompt
    list of more than one, token prompts, and `suffix`, `echo`, `logprobs` and `best_of` are refused by
    (or, under drop_params, dropped for) deployments that do not serve `/completions` themselves."""
    try:
        request = TextCompletionRequest.model_validate(body)
    except ValidationError as exc:
        raise bad_request(exc, what="request body") from exc
    prompt = _prompt(request.prompt)
    text = prompt if isinstance(prompt, str) else prompt[0] if isinstance(prompt[0], str) else ""
    untranslated = [name for name in ONLY_NATIVE if getattr(request, name) is not None]
    if isinstance(prompt, list) and (len(prompt) > 1 or not isinstance(prompt[0], str)):
        untranslated.append("prompt")
    stop = request.stop
    sent = body if isinstance(body, dict) else {}
    return CompletionRequest(
        model=request.model,
        messages=(Message(Role.USER, content=text),),
        params=SamplingParams(
            temperature=request.temperature,
            top_p=request.top_p,
            max_tokens=request.max_tokens,
            stop=(stop,) if isinstance(stop, str) else tuple(stop) if stop else None,
            n=request.n,
            seed=request.seed,
            presence_penalty=request.presence_penalty,
            frequency_penalty=request.frequency_penalty,
            logit_bias=request.logit_bias,
            user=request.user,
        ),
        stream=bool(request.stream),
        include_usage=bool(request.stream_options and request.stream_options.include_usage),
        mock_response=request.mock_response,
        metadata=request.metadata or {},
        controls=_controls(request),
        extra_body=request.__pydantic_extra__ or {},
        native=NativeRequest(
            TEXT_COMPLETION,
            {name: value for name, value in sent.items() if name not in _GATEWAY_ONLY},
            untranslated=tuple(untranslated),
        ),
    )


def _prompt(prompt: Any) -> str | list[str] | list[int] | list[list[int]]:
    """A string, or a non-empty list of strings, of tokens, or of token lists."""
    if isinstance(prompt, str):
        return prompt
    if not isinstance(prompt, list) or (prompt and not _all_str(prompt) and not _tokens(prompt)):
        raise invalid_type("prompt", "a string, an array of strings or an array of tokens", prompt)
    if not prompt:
        raise BadRequestError("Invalid 'prompt': must not be empty.", param="prompt")
    return prompt


def _all_str(items: list[Any]) -> bool:
    return all(isinstance(item, str) for item in items)


def _tokens(items: list[Any]) -> bool:
    def token(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    return all(token(item) for item in items) or all(
        isinstance(item, list) and item and all(token(t) for t in item) for item in items
    )


def text_completion_body(request: CompletionRequest, upstream_model: str, *, stream: bool) -> dict[str, Any]:
    """The client's body for an upstream's `/completions`: its model the deployment's, `stream` set."""
    assert request.native is not None
    body = dict(request.native.body)
    body["model"] = upstream_model
    if stream:
        body["stream"] = True
    elif "stream" in body:
        body["stream"] = False
    if not stream:
        body.pop("stream_options", None)
    return body


def render_text_completion(response: CompletionResponse) -> dict[str, Any]:
    """A `text_completion` object: each choice's text, whichever API the deployment answered with."""
    choices = [
        (choice.message.text, choice.index, choice.logprobs, choice.finish_reason)
        for choice in response.choices
    ]
    out = _text_completion(response.id, response.created, response.model, choices, response.usage)
    if response.system_fingerprint is not None:
        out["system_fingerprint"] = response.system_fingerprint
    return out


def render_text_chunk(chunk: CompletionChunk) -> dict[str, Any]:
    """A streamed `text_completion` object; `usage` only on the chunk that carries it."""
    choices = [
        (choice.delta.content or "", choice.index, choice.logprobs, choice.finish_reason)
        for choice in chunk.choices
    ]
    return _text_completion(chunk.id, chunk.created, chunk.model, choices, chunk.usage)


def _text_completion(
    id: str,
    created: int,
    model: str,
    choices: list[tuple[str, int, Any, FinishReason | None]],
    usage: Usage | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": id,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": [
            {"text": text, "index": index, "logprobs": logprobs, "finish_reason": finish}
            for text, index, logprobs, finish in choices
        ],
    }
    if usage is not None:
        out["usage"] = {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
        }
    return out


class _TextChoice(wire._Lenient):
    text: str | None = None
    index: int | None = None
    logprobs: dict[str, Any] | None = None
    finish_reason: str | None = None


class _TextCompletion(wire._Lenient):
    id: str | None = None
    created: int | None = None
    model: str | None = None
    choices: list[_TextChoice] = Field(default_factory=list)
    usage: wire.ReplyUsage | None = None
    system_fingerprint: str | None = None


def read_text_completion(body: object) -> CompletionResponse:
    """A decoded `text_completion` body from an upstream; BadGatewayError when it is not one."""
    reply = _read(body)
    return CompletionResponse(
        id=reply.id or "",
        created=reply.created or 0,
        model=reply.model or "",
        choices=tuple(
            Choice(
                index=position if choice.index is None else choice.index,
                message=Message(Role.ASSISTANT, content=choice.text or ""),
                finish_reason=_finish(choice.finish_reason),
                logprobs=choice.logprobs,
            )
            for position, choice in enumerate(reply.choices)
        ),
        usage=_usage(reply.usage),
        system_fingerprint=reply.system_fingerprint,
    )


def read_text_chunk(body: object) -> CompletionChunk:
    """A decoded streamed `text_completion` object from an upstream, as a chunk whose delta is the text."""
    reply = _read(body)
    return CompletionChunk(
        id=reply.id or "",
        created=reply.created or 0,
        model=reply.model or "",
        choices=tuple(
            ChunkChoice(
                index=position if choice.index is None else choice.index,
                delta=Delta(content=choice.text),
                finish_reason=_finish(choice.finish_reason),
                logprobs=choice.logprobs,
            )
            for position, choice in enumerate(reply.choices)
        ),
        usage=_usage(reply.usage),
    )


def _read(body: object) -> _TextCompletion:
    try:
        return _TextCompletion.model_validate(body)
    except ValidationError as exc:
        raise _malformed("text_completion", exc) from exc

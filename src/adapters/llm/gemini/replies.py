"""What Gemini answered, read into domain replies: a whole GenerateContentResponse, the partial ones of a
stream (one mapping for both), and embeddings. A blocked prompt, a malformed function call or a reply
with no candidates is an error, never an empty `stop`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from adapters.llm.gemini import wire
from adapters.llm.gemini.errors import google_error
from adapters.llm.gemini.mapping import call_id
from domain.completions import (
    Choice,
    ChunkChoice,
    CompletionChunk,
    CompletionResponse,
    Delta,
    FinishReason,
    ToolCallDelta,
    Usage,
)
from domain.errors import BadGatewayError, ContentPolicyViolationError
from domain.messages import Message, Role, ThinkingBlock, ToolCall

_FILTERED = FinishReason.CONTENT_FILTER
_FINISH = {
    "STOP": FinishReason.STOP,
    "MAX_TOKENS": FinishReason.LENGTH,
    "SAFETY": _FILTERED,
    "RECITATION": _FILTERED,
    "LANGUAGE": _FILTERED,
    "BLOCKLIST": _FILTERED,
    "PROHIBITED_CONTENT": _FILTERED,
    "SPII": _FILTERED,
    "IMAGE_SAFETY": _FILTERED,
    "IMAGE_PROHIBITED_CONTENT": _FILTERED,
    "IMAGE_RECITATION": _FILTERED,
}
_Model = TypeVar("_Model", bound=BaseModel)
# Endings that leave no usable reply: the caller gets an error naming the reason, never a silent stop.
_FAILED = frozenset({"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS"})


def read_reply(payload: object) -> wire.GenerateContentResponse:
    """A decoded GenerateContentResponse, validated; ContentPolicyViolationError for a blocked prompt."""
    reply = _validated(wire.GenerateContentResponse, payload, "GenerateContentResponse")
    _refuse_blocked(reply)
    return reply


def read_response(payload: object, *, model: str, created: int) -> CompletionResponse:
    """A decoded GenerateContentResponse; `model` stands in when the reply names no modelVersion."""
    reply = read_reply(payload)
    if not reply.candidates:
        raise BadGatewayError("Gemini answered with no candidates and no reason.")
    response_id = reply.responseId or _new_id()
    choices = []
    for position, candidate in enumerate(reply.candidates):
        index = position if candidate.index is None else candidate.index
        text, thoughts, calls = [], [], []
        for part in _parts(candidate):
            if part.functionCall is not None:
                calls.append(_tool_call(response_id, index, len(calls), part))
            elif part.thought:
                thoughts.append(ThinkingBlock(part.text or "", signature=part.thoughtSignature))
            elif part.text is not None:
                text.append(part.text)
        message = Message(
            Role.ASSISTANT,
            "".join(text) if text or not calls else None,
            tool_calls=tuple(calls),
            reasoning_content="".join(block.text for block in thoughts) if thoughts else None,
            thinking_blocks=tuple(thoughts),
        )
        finish = _finish(candidate, bool(calls)) or FinishReason.STOP
        choices.append(Choice(index, message, finish, _logprobs(candidate.logprobsResult)))
    return CompletionResponse(
        id=response_id,
        created=created,
        model=reply.modelVersion or model,
        choices=tuple(choices),
        usage=usage_of(reply.usageMetadata),
    )


class StreamReader:
    """Reads the partial GenerateContentResponses of one stream, in order, into chunks: the role on each
    candidate's first delta, text and thoughts as they come, each function call (which Gemini sends
    whole) as one delta with its id, name and arguments, the finish reason on the candidate's last.
    Gemini repeats the running usage on every event; it goes out once, on a last chunk of its own."""

    def __init__(self, *, model: str, created: int) -> None:
        self._id: str | None = None
        self._model = model
        self._created = created
        self._started: set[int] = set()
        self._calls: dict[int, int] = {}
        self._finished: set[int] = set()
        self._usage: wire.UsageMetadata | None = None

    def read(self, data: bytes) -> CompletionChunk | None:
        """The chunk one event's data spells, or None when it spells nothing new (usage only)."""
        try:
            # Straight from the bytes: a third cheaper than decoding to dicts and validating those.
            reply = wire.GenerateContentResponse.model_validate_json(data)
        except ValidationError as exc:
            payload = _json_or_none(data)
            wrapped = payload[0] if isinstance(payload, list) and len(payload) == 1 else None
            if isinstance(wrapped, dict) and "error" in wrapped:  # an error wrapped as Vertex wraps them
                raise google_error(None, wrapped) from exc
            raise _malformed("stream event", exc) from exc
        if reply.error is not None:
            raise google_error(None, {"error": reply.error})
        _refuse_blocked(reply)
        if self._id is None:
            self._id = reply.responseId or _new_id()
            self._model = reply.modelVersion or self._model
        if reply.usageMetadata is not None:
            self._usage = reply.usageMetadata  # running totals: only the last counts
        choices = [
            choice
            for position, candidate in enumerate(reply.candidates or ())
            if (choice := self._choice(position, candidate)) is not None
        ]
        if not choices:
            return None
        return CompletionChunk(id=self._id, created=self._created, model=self._model, choices=tuple(choices))

    def end(self) -> CompletionChunk:
        """The closing usage chunk, once the upstream has ended the stream."""
        if not self._finished:
            raise BadGatewayError("The Gemini stream ended before the reply was finished.")
        usage = usage_of(self._usage)
        return CompletionChunk(
            id=self._id or _new_id(), created=self._created, model=self._model, usage=usage
        )

    def _choice(self, position: int, candidate: wire.Candidate) -> ChunkChoice | None:
        index = position if candidate.index is None else candidate.index
        text: list[str] = []
        reasoning: list[str] = []
        signature: str | None = None
        calls: list[ToolCallDelta] = []
        for part in _parts(candidate):
            if part.functionCall is not None:
                count = self._calls.get(index, 0)
                self._calls[index] = count + 1
                call = _tool_call(self._id or "", index, count, part)
                calls.append(ToolCallDelta(count, call.id, call.name, call.arguments))
            elif part.thought:
                if part.text:
                    reasoning.append(part.text)
                signature = part.thoughtSignature or signature  # it closes the thought it came with
            elif part.text:
                text.append(part.text)
        finish = _finish(candidate, index in self._calls)
        first = index not in self._started
        if not (first or text or reasoning or signature or calls or finish):
            return None
        self._started.add(index)
        if finish is not None:
            self._finished.add(index)
        delta = Delta(
            role="assistant" if first else None,
            content="".join(text) if text else None,
            reasoning_content="".join(reasoning) if reasoning else None,
            tool_calls=tuple(calls),
            thinking_signature=signature,
        )
        return ChunkChoice(index, delta, finish, _logprobs(candidate.logprobsResult))


def read_embeddings(payload: object) -> tuple[list[list[float]], int]:
    """The vectors (and prompt tokens, when counted) of an `:embedContent` or `:batchEmbedContents` reply."""
    reply: wire.EmbedContentResponse | wire.BatchEmbedContentsResponse
    if isinstance(payload, dict) and "embedding" in payload:
        reply = _validated(wire.EmbedContentResponse, payload, "EmbedContentResponse")
        vectors = [reply.embedding.values]
    else:
        reply = _validated(wire.BatchEmbedContentsResponse, payload, "BatchEmbedContentsResponse")
        vectors = [item.values for item in reply.embeddings]
    return vectors, reply.usageMetadata.promptTokenCount if reply.usageMetadata else 0


def read_predictions(payload: object) -> tuple[list[list[float]], int]:
    """The vectors and prompt tokens of a Vertex AI `:predict` reply of a text embedding model."""
    reply = _validated(wire.PredictResponse, payload, "PredictResponse")
    vectors = [prediction.embeddings.values for prediction in reply.predictions]
    tokens = sum(
        int(p.embeddings.statistics.token_count) for p in reply.predictions if p.embeddings.statistics
    )
    return vectors, tokens


def _parts(candidate: wire.Candidate) -> Sequence[wire.Part]:
    return (candidate.content.parts or ()) if candidate.content is not None else ()


def _tool_call(response_id: str, index: int, position: int, part: wire.Part) -> ToolCall:
    function = part.functionCall
    assert function is not None
    arguments = orjson.dumps(function.args or {}).decode()
    seed = f"{response_id}:{index}:{position}:{function.name}"
    return ToolCall(call_id(seed, part.thoughtSignature), function.name, arguments)


def _finish(candidate: wire.Candidate, has_calls: bool) -> FinishReason | None:
    reason = candidate.finishReason
    if reason is None:
        return None
    if reason in _FAILED:
        detail = f": {candidate.finishMessage}" if candidate.finishMessage else "."
        raise BadGatewayError(f"Gemini could not complete the reply ({reason}){detail}")
    finish = _FINISH.get(reason, FinishReason.STOP)
    return FinishReason.TOOL_CALLS if finish is FinishReason.STOP and has_calls else finish


def is_filtered(reason: str | None) -> bool:
    """Whether a candidate's finishReason says Google's filters withheld it."""
    return _FINISH.get(reason or "") is _FILTERED


def _refuse_blocked(reply: wire.GenerateContentResponse) -> None:
    feedback = reply.promptFeedback
    if feedback is not None and feedback.blockReason and not reply.candidates:
        detail = f": {feedback.blockReasonMessage}" if feedback.blockReasonMessage else "."
        raise ContentPolicyViolationError(f"Gemini blocked the prompt ({feedback.blockReason}){detail}")


def usage_of(usage: wire.UsageMetadata | None) -> Usage:
    """Gemini's token counts as the domain counts them (nothing when the reply reports none)."""
    if usage is None:
        return Usage()
    return Usage(
        prompt_tokens=usage.promptTokenCount + usage.toolUsePromptTokenCount,
        completion_tokens=usage.candidatesTokenCount + usage.thoughtsTokenCount,
        cached_tokens=usage.cachedContentTokenCount,
        reasoning_tokens=usage.thoughtsTokenCount,
    )


def _logprobs(result: wire.LogprobsResult | None) -> dict[str, Any] | None:
    """Gemini's chosen and top candidates per token, in OpenAI's `logprobs.content` shape."""
    if result is None or not result.chosenCandidates:
        return None
    tops: Sequence[wire.TopCandidates] = result.topCandidates or ()
    content = []
    for position, chosen in enumerate(result.chosenCandidates):
        alternatives = (tops[position].candidates or []) if position < len(tops) else []
        entry = _logprob(chosen)
        entry["top_logprobs"] = [_logprob(alternative) for alternative in alternatives]
        content.append(entry)
    return {"content": content, "refusal": None}


def _logprob(candidate: wire.LogprobsCandidate) -> dict[str, Any]:
    token = candidate.token or ""
    return {"token": token, "logprob": candidate.logProbability or 0.0, "bytes": list(token.encode())}


def _validated(model: type[_Model], payload: object, what: str) -> _Model:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise _malformed(what, exc) from exc


def _malformed(what: str, exc: ValidationError) -> BadGatewayError:
    shown = exc.errors()[0]
    where = ".".join(str(part) for part in shown["loc"]) or "body"
    return BadGatewayError(f"Gemini sent a malformed {what} ({where}: {shown['msg']}).")


def _json_or_none(data: bytes) -> object:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


def _new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"

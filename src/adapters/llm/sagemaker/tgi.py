"""Hugging Face Text Generation Inference's `/generate` format on a SageMaker endpoint, both ways and pure
(huggingface.co/docs/text-generation-inference, "generate" and "generate_stream"; the Hugging Face LLM
container's SageMaker `/invocations` takes the same).

The chat is rendered into one prompt with the deployment's template, LiteLLM's custom prompt keys in
litellm_params: `initial_prompt_value`, `roles` ({role: {pre_message, post_message}}),
`final_prompt_value`, `bos_token`, `eos_token`. Without them each message's text is written on its own
line; a model that wants its chat template needs those keys set (or an endpoint with the Messages API,
reached as `sagemaker_chat/`). The reply is `[{"generated_text", "details"}]`; the stream is SSE events of
one token each, the last carrying `details` with the finish reason and count.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from adapters.llm.passthrough import passthrough
from domain.completions import (
    Choice,
    ChunkChoice,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    Delta,
    FinishReason,
    Usage,
)
from domain.deployments import Deployment
from domain.errors import BadGatewayError
from domain.messages import Message, Role

_FINISH = {"length": FinishReason.LENGTH, "eos_token": FinishReason.STOP, "stop_sequence": FinishReason.STOP}
# The sampling parameters TGI names as OpenAI does; the others are renamed (`max_new_tokens`, `stop`).
_SAME_NAMES = ("temperature", "top_p", "top_k", "seed")
_REFUSED = (
    "n", "logit_bias", "logprobs", "top_logprobs", "presence_penalty", "frequency_penalty", "user",
    "parallel_tool_calls", "reasoning_effort", "thinking_budget",
)  # fmt: skip


def unsupported(request: CompletionRequest) -> list[str]:
    """What a prompt-in, text-out endpoint cannot honour: tools, structured output, several choices,
    OpenAI's penalties and log probabilities, reasoning controls."""
    params = request.params
    refused = [name for name in _REFUSED if getattr(params, name) is not None]
    if request.tools:
        refused.append("tools")
    if request.tool_choice is not None:
        refused.append("tool_choice")
    if request.response_format is not None:
        refused.append("response_format")
    return refused


def generate_body(request: CompletionRequest, deployment: Deployment, *, stream: bool) -> dict[str, Any]:
    """The generate body; fields beyond OpenAI's (`repetition_penalty`, `do_sample`, `truncate`, ...,
    the caller's over the deployment's `extra_body`) are generate parameters, as LiteLLM sends them."""
    params = request.params
    parameters: dict[str, Any] = passthrough(request.extra_body, deployment)
    parameters.update((name, value) for name in _SAME_NAMES if (value := getattr(params, name)) is not None)
    if parameters.get("temperature") == 0:
        # TGI refuses 0 ("must be strictly positive"); its greedy decoding, the default, is what 0 means.
        del parameters["temperature"]
    if params.output_limit is not None:
        parameters["max_new_tokens"] = params.output_limit
    if params.stop is not None:
        parameters["stop"] = list(params.stop)
    # The counts for the usage: `details` gives the generated tokens, the prefill the prompt's (a whole
    # reply only; TGI refuses decoder_input_details on a stream).
    parameters["details"] = True
    if not stream:
        parameters["decoder_input_details"] = True
    body: dict[str, Any] = {
        "inputs": prompt(request.messages, deployment.credentials.extra),
        "parameters": parameters,
    }
    if stream:
        body["stream"] = True
    return body


def prompt(messages: tuple[Message, ...], template: Mapping[str, Any]) -> str:
    """The chat as one prompt, by the deployment's template (see the module docstring)."""
    roles = template.get("roles") if isinstance(template.get("roles"), Mapping) else {}
    parts = [str(template.get("bos_token") or ""), str(template.get("initial_prompt_value") or "")]
    for message in messages:
        role = Role.SYSTEM.value if message.role is Role.DEVELOPER else message.role.value
        marks = roles.get(role) if isinstance(roles.get(role), Mapping) else None
        if marks is None:
            parts.append(f"{message.text or ''}\n")
        else:
            parts.append(f"{marks.get('pre_message', '')}{message.text or ''}{marks.get('post_message', '')}")
    parts.append(str(template.get("final_prompt_value") or ""))
    parts.append(str(template.get("eos_token") or ""))
    return "".join(parts)


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)


class _Details(_Lenient):
    finish_reason: str | None = None
    generated_tokens: int | None = None
    prefill: list[Any] | None = None


class _Generated(_Lenient):
    generated_text: str | None = None
    generation: str | None = None
    """What some other SageMaker containers (JumpStart's) call the text."""
    details: _Details | None = None


class _Token(_Lenient):
    text: str = ""
    special: bool = False


class _StreamEvent(_Lenient):
    token: _Token | None = None
    generated_text: str | None = None
    details: _Details | None = None


def read_reply(payload: object, *, response_id: str, model: str, created: int) -> CompletionResponse:
    """A decoded reply: a list of one generation (TGI) or the generation itself."""
    item = payload[0] if isinstance(payload, list) and payload else payload
    try:
        generated = _Generated.model_validate(item)
    except ValidationError as exc:
        raise BadGatewayError(f"SageMaker sent a malformed generation: {exc.errors()[0]['msg']}") from exc
    text = generated.generated_text if generated.generated_text is not None else generated.generation
    if text is None:
        raise BadGatewayError("SageMaker sent a reply without generated_text.")
    details = generated.details or _Details()
    return CompletionResponse(
        id=response_id,
        created=created,
        model=model,
        choices=(Choice(index=0, message=Message(Role.ASSISTANT, text), finish_reason=_finish(details)),),
        usage=_usage(details),
    )


class StreamReader:
    """Turns the token events of one stream into chunks: the role on the first, the finish reason and the
    usage on the last (the one with `details`)."""

    def __init__(self, *, response_id: str, model: str, created: int) -> None:
        self._id, self._model, self._created = response_id, model, created
        self._role_sent = False

    def read(self, payload: object) -> CompletionChunk | None:
        try:
            event = _StreamEvent.model_validate(payload)
        except ValidationError as exc:
            raise BadGatewayError(
                f"SageMaker sent a malformed stream event: {exc.errors()[0]['msg']}"
            ) from exc
        token = event.token or _Token()
        text = None if token.special or not token.text else token.text
        if event.details is not None:
            return self._chunk(text, _finish(event.details), _usage(event.details))
        return self._chunk(text, None, None) if text is not None or not self._role_sent else None

    def _chunk(self, text: str | None, finish: FinishReason | None, usage: Usage | None) -> CompletionChunk:
        role = None if self._role_sent else "assistant"
        self._role_sent = True
        choice = ChunkChoice(index=0, delta=Delta(role=role, content=text), finish_reason=finish)
        return CompletionChunk(
            id=self._id, created=self._created, model=self._model, choices=(choice,), usage=usage
        )


def _finish(details: _Details) -> FinishReason:
    return _FINISH.get(details.finish_reason or "", FinishReason.STOP)


def _usage(details: _Details) -> Usage:
    return Usage(prompt_tokens=len(details.prefill or ()), completion_tokens=details.generated_tokens or 0)

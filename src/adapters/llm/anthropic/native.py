"""Requests native to the Messages API (an Anthropic client's own body), sent on as they came, and the
bodies of token counts.

A native body goes out as the client sent it: only `model` (the deployment's upstream model) and
`stream` (per the call) change. The deployment's configured defaults fill in only fields the client left
out, by their Anthropic names: temperature, top_p and top_k (where the model takes sampling changes),
stop as stop_sequences, user as metadata.user_id, max_tokens, a preset `thinking` (max_tokens then grows
to hold its budget, as for any request) and the keys of a preset `extra_body`; preset `extra_headers`
apply as to any request. A preset reasoning_effort
is not applied: a native client says how to think in its own `thinking` field.
"""

from __future__ import annotations

from typing import Any

from adapters.llm.anthropic.mapping import max_tokens, messages_request
from adapters.llm.anthropic.models import profile
from domain.completions import CompletionRequest, NativeRequest
from domain.deployments import Deployment

FORMAT = "anthropic"
COUNT_TOKENS_FIELDS = frozenset(
    {
        "model",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "thinking",
        "cache_control",
        "output_config",
        "output_format",
        "context_management",
        "mcp_servers",
        "speed",
    }
)
"""What /v1/messages/count_tokens accepts (the SDK's MessageCountTokensParams and its beta variant); it
refuses the rest of a Messages body (max_tokens, stream, sampling, stop_sequences, metadata, ...)."""
_SAMPLING = ("temperature", "top_p", "top_k")


def native_of(request: CompletionRequest) -> NativeRequest | None:
    """The request as its Anthropic client sent it, if it came in Anthropic's format."""
    native = request.native
    return native if native is not None and native.format == FORMAT else None


def native_body(native: NativeRequest, deployment: Deployment, *, stream: bool) -> dict[str, Any]:
    """The client's body with `model` and `stream` set for this call and the deployment's defaults
    filled in where the client left them out. `stream` is true for a stream; for a whole reply it is
    false if the client sent it at all, else left out."""
    body = dict(native.body)
    body["model"] = deployment.upstream_model
    if stream:
        body["stream"] = True
    elif "stream" in body:
        body["stream"] = False
    if deployment.extra_params:
        _fill_defaults(body, deployment)
    return body


def count_tokens_body(request: CompletionRequest, deployment: Deployment) -> dict[str, Any]:
    """What count_tokens gets: the native body, or the body the request maps to, without the fields
    count_tokens refuses."""
    native = native_of(request)
    if native is not None:
        body = native_body(native, deployment, stream=False)
    else:
        body = messages_request(request, deployment, stream=False).body
    return {name: value for name, value in body.items() if name in COUNT_TOKENS_FIELDS}


def _fill_defaults(body: dict[str, Any], deployment: Deployment) -> None:
    presets = deployment.extra_params
    model = profile(deployment.upstream_model)
    if model.sampling:
        for name in _SAMPLING:
            if name in presets and name not in body:
                body[name] = presets[name]
    if "stop_sequences" not in body and presets.get("stop"):
        stop = presets["stop"]
        body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if "metadata" not in body and isinstance(presets.get("user"), str):
        body["metadata"] = {"user_id": presets["user"]}
    limit = presets.get("max_completion_tokens") or presets.get("max_tokens")
    if "max_tokens" not in body and limit:
        body["max_tokens"] = limit
    preset_thinking = presets.get("thinking")
    if "thinking" not in body and isinstance(preset_thinking, dict):
        body["thinking"] = preset_thinking
        if isinstance(body.get("max_tokens"), int):
            body["max_tokens"] = max_tokens(body["max_tokens"], model.max_output, preset_thinking)
    preset_body = presets.get("extra_body")
    if isinstance(preset_body, dict):
        for name, value in preset_body.items():
            body.setdefault(name, value)

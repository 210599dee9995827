"""Domain requests as Anthropic Messages API calls: URL, headers and body, and what they cannot carry.

Each piece (tools, tool_choice, thinking; turns in turns.py) is its own function, so that the gateway's
own /v1/messages can reuse them. See models.py for the per-model table they consult.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from adapters.llm.anthropic.models import (
    EFFORTS,
    FALLBACK_MAX_OUTPUT,
    THINKING_BUDGETS,
    Thinking,
    effort_for_budget,
    profile,
)
from adapters.llm.anthropic.turns import split_messages
from domain.completions import CompletionRequest, ReasoningEffort, SamplingParams
from domain.deployments import Deployment
from domain.errors import BadRequestError
from domain.messages import (
    FunctionTool,
    Message,
    NamedToolChoice,
    ResponseFormat,
    ResponseFormatType,
    Role,
    ToolChoice,
    ToolChoiceMode,
)

DEFAULT_API_BASE = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
JSON_OBJECT_INSTRUCTION = (
    "Respond with one valid JSON object and nothing else: no text before or after it, no code fences."
)
_JSON_TOOL_DESCRIPTION = "Give the answer by calling this tool; its input is the whole answer."
# Request fields read here rather than passed through as they are.
_OWN_EXTRAS = frozenset({"thinking", "anthropic_beta", "output_config"})
_UNSUPPORTED_PARAMS = ("seed", "presence_penalty", "frequency_penalty", "logit_bias", "top_logprobs")


@dataclass(frozen=True, slots=True)
class Outgoing:
    body: dict[str, Any]
    json_tool: str | None = None
    """The tool that stands in for a json_schema response_format: its input is the reply's content."""


def messages_request(request: CompletionRequest, deployment: Deployment, *, stream: bool) -> Outgoing:
    """The Messages API body for `request` on `deployment`. `extra_body` fields pass through and win,
    as with the Anthropic SDK; the deployment's preset `thinking`, `top_k` and `extra_body` apply unless
    the request sets them (sampling presets reach `request.params` before the adapter is called)."""
    model = profile(deployment.upstream_model)
    params = request.params
    system, turns = split_messages(request.messages)
    extras = request.extra_body
    presets = deployment.extra_params
    thinking, effort = thinking_config(params, model.thinking, extras, presets)

    body: dict[str, Any] = {"model": deployment.upstream_model, "messages": turns}
    body["max_tokens"] = max_tokens(
        params.output_limit, deployment.capabilities.max_output_tokens or model.max_output, thinking
    )
    if params.temperature is not None:
        if params.temperature > 1:
            raise BadRequestError(
                "temperature must be between 0 and 1 for Anthropic models", param="temperature"
            )
        body["temperature"] = params.temperature
    if params.top_p is not None:
        body["top_p"] = params.top_p
    if params.stop:
        body["stop_sequences"] = list(params.stop)
    if params.user is not None:
        body["metadata"] = {"user_id": params.user}
    if stream:
        body["stream"] = True

    output_config: dict[str, Any] = {"effort": effort} if effort else {}
    json_tool = None
    response_format = request.response_format
    if response_format is not None and response_format.type is ResponseFormatType.JSON_SCHEMA:
        if model.structured_outputs:
            output_config["format"] = {"type": "json_schema", "schema": response_format.schema}
        else:
            json_tool = response_format.name
    elif response_format is not None and response_format.type is ResponseFormatType.JSON_OBJECT:
        system.append(JSON_OBJECT_INSTRUCTION)
    tools, choice = _tooling(request, thinking, json_tool)

    if system:
        body["system"] = system[0] if len(system) == 1 else [{"type": "text", "text": s} for s in system]
    if tools:
        body["tools"] = tools
    if choice is not None:
        body["tool_choice"] = choice
    if thinking is not None:
        body["thinking"] = thinking
    if params.top_k is not None:
        body["top_k"] = params.top_k
    elif "top_k" in presets:
        body["top_k"] = presets["top_k"]
    preset_body = presets.get("extra_body")
    if isinstance(preset_body, dict):
        body.update(preset_body)
    if extras:
        body.update((name, value) for name, value in extras.items() if name not in _OWN_EXTRAS)
        if isinstance(extras.get("output_config"), dict):
            output_config.update(extras["output_config"])
    if output_config:
        body["output_config"] = output_config
    return Outgoing(body, json_tool)


def _tooling(
    request: CompletionRequest, thinking: dict[str, Any] | None, json_tool: str | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """(tools, tool_choice). `json_tool` names the tool that stands in for a json_schema response_format
    where the model has no native structured outputs: the model is made to call it (or, with thinking on,
    which refuses forced tool use, only offered it)."""
    tools = [tool_param(tool) for tool in request.tools]
    choice = tool_choice_param(request.tool_choice) if request.tool_choice is not None else None
    if json_tool is not None and request.response_format is not None:
        if thinking is None and choice is None:
            choice = {"type": "any"} if tools else {"type": "tool", "name": json_tool}
        tools.append(json_tool_param(request.response_format))
    if request.params.parallel_tool_calls is False and tools and (choice or {}).get("type") != "none":
        choice = {**(choice or {"type": "auto"}), "disable_parallel_tool_use": True}
    return tools, choice


def tool_param(tool: FunctionTool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        out["description"] = tool.description
    out["input_schema"] = tool.parameters if tool.parameters is not None else {"type": "object"}
    if tool.strict:
        out["strict"] = True
    return out


def json_tool_param(response_format: ResponseFormat) -> dict[str, Any]:
    return {
        "name": response_format.name,
        "description": response_format.description or _JSON_TOOL_DESCRIPTION,
        "input_schema": response_format.schema,
    }


def tool_choice_param(choice: ToolChoice) -> dict[str, Any]:
    if isinstance(choice, NamedToolChoice):
        return {"type": "tool", "name": choice.name}
    if choice is ToolChoiceMode.REQUIRED:
        return {"type": "any"}
    return {"type": choice.value}  # auto, none


def thinking_config(
    params: SamplingParams, mode: Thinking, extras: Mapping[str, Any], presets: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, str | None]:
    """(thinking, output_config.effort): a `thinking` the caller passed goes as it is; else a
    thinking_budget goes as `budget_tokens` or, on models with adaptive thinking (which refuse budgets
    from 4.7 on), as adaptive thinking at the effort whose budget covers it; else reasoning_effort
    becomes a budget (THINKING_BUDGETS) or adaptive thinking at that effort (EFFORTS); else the
    deployment's preset `thinking`."""
    passed = extras.get("thinking")
    if isinstance(passed, dict):
        return passed, None
    budget = params.thinking_budget
    if budget is not None and mode is not Thinking.NONE:
        if mode is Thinking.ADAPTIVE:
            return {"type": "adaptive"}, effort_for_budget(budget)
        return {"type": "enabled", "budget_tokens": budget}, None
    effort = params.reasoning_effort
    if effort is not None:
        if effort is ReasoningEffort.NONE or mode is Thinking.NONE:
            return None, None
        if mode is Thinking.ADAPTIVE:
            return {"type": "adaptive"}, EFFORTS[effort]
        return {"type": "enabled", "budget_tokens": THINKING_BUDGETS[effort]}, None
    preset = presets.get("thinking")
    return (preset, None) if isinstance(preset, dict) else (None, None)


def max_tokens(asked: int | None, model_limit: int, thinking: dict[str, Any] | None) -> int:
    """What the caller asked for, else the model's output limit. A thinking budget must stay below
    max_tokens: when the cap leaves no room for it, the budget comes on top of the cap (which then bounds
    the visible answer)."""
    value = asked or model_limit
    budget = thinking.get("budget_tokens") if thinking else None
    if isinstance(budget, int) and value <= budget:
        value = budget + (asked or FALLBACK_MAX_OUTPUT)
    return value


def unsupported_params(request: CompletionRequest, deployment: Deployment) -> list[str]:
    """The OpenAI parameters of `request` the Messages API cannot honour for this deployment. A request
    native to the Messages API has none: it goes as sent, and Anthropic itself judges it."""
    if request.native is not None and request.native.format == "anthropic":
        return []
    params = request.params
    names = [name for name in _UNSUPPORTED_PARAMS if getattr(params, name) is not None]
    if params.n is not None and params.n > 1:
        names.append("n")
    if params.logprobs:
        names.append("logprobs")
    model = profile(deployment.upstream_model)
    extras = request.extra_body
    top_k = params.top_k is not None or "top_k" in extras
    if not model.sampling:
        names += [name for name in ("temperature", "top_p") if getattr(params, name) is not None]
        names += ["top_k"] if top_k else []
    switch = _thinking_switch(request)
    if switch in ("reasoning_effort", "thinking_budget") and model.thinking is Thinking.NONE:
        names.append(switch)
    elif switch is not None:
        # Extended thinking takes neither sampling changes nor forced tool use.
        if params.temperature is not None and params.temperature != 1 and "temperature" not in names:
            names.append("temperature")
        if params.top_p is not None and params.top_p < 0.95 and "top_p" not in names:
            names.append("top_p")
        if top_k and "top_k" not in names:
            names.append("top_k")
        if isinstance(request.tool_choice, NamedToolChoice) or request.tool_choice is ToolChoiceMode.REQUIRED:
            names.append("tool_choice")
        if _unsigned_tool_loop(request.messages):
            # The last assistant turn's tool calls must follow the signed thinking block that made
            # them, and the caller did not send it back (an OpenAI client cannot).
            names.append(switch)
    return names


def _thinking_switch(request: CompletionRequest) -> str | None:
    """The parameter that turns thinking on for this call: a passed `thinking`, thinking_budget or
    reasoning_effort."""
    passed = request.extra_body.get("thinking")
    if isinstance(passed, dict):
        return "thinking" if passed.get("type") != "disabled" else None
    if request.params.thinking_budget is not None:
        return "thinking_budget"
    effort = request.params.reasoning_effort
    return None if effort is None or effort is ReasoningEffort.NONE else "reasoning_effort"


def _unsigned_tool_loop(messages: Sequence[Message]) -> bool:
    for message in reversed(messages):
        if message.role is Role.ASSISTANT:
            signed = any(block.signature or block.redacted for block in message.thinking_blocks)
            return bool(message.tool_calls) and not signed
    return False


def headers(deployment: Deployment, request: CompletionRequest | None = None) -> dict[str, str]:
    """x-api-key, anthropic-version (credentials.extra `anthropic_version` overrides ours, a native
    request's own header overrides both) and anthropic-beta: the deployment's `anthropic_beta` joined
    with the request's (its `anthropic-beta` header when native, else `anthropic_beta` in extra_body),
    each a comma-separated string or a list; a native request's other `anthropic-*` headers as sent;
    the deployment's preset `extra_headers` last."""
    credentials = deployment.credentials
    extra = credentials.extra
    out = {
        "content-type": "application/json",
        "anthropic-version": str(extra.get("anthropic_version") or API_VERSION),
    }
    if credentials.api_key is not None and credentials.api_key.value:
        out["x-api-key"] = credentials.api_key.value
    betas = _names(extra.get("anthropic_beta"))
    asked: object = None
    native = request.native if request is not None else None
    if native is not None and native.format == "anthropic":
        for name, value in native.headers.items():
            name = name.lower()
            # Only the format's own headers: the client's credentials are for the gateway, not us.
            if name == "anthropic-beta":
                asked = value
            elif name.startswith("anthropic-"):
                out[name] = value
    elif request is not None:
        asked = request.extra_body.get("anthropic_beta")
    betas += [name for name in _names(asked) if name not in betas]
    if betas:
        out["anthropic-beta"] = ",".join(betas)
    preset = deployment.extra_params.get("extra_headers")
    if isinstance(preset, dict):
        out.update((str(name), str(value)) for name, value in preset.items())
    return out


def _names(value: object) -> list[str]:
    if isinstance(value, str):
        return [name.strip() for name in value.split(",") if name.strip()]
    if isinstance(value, list | tuple):
        return [str(name).strip() for name in value if str(name).strip()]
    return []


def url(deployment: Deployment) -> httpx.URL:
    return _messages_url(deployment.api_base or DEFAULT_API_BASE)


def count_tokens_url(deployment: Deployment) -> httpx.URL:
    return _count_tokens_url(deployment.api_base or DEFAULT_API_BASE)


@functools.lru_cache(maxsize=256)
def _count_tokens_url(api_base: str) -> httpx.URL:
    return httpx.URL(str(_messages_url(api_base)) + "/count_tokens")


@functools.lru_cache(maxsize=256)
def _messages_url(api_base: str) -> httpx.URL:
    # api_base is the host (https://api.anthropic.com), as LiteLLM takes it; a base that already names
    # the version or the endpoint is accepted too.
    base = api_base.rstrip("/")
    if base.endswith("/v1/messages"):
        return httpx.URL(base)
    return httpx.URL(base + ("/messages" if base.endswith("/v1") else "/v1/messages"))

"""Domain requests as Anthropic Messages API calls: URL, headers and body, and what they cannot carry.

Each piece (system lifting, turns, tools, tool_choice, thinking) is its own function, so that the
gateway's own /v1/messages can reuse them. See models.py for the per-model table they consult.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from adapters.llm.anthropic.models import EFFORTS, FALLBACK_MAX_OUTPUT, THINKING_BUDGETS, Thinking, profile
from domain.completions import CompletionRequest, ReasoningEffort
from domain.deployments import Deployment
from domain.errors import BadRequestError
from domain.messages import (
    Content,
    FunctionTool,
    ImagePart,
    Message,
    NamedToolChoice,
    ResponseFormat,
    ResponseFormatType,
    Role,
    TextPart,
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
    the request sets them."""
    model = profile(deployment.upstream_model)
    params = request.params
    system, turns = split_messages(request.messages)
    extras = request.extra_body
    presets = deployment.extra_params
    thinking, effort = thinking_config(params.reasoning_effort, model.thinking, extras, presets)

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
    if "top_k" in presets and "top_k" not in extras:
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


def split_messages(messages: Sequence[Message]) -> tuple[list[str], list[dict[str, Any]]]:
    """(system texts, turns): system and developer messages lifted out in order; the rest as
    alternating turns, consecutive same-role messages merged (tool results are user content), tool
    results first within their turn, and a turn of one text block sent as a plain string."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        role = message.role
        if role is Role.SYSTEM or role is Role.DEVELOPER:
            if text := message.text:
                system.append(text)
            continue
        if role is Role.ASSISTANT:
            api_role, blocks = "assistant", _assistant_blocks(message, index)
        elif role is Role.TOOL:
            api_role, blocks = "user", [_tool_result(message, index)]
        else:
            api_role, blocks = "user", _blocks(message.content, f"messages[{index}]")
        if not blocks:
            continue
        if turns and turns[-1]["role"] == api_role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": api_role, "content": blocks})
    for turn in turns:
        blocks = turn["content"]
        if len(blocks) == 1 and blocks[0]["type"] == "text":
            turn["content"] = blocks[0]["text"]
        elif turn["role"] == "user" and any(block["type"] == "tool_result" for block in blocks[1:]):
            # The API wants a turn's tool results before anything else in it.
            turn["content"] = sorted(blocks, key=lambda block: block["type"] != "tool_result")
    return system, turns


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
    effort: ReasoningEffort | None, mode: Thinking, extras: Mapping[str, Any], presets: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, str | None]:
    """(thinking, output_config.effort): a `thinking` the caller passed goes as it is; else
    reasoning_effort becomes a budget (THINKING_BUDGETS) or, on models with adaptive thinking, adaptive
    thinking at that effort (EFFORTS); else the deployment's preset `thinking`."""
    passed = extras.get("thinking")
    if isinstance(passed, dict):
        return passed, None
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
    """The OpenAI parameters of `request` the Messages API cannot honour for this deployment."""
    params = request.params
    names = [name for name in _UNSUPPORTED_PARAMS if getattr(params, name) is not None]
    if params.n is not None and params.n > 1:
        names.append("n")
    if params.logprobs:
        names.append("logprobs")
    model = profile(deployment.upstream_model)
    extras = request.extra_body
    if not model.sampling:
        names += [name for name in ("temperature", "top_p") if getattr(params, name) is not None]
        names += ["top_k"] if "top_k" in extras else []
    switch = _thinking_switch(request)
    if switch == "reasoning_effort" and model.thinking is Thinking.NONE:
        names.append(switch)
    elif switch is not None:
        # Extended thinking takes neither sampling changes nor forced tool use.
        if params.temperature is not None and params.temperature != 1 and "temperature" not in names:
            names.append("temperature")
        if params.top_p is not None and params.top_p < 0.95 and "top_p" not in names:
            names.append("top_p")
        if isinstance(request.tool_choice, NamedToolChoice) or request.tool_choice is ToolChoiceMode.REQUIRED:
            names.append("tool_choice")
        if _tool_loop_open(request.messages):
            # The last assistant turn's tool calls would have to follow its signed thinking block, which
            # the OpenAI format does not carry back to us.
            names.append(switch)
    return names


def _thinking_switch(request: CompletionRequest) -> str | None:
    """The parameter that turns thinking on for this call: a passed `thinking`, or reasoning_effort."""
    passed = request.extra_body.get("thinking")
    if isinstance(passed, dict):
        return "thinking" if passed.get("type") != "disabled" else None
    effort = request.params.reasoning_effort
    return None if effort is None or effort is ReasoningEffort.NONE else "reasoning_effort"


def _tool_loop_open(messages: Sequence[Message]) -> bool:
    for message in reversed(messages):
        if message.role is Role.ASSISTANT:
            return bool(message.tool_calls)
    return False


def _assistant_blocks(message: Message, index: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if message.content is not None:
        blocks = [
            block for block in _blocks(message.content, f"messages[{index}]") if block.get("text") != ""
        ]
    for position, call in enumerate(message.tool_calls):
        where = f"messages[{index}].tool_calls[{position}].function.arguments"
        blocks.append(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.name,
                "input": _tool_input(call.arguments, where),
            }
        )
    return blocks


def _tool_result(message: Message, index: int) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
    content = message.content
    if content is not None:
        block["content"] = content if isinstance(content, str) else _blocks(content, f"messages[{index}]")
    return block


def _blocks(content: Content | None, where: str) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    blocks: list[dict[str, Any]] = []
    for position, part in enumerate(content):
        if isinstance(part, TextPart):
            blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            blocks.append(image_block(part.url, f"{where}.content[{position}].image_url.url"))
    return blocks


def image_block(url: str, where: str = "messages") -> dict[str, Any]:
    """A data URL as a base64 image source, anything else as a URL source."""
    if not url.startswith("data:"):
        return {"type": "image", "source": {"type": "url", "url": url}}
    header, comma, data = url.partition(",")
    if not comma or not header.endswith(";base64"):
        raise BadRequestError(f"Invalid '{where}': an image data URL must be base64 encoded.", param=where)
    return {"type": "image", "source": {"type": "base64", "media_type": header[5:-7], "data": data}}


def _tool_input(arguments: str, where: str) -> dict[str, Any]:
    if not arguments.strip():
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        raise BadRequestError(f"Invalid '{where}': the arguments are not valid JSON.", param=where) from None
    if not isinstance(value, dict):
        raise BadRequestError(f"Invalid '{where}': the arguments must be a JSON object.", param=where)
    return value


def headers(deployment: Deployment, request: CompletionRequest | None = None) -> dict[str, str]:
    """x-api-key, anthropic-version (credentials.extra `anthropic_version` overrides it) and
    anthropic-beta: the deployment's `anthropic_beta` and the request's `anthropic_beta` (extra_body),
    each a comma-separated string or a list, joined; the deployment's preset `extra_headers` last."""
    credentials = deployment.credentials
    extra = credentials.extra
    out = {
        "content-type": "application/json",
        "anthropic-version": str(extra.get("anthropic_version") or API_VERSION),
    }
    if credentials.api_key is not None and credentials.api_key.value:
        out["x-api-key"] = credentials.api_key.value
    betas = _names(extra.get("anthropic_beta"))
    if request is not None and "anthropic_beta" in request.extra_body:
        betas += [name for name in _names(request.extra_body["anthropic_beta"]) if name not in betas]
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


@functools.lru_cache(maxsize=256)
def _messages_url(api_base: str) -> httpx.URL:
    # api_base is the host (https://api.anthropic.com), as LiteLLM takes it; a base that already names
    # the version or the endpoint is accepted too.
    base = api_base.rstrip("/")
    if base.endswith("/v1/messages"):
        return httpx.URL(base)
    return httpx.URL(base + ("/messages" if base.endswith("/v1") else "/v1/messages"))

"""Domain chat requests as Converse bodies (Converse and ConverseStream take the same one). Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adapters.llm.bedrock.access import model_id as model_id
from adapters.llm.bedrock.blocks import Blocks, document_source, texts
from domain.completions import CompletionRequest, ReasoningEffort
from domain.deployments import Deployment
from domain.messages import (
    DocumentPart,
    FunctionTool,
    NamedToolChoice,
    ResponseFormatType,
    Role,
    ToolChoiceMode,
)

JSON_TOOL = "json_tool_call"
"""The forced tool that carries a `response_format` reply, as LiteLLM names it."""
# Converse's own top-level fields: `extra_body` keys of these names go there, all others to the model.
_TOP_LEVEL = frozenset(
    {
        "guardrailConfig",
        "performanceConfig",
        "requestMetadata",
        "promptVariables",
        "additionalModelResponseFieldPaths",
        "serviceTier",
        "outputConfig",
    }
)
# reasoning_effort as Claude's extended-thinking budget (LiteLLM's budgets; 1024 is Claude's minimum).
_THINKING_BUDGET = {
    ReasoningEffort.MINIMAL: 1024,
    ReasoningEffort.LOW: 1024,
    ReasoningEffort.MEDIUM: 2048,
    ReasoningEffort.HIGH: 4096,
    ReasoningEffort.XHIGH: 8192,
}
_THINKING_HEADROOM = 4096  # output tokens left for the answer when the caller set no limit
# Claude answers which stop sequence ended its reply when asked for this field of its own response.
_STOP_SEQUENCE_PATH = "/stop_sequence"
_CLAUDE = re.compile(r"(^|[.:/])anthropic\.|claude", re.I)
_NOVA = re.compile(r"(^|[.:/])amazon\.nova", re.I)
_CACHE_POINT = {"cachePoint": {"type": "default"}}
_INJECTION = "cache_control_injection_points"
# Needed by Bedrock when the conversation holds tool calls but the request declares no tool.
_PLACEHOLDER_TOOL = {
    "toolSpec": {
        "name": "no_tool_available",
        "description": "No tool is available in this turn; do not call this.",
        "inputSchema": {"json": {"type": "object", "properties": {}}},
    }
}


@dataclass(frozen=True, slots=True)
class Plan:
    body: dict[str, Any]
    json_tool: str | None = None
    """The forced tool whose input is the reply's content (response_format), when there is one."""


def is_claude(model: str) -> bool:
    return _CLAUDE.search(model) is not None


def unsupported(request: CompletionRequest, deployment: Deployment) -> list[str]:
    """The OpenAI parameters of `request` Converse cannot honour for this deployment's model."""
    params = request.params
    names = [
        name
        for name in (
            "logit_bias",
            "seed",
            "presence_penalty",
            "frequency_penalty",
            "logprobs",
            "top_logprobs",
        )
        if getattr(params, name) is not None
    ]
    if params.user is not None:
        names.append("user")
    if params.n is not None and params.n > 1:
        names.append("n")
    if params.parallel_tool_calls is False:
        names.append("parallel_tool_calls")
    model = model_id(deployment)
    claude = is_claude(model)
    effort = params.reasoning_effort
    if effort is not None and effort is not ReasoningEffort.NONE and not claude:
        names.append("reasoning_effort")
    if params.thinking_budget is not None and not claude:
        names.append("thinking_budget")  # extended thinking is Claude's
    # Claude takes top_k as a model field, Nova as its inferenceConfig.topK; of the others Converse
    # documents none.
    if params.top_k is not None and not (claude or _NOVA.search(model)):
        names.append("top_k")
    if any(document_source(part) is None for part in _documents(request)):
        names.append("documents")  # a web URL (Bedrock fetches none) or a type it cannot read
    return names


def converse_body(request: CompletionRequest, deployment: Deployment) -> Plan:
    """The Converse (and ConverseStream) body: the two take the same one."""
    model = model_id(deployment)
    claude = is_claude(model)
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    uses_tools = False
    cached = _cache_points(request, deployment)
    content = Blocks(claude=claude, tool_status=claude or _NOVA.search(model) is not None)
    for index, message in enumerate(request.messages):
        if message.role is Role.SYSTEM or message.role is Role.DEVELOPER:
            system.extend({"text": text} for text in texts(message) if text)
            if index in cached and system:
                system.append(_CACHE_POINT)
            continue
        if message.role is Role.TOOL:
            role, blocks, uses_tools = "user", [content.tool_result(message, index)], True
        elif message.role is Role.ASSISTANT:
            role, blocks = "assistant", content.assistant(message, index)
            uses_tools = uses_tools or bool(message.tool_calls)
        else:
            role, blocks = "user", content.user(message, index)
        if not blocks:
            continue  # Bedrock refuses empty and blank content
        if index in cached:
            blocks.append(_CACHE_POINT)
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)  # Converse wants user and assistant turns to alternate
        else:
            turns.append({"role": role, "content": blocks})
    body: dict[str, Any] = {"messages": turns}
    if system:
        body["system"] = system

    extra = _extras(request, deployment)
    fields: dict[str, Any] = dict(extra.pop("additionalModelRequestFields", None) or {})
    thinking = _thinking(request, model, extra)
    if thinking is not None:
        fields["thinking"] = thinking
    inference = _inference(request, thinking)
    top_k = extra.pop("top_k", None)
    if request.params.top_k is not None:
        top_k = request.params.top_k  # the request's own over a configured default
    if top_k is not None:
        if _NOVA.search(model):
            fields.setdefault("inferenceConfig", {})["topK"] = top_k
        else:
            fields["top_k"] = top_k
    for name, value in extra.items():
        (body if name in _TOP_LEVEL else fields)[name] = value
    if claude and "stopSequences" in inference and "additionalModelResponseFieldPaths" not in body:
        body["additionalModelResponseFieldPaths"] = [_STOP_SEQUENCE_PATH]
    if inference:
        body["inferenceConfig"] = inference
    if fields:
        body["additionalModelRequestFields"] = fields

    json_tool = _json_tool(request)
    tool_config = _tool_config(request, json_tool, thinking_on=thinking is not None, uses_tools=uses_tools)
    if tool_config is not None:
        body["toolConfig"] = tool_config
    return Plan(body, json_tool["toolSpec"]["name"] if json_tool else None)


def _cache_points(request: CompletionRequest, deployment: Deployment) -> set[int]:
    """The messages to end with a cache point, from LiteLLM's `cache_control_injection_points` in the
    deployment's config: `{location: message, role: system|user|assistant|tool}` marks every message of
    that role, `{location: message, index: n}` (negative from the end) the message at n."""
    points = deployment.extra_params.get(_INJECTION) or deployment.credentials.extra.get(_INJECTION)
    if not isinstance(points, list | tuple):
        return set()
    messages = request.messages
    marked: set[int] = set()
    for point in points:
        if not isinstance(point, Mapping) or point.get("location", "message") != "message":
            continue
        role, position = point.get("role"), point.get("index")
        if isinstance(position, int) and -len(messages) <= position < len(messages):
            marked.add(position % len(messages))
        elif isinstance(role, str):
            roles = {role, "developer"} if role == "system" else {role}
            marked.update(i for i, message in enumerate(messages) if message.role.value in roles)
    return marked


def _extras(request: CompletionRequest, deployment: Deployment) -> dict[str, Any]:
    """The caller's passthrough fields over the deployment's configured ones (top_k, thinking, extra_body)."""
    defaults = deployment.extra_params
    extra: dict[str, Any] = {}
    if defaults:
        extra.update(defaults.get("extra_body") or {})
        extra.update({name: defaults[name] for name in ("top_k", "thinking") if name in defaults})
    extra.update(request.extra_body)
    return extra


def _inference(request: CompletionRequest, thinking: Mapping[str, Any] | None) -> dict[str, Any]:
    params = request.params
    inference: dict[str, Any] = {}
    limit = params.output_limit
    if limit is None and thinking is not None and isinstance(thinking.get("budget_tokens"), int):
        limit = thinking["budget_tokens"] + _THINKING_HEADROOM  # Claude wants max_tokens > budget_tokens
    if limit is not None:
        inference["maxTokens"] = limit
    if params.temperature is not None:
        inference["temperature"] = params.temperature
    if params.top_p is not None:
        inference["topP"] = params.top_p
    if params.stop:
        stops = [stop for stop in params.stop if stop]  # Converse refuses empty stop sequences
        if stops:
            inference["stopSequences"] = stops
    return inference


def _thinking(request: CompletionRequest, model: str, extra: dict[str, Any]) -> dict[str, Any] | None:
    given = extra.pop("thinking", None)
    budget = request.params.thinking_budget
    if budget is not None and is_claude(model):
        return {"type": "enabled", "budget_tokens": budget}
    if isinstance(given, dict):
        return given
    effort = request.params.reasoning_effort
    if effort is None or effort is ReasoningEffort.NONE or not is_claude(model):
        return None
    return {"type": "enabled", "budget_tokens": _THINKING_BUDGET[effort]}


def _json_tool(request: CompletionRequest) -> dict[str, Any] | None:
    response_format = request.response_format
    if response_format is None or response_format.type is ResponseFormatType.TEXT:
        return None
    if response_format.type is ResponseFormatType.JSON_SCHEMA:
        schema = dict(response_format.schema or {})
        name = response_format.name or JSON_TOOL
    else:  # json_object: any object will do
        schema, name = {"type": "object", "additionalProperties": True, "properties": {}}, JSON_TOOL
    spec: dict[str, Any] = {"name": name, "inputSchema": {"json": schema}}
    if response_format.description:
        spec["description"] = response_format.description
    return {"toolSpec": spec}


def _tool_config(
    request: CompletionRequest, json_tool: dict[str, Any] | None, *, thinking_on: bool, uses_tools: bool
) -> dict[str, Any] | None:
    choice = request.tool_choice
    tools = [_tool(tool) for tool in request.tools]
    if choice is ToolChoiceMode.NONE and not uses_tools:
        tools = []  # Converse has no "none": a model without tools calls none
    if json_tool is not None:
        tools.append(json_tool)
    if not tools:
        return {"tools": [_PLACEHOLDER_TOOL]} if uses_tools else None
    config: dict[str, Any] = {"tools": tools}
    if json_tool is not None and not request.tools and not thinking_on:
        # Claude refuses a forced tool while it thinks; then the schema's tool is merely offered.
        config["toolChoice"] = {"tool": {"name": json_tool["toolSpec"]["name"]}}
    elif isinstance(choice, NamedToolChoice):
        config["toolChoice"] = {"tool": {"name": choice.name}}
    elif choice is ToolChoiceMode.REQUIRED:
        config["toolChoice"] = {"any": {}}
    elif choice is ToolChoiceMode.AUTO:
        config["toolChoice"] = {"auto": {}}
    return config


def _documents(request: CompletionRequest) -> list[DocumentPart]:
    return [
        part
        for message in request.messages
        if not isinstance(message.content, str | None)
        for part in message.content
        if isinstance(part, DocumentPart)
    ]


def _tool(tool: FunctionTool) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": tool.name,
        "inputSchema": {
            "json": dict(tool.parameters) if tool.parameters else {"type": "object", "properties": {}}
        },
    }
    if tool.description:
        spec["description"] = tool.description
    return {"toolSpec": spec}

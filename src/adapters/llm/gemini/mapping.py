"""Domain requests as Gemini `generateContent` bodies (shared by the Gemini API and Vertex AI), and the
tool call ids that carry Gemini's thought signatures through OpenAI-format clients."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from adapters.llm.gemini.schema import gemini_schema
from adapters.openai_format.upstream import document_text, effort_for_budget
from domain.completions import CompletionRequest, ReasoningEffort, SamplingParams
from domain.errors import BadRequestError
from domain.messages import (
    Content,
    DocumentPart,
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

# Fields a caller may send beyond OpenAI's that Gemini takes, by where they go: request fields, and
# generationConfig fields. Both snake and camel spellings, as LiteLLM accepts them.
_BODY_PASSTHROUGH = {
    "safety_settings": "safetySettings",
    "safetySettings": "safetySettings",
    "cached_content": "cachedContent",
    "cachedContent": "cachedContent",
}
_VERTEX_PASSTHROUGH = {"labels": "labels"}
_CONFIG_PASSTHROUGH = {
    "top_k": "topK",
    "topK": "topK",
    "response_modalities": "responseModalities",
    "responseModalities": "responseModalities",
}
_SPECIAL_PASSTHROUGH = frozenset({"generationConfig", "thinking"})
_DEFAULTABLE = frozenset(
    {*_BODY_PASSTHROUGH, *_VERTEX_PASSTHROUGH, *_CONFIG_PASSTHROUGH, *_SPECIAL_PASSTHROUGH}
)

# reasoning_effort as Gemini 2.5's thinking budget: Google's own OpenAI-compatibility table (low 1K,
# medium 8K, high 24K, none off); minimal is the smallest budget every 2.5 model accepts (Flash-Lite's).
_BUDGETS = {
    ReasoningEffort.NONE: 0,
    ReasoningEffort.MINIMAL: 512,
    ReasoningEffort.LOW: 1024,
    ReasoningEffort.MEDIUM: 8192,
    ReasoningEffort.HIGH: 24576,
    ReasoningEffort.XHIGH: 24576,
}
# Gemini 3 and later take a level instead; none of them can stop thinking, MINIMAL comes closest.
_LEVELS = {
    ReasoningEffort.NONE: "MINIMAL",
    ReasoningEffort.MINIMAL: "MINIMAL",
    ReasoningEffort.LOW: "LOW",
    ReasoningEffort.MEDIUM: "MEDIUM",
    ReasoningEffort.HIGH: "HIGH",
    ReasoningEffort.XHIGH: "HIGH",
}
_GENERATION = re.compile(r"gemini-(\d+)")
_MIME_BY_EXTENSION = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "heic": "image/heic",
    "heif": "image/heif",
    "pdf": "application/pdf",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "txt": "text/plain",
}

# Gemini has no tool call ids, yet Gemini 3 wants each call's thought signature back with it. Our ids are
# a hash, plus the signature (base64url) when the call carried one, so clients hand it back untouched.
_SIGNATURE_MARK = "__sig_"
_CALL_ID = re.compile(r"^call_[0-9a-f]{16}__sig_([A-Za-z0-9_-]+)$")
# Google's documented stand-in for a call whose signature is unknown (history from another model).
_NO_SIGNATURE = "skip_thought_signature_validator"


def unsupported(request: CompletionRequest, *, vertex: bool) -> list[str]:
    """The OpenAI parameters (and passthrough fields) of `request` that Gemini cannot honour."""
    params = request.params
    names = []
    if params.logit_bias is not None:
        names.append("logit_bias")
    if params.parallel_tool_calls is False:  # Gemini may always call several; it cannot be told not to
        names.append("parallel_tool_calls")
    if params.user is not None:
        names.append("user")
    known = _BODY_PASSTHROUGH.keys() | _CONFIG_PASSTHROUGH.keys() | _SPECIAL_PASSTHROUGH
    if vertex:
        known |= _VERTEX_PASSTHROUGH.keys()
    names.extend(name for name in request.extra_body if name not in known)
    return names


def generate_body(
    request: CompletionRequest,
    model: str,
    *,
    vertex: bool = False,
    defaults: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The generateContent body (the same for streamGenerateContent) for `model`, the upstream id.
    `defaults` are the deployment's configured request fields; its Gemini ones (`safety_settings`,
    `top_k`, ...) apply unless the request sets them."""
    system, contents = _contents(request.messages, model)
    if not contents and system:
        # Gemini needs at least one turn; a request made of instructions alone asks with them.
        contents, system = [{"role": "user", "parts": system}], []
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system}
    if request.tools:
        body["tools"] = [{"functionDeclarations": [_declaration(tool) for tool in request.tools]}]
        if request.tool_choice is not None:
            body["toolConfig"] = {"functionCallingConfig": _calling_config(request.tool_choice)}
    config = _generation_config(request, model)
    extra = request.extra_body
    if defaults:
        extra = {name: value for name, value in defaults.items() if name in _DEFAULTABLE} | dict(extra)
    if extra:
        passthrough = {**_BODY_PASSTHROUGH, **(_VERTEX_PASSTHROUGH if vertex else {})}
        for name, value in extra.items():
            if name in passthrough:
                body[passthrough[name]] = value
            elif name in _CONFIG_PASSTHROUGH:
                config[_CONFIG_PASSTHROUGH[name]] = value
            elif name == "thinking" and isinstance(value, Mapping):
                config["thinkingConfig"] = _anthropic_thinking(value)
            elif name == "generationConfig" and isinstance(value, Mapping):
                config.update(value)
    if request.params.top_k is not None:
        config["topK"] = request.params.top_k  # the request's own over a configured default
    if config:
        body["generationConfig"] = config
    return body


def call_id(seed: str, signature: str | None = None) -> str:
    """A tool call id that is the same for the same reply, carrying `signature` when there is one."""
    head = "call_" + hashlib.blake2b(seed.encode(), digest_size=8).hexdigest()
    if not signature:
        return head
    return head + _SIGNATURE_MARK + signature.replace("+", "-").replace("/", "_").rstrip("=")


def signature_of(tool_call_id: str) -> str | None:
    """The thought signature a `call_id` carries, in standard base64 as Gemini sent it."""
    found = _CALL_ID.match(tool_call_id)
    if found is None:
        return None
    text = found.group(1).replace("-", "+").replace("_", "/")
    return text + "=" * (-len(text) % 4)


def is_gemini3_or_later(model: str) -> bool:
    found = _GENERATION.search(model)
    return found is not None and int(found.group(1)) >= 3


def _contents(messages: Iterable[Message], model: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    signatures_needed = is_gemini3_or_later(model)
    # An assistant's thinking blocks stay behind: Gemini takes back only its own thought signatures (on
    # the calls, carried by their ids), and earlier turns' reasoning only informs.
    for message in messages:
        role = message.role
        if role is Role.SYSTEM or role is Role.DEVELOPER:
            if message.text:
                system.append({"text": message.text})
        elif role is Role.ASSISTANT:
            parts = _parts(message.content)
            for position, call in enumerate(message.tool_calls):
                names[call.id] = call.name
                function = {"name": call.name, "args": _arguments(call.arguments)}
                part: dict[str, Any] = {"functionCall": function}
                signature = signature_of(call.id)
                if signature is None and position == 0 and signatures_needed:
                    signature = _NO_SIGNATURE
                if signature is not None:
                    part["thoughtSignature"] = signature
                parts.append(part)
            _append(contents, "model", parts)
        elif role is Role.TOOL:
            name = names.get(message.tool_call_id or "") or message.name
            if not name:
                raise BadRequestError(
                    f"tool message {message.tool_call_id!r} answers no earlier assistant tool call",
                    param="messages",
                )
            result = _tool_result(message.text, failed=message.tool_error)
            response = {"functionResponse": {"name": name, "response": result}}
            _append(contents, "user", [response])
        else:
            _append(contents, "user", _parts(message.content))
    return system, contents


def _append(contents: list[dict[str, Any]], role: str, parts: list[dict[str, Any]]) -> None:
    # Gemini wants turns to alternate: consecutive turns of one role (parallel tool results, a user
    # message after them) become one turn.
    if not parts:
        return
    if contents and contents[-1]["role"] == role:
        contents[-1]["parts"].extend(parts)
    else:
        contents.append({"role": role, "parts": parts})


def _parts(content: Content | None) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, TextPart):
            if part.text:
                parts.append({"text": part.text})
        elif isinstance(part, ImagePart):
            parts.append(_image(part.url))
        else:
            parts.append(_document(part))
    return parts


def _document(part: DocumentPart) -> dict[str, Any]:
    """Plain text as a text part; a PDF's bytes as inline data, a PDF by URL as file data (Gemini's
    document understanding reads both)."""
    text = document_text(part)
    if text is not None:
        return {"text": text}
    if part.url.startswith("data:"):
        return _inline(part.url, "application/pdf")
    return {"fileData": {"mimeType": "application/pdf", "fileUri": part.url}}


def _image(url: str) -> dict[str, Any]:
    if url.startswith("data:"):
        return _inline(url, "image/jpeg")
    path = url.split("?", 1)[0].split("#", 1)[0]
    extension = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return {"fileData": {"mimeType": _MIME_BY_EXTENSION.get(extension, "image/jpeg"), "fileUri": url}}


def _inline(url: str, default_type: str) -> dict[str, Any]:
    header, comma, data = url.partition(",")
    if not comma or not header.endswith(";base64"):
        raise BadRequestError("a data URL must be base64: data:<mime type>;base64,<data>", param="messages")
    return {"inlineData": {"mimeType": header[5:-7] or default_type, "data": data}}


def _arguments(text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text or "{}")
    except orjson.JSONDecodeError:
        raise BadRequestError(
            f"tool call arguments must be a JSON object, not {text[:100]!r}", param="messages"
        ) from None
    if not isinstance(value, dict):
        raise BadRequestError("tool call arguments must be a JSON object", param="messages")
    return value


def _tool_result(text: str, *, failed: bool = False) -> dict[str, Any]:
    # Gemini takes a function's result as an object; anything else goes under "output", and a failure's
    # details under "error", the keys its FunctionResponse reference names for them.
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = text
    if failed:
        return {"error": value}
    return value if isinstance(value, dict) else {"output": value}


def _declaration(tool: FunctionTool) -> dict[str, Any]:
    declaration: dict[str, Any] = {"name": tool.name}
    if tool.description:
        declaration["description"] = tool.description
    if tool.parameters:
        parameters = gemini_schema(tool.parameters)
        # A function without arguments is declared without parameters: Gemini refuses an empty object.
        if parameters.get("properties"):
            declaration["parameters"] = parameters
    return declaration


def _calling_config(choice: ToolChoice) -> dict[str, Any]:
    if isinstance(choice, NamedToolChoice):
        return {"mode": "ANY", "allowedFunctionNames": [choice.name]}
    return {"mode": {ToolChoiceMode.AUTO: "AUTO", ToolChoiceMode.NONE: "NONE"}.get(choice, "ANY")}


def _generation_config(request: CompletionRequest, model: str) -> dict[str, Any]:
    params = request.params
    config: dict[str, Any] = {}
    if params.temperature is not None:
        config["temperature"] = params.temperature
    if params.top_p is not None:
        config["topP"] = params.top_p
    if params.output_limit is not None:
        config["maxOutputTokens"] = params.output_limit
    if params.stop is not None:
        config["stopSequences"] = list(params.stop)
    if params.n is not None:
        config["candidateCount"] = params.n
    if params.seed is not None:
        config["seed"] = params.seed
    if params.presence_penalty is not None:
        config["presencePenalty"] = params.presence_penalty
    if params.frequency_penalty is not None:
        config["frequencyPenalty"] = params.frequency_penalty
    if params.logprobs is not None:
        config["responseLogprobs"] = params.logprobs
    if params.top_logprobs is not None:
        config["logprobs"] = params.top_logprobs
    if request.response_format is not None:
        config.update(_response_format(request.response_format))
    if params.reasoning_effort is not None:
        config["thinkingConfig"] = _thinking(params.reasoning_effort, model)
    elif params.thinking_budget is not None:
        config["thinkingConfig"] = _budgeted_thinking(params, model)
    return config


def _response_format(response_format: ResponseFormat) -> dict[str, Any]:
    # responseSchema (the OpenAPI subset) rather than responseJsonSchema: every Gemini model on both APIs
    # takes it, and it is the one function parameters use too.
    if response_format.type is ResponseFormatType.JSON_OBJECT:
        return {"responseMimeType": "application/json"}
    if response_format.type is ResponseFormatType.JSON_SCHEMA and response_format.schema is not None:
        schema = gemini_schema(response_format.schema, ordered=True)
        return {"responseMimeType": "application/json", "responseSchema": schema}
    return {}


def _thinking(effort: ReasoningEffort, model: str) -> dict[str, Any]:
    thoughts = effort is not ReasoningEffort.NONE
    if is_gemini3_or_later(model):
        return {"thinkingLevel": _LEVELS[effort], "includeThoughts": thoughts}
    if not thoughts:
        return {"thinkingBudget": 0}
    return {"thinkingBudget": _BUDGETS[effort], "includeThoughts": True}


def _budgeted_thinking(params: SamplingParams, model: str) -> dict[str, Any]:
    """A thinking budget as Gemini 2.5's own `thinkingBudget`; Gemini 3 and later take a level instead
    (a budget is accepted there only for backwards compatibility, and Google warns it may serve worse),
    the level the budget's reasoning effort stands for."""
    budget = params.thinking_budget
    assert budget is not None
    if is_gemini3_or_later(model):
        return {"thinkingLevel": _LEVELS[effort_for_budget(budget)], "includeThoughts": True}
    return {"thinkingBudget": budget, "includeThoughts": True}


def _anthropic_thinking(thinking: Mapping[str, Any]) -> dict[str, Any]:
    """Anthropic's `thinking` ({"type": "enabled", "budget_tokens": N}), which LiteLLM accepts for Gemini."""
    if thinking.get("type") == "disabled":
        return {"thinkingBudget": 0}
    budget = thinking.get("budget_tokens")
    config: dict[str, Any] = {"includeThoughts": True}
    if isinstance(budget, int):
        config["thinkingBudget"] = budget
    return config

"""A guardrail run by any service that speaks LiteLLM's Generic Guardrail API
(`POST <api_base>/beta/litellm_basic_guardrail_api`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from adapters.guardrails import post_json
from domain.completions import CompletionRequest
from domain.errors import BadRequestError
from domain.guardrails import ALLOW, GuardrailSpec, Inspection, Verdict, block, masked
from ports.guardrail import Guardrail, GuardrailUnavailable

PATH = "/beta/litellm_basic_guardrail_api"
DEFAULT_TIMEOUT = 10.0
"""Seconds. LiteLLM's guardrail HTTP client waits up to 600 s, which no caller would wait on a check."""
MAX_REASON = 200
DEFAULT_BLOCK_REASON = "Content violates policy"
"""What LiteLLM says when the service blocks without a reason."""

_REQUEST_DATA_FIELDS = (
    "user_api_key_hash",
    "user_api_key_alias",
    "user_api_key_user_id",
    "user_api_key_user_email",
    "user_api_key_team_id",
    "user_api_key_team_alias",
    "user_api_key_end_user_id",
    "user_api_key_org_id",
)
"""The caller's identity fields LiteLLM sends as `request_data`, taken from the request's metadata."""


class GenericGuardrailApi(Guardrail):
    """Sends the inspection's texts to the service and maps its `action`: NONE allows, BLOCKED blocks
    with the service's `blocked_reason`, GUARDRAIL_INTERVENED (or any answer with rewritten `texts`)
    masks. The service down, too slow, failing or answering what cannot be read: `GuardrailUnavailable`."""

    kind = "generic_guardrail_api"

    def __init__(self, spec: GuardrailSpec, client: httpx.AsyncClient) -> None:
        params = spec.params
        self._client = client
        self._url = _endpoint(params.get("api_base"))
        self._headers = _headers(params.get("headers"), params.get("api_key"))
        self._timeout = _timeout(params.get("timeout"))
        extra = params.get("additional_provider_specific_params") or {}
        if not isinstance(extra, Mapping):
            raise BadRequestError(
                "additional_provider_specific_params must be a mapping",
                param="additional_provider_specific_params",
            )
        self._extra = dict(extra)

    async def check(self, inspection: Inspection) -> Verdict:
        body = self._body(inspection)
        answer = await post_json(
            self._client, self._url, body, self._headers, self._timeout, "guardrail service"
        )
        return _verdict(answer, inspection.texts)

    def _body(self, inspection: Inspection) -> dict[str, Any]:
        request = inspection.request
        metadata: Mapping[str, Any] = getattr(request, "metadata", None) or {}
        is_reply = inspection.is_reply
        tools = None
        if not is_reply and isinstance(request, CompletionRequest) and request.tools:
            # LiteLLM sends tools on the request side only, in OpenAI's tool format.
            tools = [_tool(tool) for tool in request.tools]
        return {
            "texts": list(inspection.texts),
            "images": None,
            "tools": tools,
            "tool_calls": None,
            "structured_messages": None,
            "input_type": "response" if is_reply else "request",
            "request_data": {k: metadata[k] for k in _REQUEST_DATA_FIELDS if metadata.get(k) is not None},
            "request_headers": None,
            "litellm_call_id": _text_or_none(metadata.get("litellm_call_id")),
            "litellm_trace_id": _text_or_none(metadata.get("litellm_trace_id")),
            "litellm_version": None,
            "model": getattr(request, "model", None),
            "additional_provider_specific_params": dict(self._extra),
        }


def _verdict(answer: object, sent: tuple[str, ...]) -> Verdict:
    if not isinstance(answer, Mapping):
        raise GuardrailUnavailable("guardrail service answered something other than a JSON object")
    action = answer.get("action") or "NONE"
    if action == "BLOCKED":
        reason = answer.get("blocked_reason")
        reason = reason.strip() if isinstance(reason, str) and reason.strip() else DEFAULT_BLOCK_REASON
        return block(_trimmed(reason))
    if action not in ("NONE", "GUARDRAIL_INTERVENED"):
        raise GuardrailUnavailable("guardrail service answered an unknown action")
    texts = answer.get("texts")
    if not texts:
        # Like LiteLLM: without rewritten texts the call goes on unchanged, whatever the action.
        return ALLOW
    if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
        raise GuardrailUnavailable("guardrail service answered texts that are not strings")
    if len(texts) != len(sent):
        raise GuardrailUnavailable(
            f"guardrail service answered {len(texts)} texts for the {len(sent)} it was sent"
        )
    if tuple(texts) == sent:
        return ALLOW
    return masked(texts, "rewritten by the guardrail service")


def _endpoint(api_base: object) -> str:
    if not isinstance(api_base, str) or not api_base.strip():
        raise BadRequestError("api_base is required: the guardrail service's base URL", param="api_base")
    base = api_base.strip()
    if not base.startswith(("http://", "https://")):
        raise BadRequestError("api_base must be an http:// or https:// URL", param="api_base")
    if base.endswith(PATH):
        return base
    return base.rstrip("/") + PATH


def _headers(headers: object, api_key: object) -> dict[str, str]:
    if headers is not None and not isinstance(headers, Mapping):
        raise BadRequestError("headers must be a mapping of header names to values", param="headers")
    out = {"Content-Type": "application/json"}
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not isinstance(value, str | int | float) or isinstance(value, bool):
            raise BadRequestError("headers must be a mapping of header names to values", param="headers")
        out[name] = str(value)
    if api_key is not None:
        if not isinstance(api_key, str):
            raise BadRequestError("api_key must be a string", param="api_key")
        if api_key:
            out["x-api-key"] = api_key  # as LiteLLM sends it, over any `headers` entry of that name
    return out


def _timeout(value: object) -> float:
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise BadRequestError("timeout must be a positive number of seconds", param="timeout")
    return float(value)


def _tool(tool: Any) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    if tool.parameters is not None:
        function["parameters"] = _plain(tool.parameters)
    return {"type": "function", "function": function}


def _plain(value: Any) -> Any:
    """Frozen mappings and tuples as the JSON objects and arrays they stand for."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _trimmed(reason: str) -> str:
    reason = " ".join(reason.split())
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 1].rstrip() + "…"

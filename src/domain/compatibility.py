"""Fitting a request to what a deployment can take: configured defaults filled in, and parameters the
provider or the model cannot honour refused by name, or dropped when `drop_params` says so."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

from domain.completions import CompletionRequest, SamplingParams
from domain.deployments import Deployment
from domain.errors import UnsupportedParameterError
from domain.frozen import frozen
from domain.messages import DocumentPart, ImagePart, Message, ResponseFormatType

_SAMPLING_FIELDS = frozenset(field.name for field in dataclasses.fields(SamplingParams))
_ADVISORY = frozenset({"user"})
"""Parameters that only tell the provider who asks (for its abuse tracking): where one cannot be sent it
is left out without failing the call (Claude Code, for one, sends `metadata.user_id` on every call); the
gateway itself still reads it (end-user limits)."""


@frozen
class Fitted:
    request: CompletionRequest
    dropped: tuple[str, ...] = ()
    """The parameters taken out of the request, by their OpenAI names."""


def fit_request(
    request: CompletionRequest,
    deployment: Deployment,
    *,
    unsupported: Collection[str] = (),
    provider: str | None = None,
) -> Fitted:
    """`unsupported` names what the provider cannot honour for this request (OpenAI parameter names).
    With what the deployment's declared capabilities rule out, each is dropped when the deployment or
    the request (`drop_params`) allows it; otherwise the call fails naming the first."""
    request = with_defaults(request, deployment)
    caps = deployment.capabilities
    if request.stream and not caps.streaming:
        raise UnsupportedParameterError(
            f"model {deployment.model_name} cannot stream", param="stream", provider=provider
        )
    if not caps.vision and _has_images(request):
        raise UnsupportedParameterError(
            f"model {deployment.model_name} does not accept images", param="messages", provider=provider
        )
    refused = list(dict.fromkeys(unsupported))
    advisory = [name for name in refused if name in _ADVISORY]
    if advisory:
        request = without(request, advisory)
        refused = [name for name in refused if name not in _ADVISORY]
    if request.tools and not caps.tools and "tools" not in refused:
        refused.append("tools")
    format_ = request.response_format
    if format_ is not None and format_.type is ResponseFormatType.JSON_SCHEMA and not caps.response_schema:
        refused.append("response_format")
    if not refused:
        return Fitted(request, tuple(advisory))
    if not (deployment.drop_params or request.controls.get("drop_params")):
        raise UnsupportedParameterError(
            f"{provider or deployment.provider} does not support the parameter '{refused[0]}' for model "
            f"{deployment.model_name}; send drop_params: true (or set it in the config) to drop it.",
            param=refused[0],
            provider=provider or deployment.provider,
        )
    return Fitted(without(request, refused), (*advisory, *refused))


def without(request: CompletionRequest, names: Collection[str]) -> CompletionRequest:
    """The request with the named parameters taken out: sampling fields unset, tools and formats
    removed, passthrough fields deleted."""
    changes: dict[str, object] = {}
    sampling = {name: None for name in names if name in _SAMPLING_FIELDS}
    if sampling:
        changes["params"] = dataclasses.replace(request.params, **sampling)
    if "tools" in names:
        changes["tools"] = ()
        changes["tool_choice"] = None
    if "tool_choice" in names:
        changes["tool_choice"] = None
    if "response_format" in names:
        changes["response_format"] = None
    if "documents" in names:
        changes["messages"] = tuple(_without_documents(message) for message in request.messages)
    if any(name in request.extra_body for name in names):
        changes["extra_body"] = {k: v for k, v in request.extra_body.items() if k not in names}
    return dataclasses.replace(request, **changes) if changes else request


def with_defaults(request: CompletionRequest, deployment: Deployment) -> CompletionRequest:
    """The request with the deployment's configured defaults where the caller set nothing."""
    if not deployment.extra_params:
        return request
    changes: dict[str, object] = {}
    defaults = {
        name: value
        for name, value in deployment.extra_params.items()
        if name in _SAMPLING_FIELDS and getattr(request.params, name) is None
    }
    if defaults:
        changes["params"] = dataclasses.replace(request.params, **defaults)
    if request.mock_response is None and "mock_response" in deployment.extra_params:
        changes["mock_response"] = str(deployment.extra_params["mock_response"])
    return dataclasses.replace(request, **changes) if changes else request


def _without_documents(message: Message) -> Message:
    if isinstance(message.content, str | None) or not any(
        isinstance(p, DocumentPart) for p in message.content
    ):
        return message
    kept = tuple(part for part in message.content if not isinstance(part, DocumentPart))
    return dataclasses.replace(message, content=kept)


def _has_images(request: CompletionRequest) -> bool:
    return any(
        isinstance(part, ImagePart)
        for message in request.messages
        if not isinstance(message.content, str | None)
        for part in message.content
    )

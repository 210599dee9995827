"""Fitting a request to what a deployment can take: defaults filled in, unsupported features refused
(or dropped, when the deployment says `drop_params`)."""

from __future__ import annotations

import dataclasses

from domain.completions import CompletionRequest, SamplingParams
from domain.deployments import Deployment
from domain.errors import UnsupportedParameterError
from domain.messages import ImagePart

_SAMPLING_FIELDS = frozenset(field.name for field in dataclasses.fields(SamplingParams))


def fit_request(request: CompletionRequest, deployment: Deployment) -> CompletionRequest:
    caps = deployment.capabilities
    changes: dict[str, object] = {}
    if deployment.extra_params:
        defaults = {
            name: value
            for name, value in deployment.extra_params.items()
            if name in _SAMPLING_FIELDS and getattr(request.params, name) is None
        }
        if defaults:
            changes["params"] = dataclasses.replace(request.params, **defaults)
        if request.mock_response is None and "mock_response" in deployment.extra_params:
            changes["mock_response"] = str(deployment.extra_params["mock_response"])
    if request.tools and not caps.tools:
        _refuse_or_drop(deployment, "tools", changes, tools=(), tool_choice=None)
    if request.stream and not caps.streaming:
        raise UnsupportedParameterError(
            f"deployment {deployment.id} of {deployment.model_name} cannot stream", param="stream"
        )
    wants_schema = request.response_format is not None and request.response_format.type == "json_schema"
    if wants_schema and not caps.response_schema:
        _refuse_or_drop(deployment, "response_format", changes, response_format=None)
    if not caps.vision and _has_images(request):
        raise UnsupportedParameterError(
            f"model {deployment.model_name} does not accept images", param="messages"
        )
    return dataclasses.replace(request, **changes) if changes else request


def _refuse_or_drop(
    deployment: Deployment, param: str, changes: dict[str, object], **dropped: object
) -> None:
    if not deployment.drop_params:
        raise UnsupportedParameterError(
            f"model {deployment.model_name} does not support {param}; set drop_params to drop it",
            param=param,
        )
    changes.update(dropped)


def _has_images(request: CompletionRequest) -> bool:
    return any(
        isinstance(part, ImagePart)
        for message in request.messages
        if not isinstance(message.content, str | None)
        for part in message.content
    )

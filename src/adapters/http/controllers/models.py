"""GET /v1/models (the public model names) and GET /v1/model/info (LiteLLM's per-deployment view, with
each deployment's live routing state)."""

from __future__ import annotations

import orjson
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from adapters.http.controllers.health import render_reason
from adapters.http.exchange import JSON, public_url
from adapters.http.principal import principal_of
from application.catalog import ModelCatalog
from application.health import DeploymentState, DeploymentStates
from domain.access import Principal, may_use_model
from domain.deployments import Capabilities, Deployment, ModelGroup
from domain.pricing import ModelPrices

_FEATURES = ("chat", "embeddings", "streaming", "tools", "vision", "response_schema", "reasoning")


def _features(capabilities: list[Capabilities]) -> dict[str, bool]:
    # A model name promises a feature only when every deployment behind it has it.
    return {name: all(getattr(c, name) for c in capabilities) for name in _FEATURES}


def _model_object(group: ModelGroup, created: int) -> dict[str, object]:
    return {
        "id": group.name,
        "object": "model",
        "created": created,
        "owned_by": "switchyard",
        "capabilities": _features([d.capabilities for d in group.deployments]),
    }


def _deployment_info(deployment: Deployment) -> dict[str, object]:
    """LiteLLM's shape; never a credential."""
    caps, prices = deployment.capabilities, deployment.prices
    return {
        "model_name": deployment.model_name,
        "litellm_params": {
            "model": f"{deployment.provider}/{deployment.upstream_model}",
            "api_base": public_url(deployment.api_base),
        },
        "model_info": {
            "id": deployment.id,
            "mode": "embedding" if caps.embeddings and not caps.chat and caps.mode == "chat" else caps.mode,
            "litellm_provider": deployment.provider,
            "supports_native_streaming": caps.streaming,
            "supports_function_calling": caps.tools,
            "supports_vision": caps.vision,
            "supports_response_schema": caps.response_schema,
            "supports_reasoning": caps.reasoning,
            "supports_embeddings": caps.embeddings,
            "max_input_tokens": caps.max_input_tokens,
            "max_output_tokens": caps.max_output_tokens,
            **_price_info(prices),
        },
    }


# LiteLLM's model_info key for each price (a deployment's own prices come from these keys in the config).
_PRICE_KEYS = (
    ("input_cost_per_token", "input"),
    ("output_cost_per_token", "output"),
    ("cache_read_input_token_cost", "cache_read"),
    ("cache_creation_input_token_cost", "cache_write"),
    ("output_cost_per_reasoning_token", "reasoning"),
    ("input_cost_per_request", "per_request"),
    ("input_cost_per_query", "per_query"),
    ("input_cost_per_second", "per_second"),
    ("input_cost_per_character", "per_character"),
    ("input_cost_per_image", "input_per_image"),
    ("output_cost_per_image", "output_per_image"),
    ("input_cost_per_token_above_200k_tokens", "input_above_tier"),
    ("output_cost_per_token_above_200k_tokens", "output_above_tier"),
    ("cache_read_input_token_cost_above_200k_tokens", "cache_read_above_tier"),
    ("cache_creation_input_token_cost_above_200k_tokens", "cache_write_above_tier"),
)


def _price_info(prices: ModelPrices) -> dict[str, float | None]:
    """The prices the config sets, as LiteLLM shows them (floats, None when unset)."""
    shown = {key: getattr(prices, name) for key, name in _PRICE_KEYS}
    return {key: None if value is None else float(value) for key, value in shown.items()}


def _state(state: DeploymentState) -> dict[str, object]:
    load = state.load
    return {
        "healthy": state.healthy,
        "cooldown_until": state.cooling_down_until,
        "cooldown_reason": render_reason(reason) if (reason := state.cooldown_reason) else None,
        "in_flight": load.in_flight,
        "minute_requests": load.minute_requests,
        "minute_tokens": load.minute_tokens,
        "latency_ms": None if load.latency is None else round(load.latency * 1000, 3),
    }


def usable_groups(catalog: ModelCatalog, principal: Principal) -> list[ModelGroup]:
    """The model names `principal` may use (the console's playground offers the same list)."""
    groups = catalog.access_groups()
    return [group for group in catalog.groups() if may_use_model(principal, group.name, groups)]


class ModelsController(Controller):
    @get(["/v1/models", "/models"])
    async def list_models(self, request: Request, catalog: NamedDependency[ModelCatalog]) -> Response:
        # Only the models this caller may use, as LiteLLM lists them for a key.
        data = [
            _model_object(group, catalog.created) for group in usable_groups(catalog, principal_of(request))
        ]
        return Response(orjson.dumps({"object": "list", "data": data}), media_type=JSON)

    @get(["/v1/models/{model:path}", "/models/{model:path}"])
    async def get_model(self, model: FromPath[str], catalog: NamedDependency[ModelCatalog]) -> Response:
        group = catalog.group(model.lstrip("/"))
        return Response(orjson.dumps(_model_object(group, catalog.created)), media_type=JSON)

    @get(["/v1/model/info", "/model/info"])
    async def model_info(self, deployment_states: NamedDependency[DeploymentStates]) -> Response:
        data = [_deployment_info(s.deployment) | {"state": _state(s)} for s in await deployment_states.read()]
        return Response(orjson.dumps({"data": data}), media_type=JSON)

"""POST /model/new, /model/update, /model/delete: deployments stored in the database (LiteLLM's routes)."""

from __future__ import annotations

from typing import Any

import orjson
from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency

from adapters.http.exchange import JSON, read_json
from adapters.http.principal import principal_of
from application.models import ModelRegistry, public_params
from domain.deployments import Deployment
from domain.errors import BadRequestError


def _object(body: object) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequestError("The request body must be a JSON object.", code="invalid_json")
    return body


def _mapping(body: dict[str, Any], name: str, *, required: bool = False) -> dict[str, Any] | None:
    value = body.get(name)
    if value is None:
        if required:
            raise BadRequestError(f"{name} is required.", param=name)
        return None
    if not isinstance(value, dict):
        raise BadRequestError(f"{name} must be an object.", param=name)
    return value


def _text(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise BadRequestError(f"{name} must be a non-empty string.", param=name)
    return value


def _shown(deployment: Deployment, registry: ModelRegistry) -> dict[str, Any]:
    stored = registry.record(deployment.id)
    params = public_params(stored.litellm_params) if stored else {}
    return {
        "model_id": deployment.id,
        "model_name": deployment.model_name,
        "litellm_params": params,
        "model_info": dict(stored.model_info) if stored else {"id": deployment.id},
    }


class ModelAdminController(Controller):
    @post("/model/new", status_code=200)
    async def new(self, request: Request, models: NamedDependency[ModelRegistry]) -> Response:
        body = _object(await read_json(request))
        deployment = await models.add(
            principal_of(request),
            _text(body, "model_name", required=True) or "",
            _mapping(body, "litellm_params", required=True) or {},
            _mapping(body, "model_info") or {},
        )
        return Response(orjson.dumps(_shown(deployment, models)), media_type=JSON)

    @post("/model/update", status_code=200)
    async def update(self, request: Request, models: NamedDependency[ModelRegistry]) -> Response:
        body = _object(await read_json(request))
        info = _mapping(body, "model_info") or {}
        model_id = _text(body, "id") or (str(info["id"]) if info.get("id") else None)
        if not model_id:
            raise BadRequestError("Name the model to update by its model_info.id.", param="model_info.id")
        deployment = await models.update(
            principal_of(request),
            model_id,
            model_name=_text(body, "model_name"),
            params=_mapping(body, "litellm_params"),
            info=info,
        )
        return Response(orjson.dumps(_shown(deployment, models)), media_type=JSON)

    @post("/model/delete", status_code=200)
    async def delete(self, request: Request, models: NamedDependency[ModelRegistry]) -> Response:
        body = _object(await read_json(request))
        model_id = _text(body, "id", required=True) or ""
        await models.delete(principal_of(request), model_id)
        return Response(orjson.dumps({"message": f"Model {model_id} deleted."}), media_type=JSON)

"""GET /v1/models: the public model names."""

from __future__ import annotations

import orjson
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from adapters.http.exchange import JSON
from application.catalog import ModelCatalog
from domain.deployments import ModelGroup


def _model_object(group: ModelGroup, created: int) -> dict[str, object]:
    return {"id": group.name, "object": "model", "created": created, "owned_by": "switchyard"}


class ModelsController(Controller):
    @get(["/v1/models", "/models"])
    async def list_models(self, catalog: NamedDependency[ModelCatalog]) -> Response:
        data = [_model_object(group, catalog.created) for group in catalog.groups()]
        return Response(orjson.dumps({"object": "list", "data": data}), media_type=JSON)

    @get(["/v1/models/{model:path}", "/models/{model:path}"])
    async def get_model(self, model: FromPath[str], catalog: NamedDependency[ModelCatalog]) -> Response:
        group = catalog.group(model.lstrip("/"))
        return Response(orjson.dumps(_model_object(group, catalog.created)), media_type=JSON)

"""The OpenAPI 3.1 document of a running app, assembled from its routes and openapi_operations.

Handlers read raw JSON bodies, so Litestar cannot infer their schemas (and its own generation stays off,
for start time): the paths and methods come from the app's route table, the schemas from the pydantic
models that validate the bodies, or hand-written ones. Built on the first GET /openapi.json, not at
startup."""

from __future__ import annotations

import re
from typing import Any

from litestar.routes import HTTPRoute
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from adapters.http.app import Gateway
from adapters.http.controllers.health import package_version
from adapters.http.openapi_operations import OBJECT, OPERATIONS, Operation, Schema

_PARAMETER = re.compile(r"\{(\w+):\w+\}")
_UNDOCUMENTED = frozenset({"HEAD", "OPTIONS"})
_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}
_STREAMED = "OK; with `stream: true`, server-sent events, each `data:` as the event schema says."
_DESCRIPTION = (
    "Switchyard, an LLM gateway: OpenAI, Anthropic and Responses formats for every model, and LiteLLM's "
    "management API. Every route but the probes and this reference needs a virtual key or the master key "
    "(`Authorization: Bearer`, `x-api-key`, ...); management routes need an admin."
)


def served_operations(app: Gateway) -> list[tuple[str, str, str]]:
    """(OpenAPI path, method, handler name) of every route the app serves, HEAD and OPTIONS aside, and
    those marked `include_in_schema=False` (the admin console's pages, which are HTML, not API); those it
    registers later included (registered now)."""
    app.complete()
    served = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        path = _PARAMETER.sub(r"{\1}", route.path)
        for method, (handler, _) in sorted(route.route_handler_map.items()):
            if method not in _UNDOCUMENTED and handler.resolve_include_in_schema():
                served.append((path, method.lower(), handler.fn.__qualname__))
    return served


def build_openapi(app: Gateway) -> dict[str, Any]:
    served = served_operations(app)
    schemas, refs = _component_schemas([OPERATIONS[name] for _, _, name in served if name in OPERATIONS])
    paths: dict[str, dict[str, Any]] = {}
    for path, method, name in served:
        operation = OPERATIONS.get(name) or Operation(
            name, "undescribed", OBJECT if method != "get" else None
        )
        paths.setdefault(path, {})[method] = _operation(path, method, name, operation, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Switchyard", "version": package_version(), "description": _DESCRIPTION},
        "paths": paths,
        "components": {
            "schemas": {**schemas, "Error": _ERROR},
            "responses": {
                "Error": {
                    "description": "An error in OpenAI's shape",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            },
        },
        "security": [{"bearer": []}, {"apiKey": []}],
    }


_Refs = dict[tuple[type[BaseModel], JsonSchemaMode], dict[str, Any]]


def _component_schemas(operations: list[Operation]) -> tuple[dict[str, Any], _Refs]:
    wanted: set[tuple[type[BaseModel], JsonSchemaMode]] = set()
    for operation in operations:
        for schema, mode in ((operation.body, "validation"), (operation.reply, "serialization")):
            if isinstance(schema, type):
                wanted.add((schema, mode))
        if isinstance(operation.stream, type):
            wanted.add((operation.stream, "serialization"))
    ordered = sorted(wanted, key=lambda pair: (pair[0].__qualname__, pair[1]))
    refs, definitions = models_json_schema(ordered, ref_template="#/components/schemas/{model}")
    return definitions.get("$defs", {}), dict(refs)


def _schema(schema: Schema, mode: JsonSchemaMode, refs: _Refs) -> dict[str, Any]:
    return refs[(schema, mode)] if isinstance(schema, type) else schema


def _operation(path: str, method: str, name: str, operation: Operation, refs: _Refs) -> dict[str, Any]:
    content: dict[str, Any] = {}
    if operation.reply is not None:
        content[operation.media_type] = {"schema": _schema(operation.reply, "serialization", refs)}
    if operation.stream is not None:
        content["text/event-stream"] = {"schema": _schema(operation.stream, "serialization", refs)}
    described: dict[str, Any] = {
        "operationId": f"{name}.{method}:{path}",
        "summary": operation.summary,
        "tags": [operation.tag],
        "responses": {
            "200": {
                "description": _STREAMED if operation.stream else "OK",
                **({"content": content} if content else {}),
            },
            "default": {"$ref": "#/components/responses/Error"},
        },
    }
    parameters = [
        {"name": parameter, "in": "path", "required": True, "schema": {"type": "string"}}
        for parameter in re.findall(r"\{(\w+)\}", path)
    ]
    parameters += [
        {"name": q.name, "in": "query", "required": q.required, "schema": q.schema} for q in operation.query
    ]
    if parameters:
        described["parameters"] = parameters
    if operation.body is not None:
        described["requestBody"] = {
            "required": operation.body_required,
            "content": {operation.body_media_type: {"schema": _schema(operation.body, "validation", refs)}},
        }
    if operation.public:
        described["security"] = []
    return described

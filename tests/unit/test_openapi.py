"""GET /openapi.json and /docs, through the app the composition root builds."""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from adapters.config.loader import load_config
from adapters.http.controllers import docs
from adapters.http.openapi import served_operations
from adapters.http.openapi_operations import OPERATIONS
from bootstrap import build_container, create_http_app

MASTER_KEY = "sk-master-docs"


def _app(**general: Any):
    config = load_config(
        {
            "model_list": [{"model_name": "demo", "litellm_params": {"model": "mock/demo"}}],
            "general_settings": {"master_key": MASTER_KEY, **general},
        },
        {"DATABASE_URL": "memory://"},
    )
    return create_http_app(build_container(config))


@pytest.fixture
async def client() -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(_app()) as test_client:
        yield test_client


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


async def test_the_document_is_openapi_3_1_with_every_reference_resolved(client) -> None:
    response = await client.get("/openapi.json")  # no key: served openly, as LiteLLM serves /docs

    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"] == "3.1.0"
    assert spec["info"]["title"] == "Switchyard" and spec["info"]["version"]
    assert set(spec["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    for path, item in spec["paths"].items():
        assert path.startswith("/") and ":" not in path
        for method, operation in item.items():
            assert method in {"get", "post", "put", "patch", "delete"}
            assert operation["summary"] and operation["tags"] and "200" in operation["responses"]
            named = set(re.findall(r"\{(\w+)\}", path))
            assert {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"} == named
    operation_ids = [op["operationId"] for item in spec["paths"].values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))
    for ref in _refs(spec):
        section, name = ref.removeprefix("#/components/").split("/")
        assert name in spec["components"][section], ref


async def test_every_route_the_app_serves_is_in_the_document_and_described(client) -> None:
    spec = (await client.get("/openapi.json")).json()
    served = served_operations(client.app)

    assert {(path, method) for path, method, _ in served} == {
        (path, method) for path, item in spec["paths"].items() for method in item
    }
    # A route added without an entry in openapi_operations.OPERATIONS fails here until it is described.
    assert sorted({name for _, _, name in served} - set(OPERATIONS)) == []
    assert {"/v1/chat/completions", "/v1/messages", "/v1/responses", "/key/generate", "/team/new"} <= set(
        spec["paths"]
    )


def _query_names_read(handler: Any) -> set[str]:
    """The query parameters a handler reads through the `query*` helpers or `query_params.get`, itself or
    in the functions of its module it calls (one level down is as deep as the controllers go)."""
    module = inspect.getmodule(handler)
    tree = ast.parse(inspect.getsource(module))
    functions = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    read: set[str] = set()
    pending, seen = [functions[handler.__name__]], {handler.__name__}
    while pending:
        for node in ast.walk(pending.pop()):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            literal = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if (name.startswith(("query", "required_query")) or _reads_query_params(node.func)) and literal:
                read.add(literal[0])
            elif isinstance(node.func, ast.Name) and name in functions and name not in seen:
                seen.add(name)
                pending.append(functions[name])
    return read


def _reads_query_params(func: ast.expr) -> bool:
    """`request.query_params.get(...)`, or `.get` on what the query params were passed as (`params`,
    `query`)."""
    if not isinstance(func, ast.Attribute) or func.attr not in ("get", "getall"):
        return False
    owner = func.value
    return getattr(owner, "attr", None) == "query_params" or getattr(owner, "id", None) in ("params", "query")


async def test_every_query_parameter_a_handler_reads_is_documented(client) -> None:
    client.app.complete()
    for route in client.app.routes:
        for handler, _ in getattr(route, "route_handler_map", {}).values():
            operation = OPERATIONS.get(handler.fn.__qualname__)
            if operation is None or handler.fn.__qualname__.endswith("relay"):
                continue
            documented = {q.name for q in operation.query}
            read = _query_names_read(handler.fn) - {"stream", "include[]"}
            assert read == documented, handler.fn.__qualname__


async def test_management_lists_describe_their_filters(client) -> None:
    spec = (await client.get("/openapi.json")).json()
    parameters = {p["name"]: p for p in spec["paths"]["/key/list"]["get"]["parameters"]}
    assert parameters["team_id"] == {
        "name": "team_id",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
    }
    assert parameters["page"]["schema"]["type"] == "integer"
    assert spec["paths"]["/team/info"]["get"]["parameters"][0]["required"] is True


async def test_chat_is_described_by_the_model_that_validates_it(client) -> None:
    spec = (await client.get("/openapi.json")).json()
    chat = spec["paths"]["/v1/chat/completions"]["post"]

    request = _resolve(spec, chat["requestBody"]["content"]["application/json"]["schema"])
    assert {"model", "messages"} <= set(request["required"]) and "stream" in request["properties"]
    reply = _resolve(spec, chat["responses"]["200"]["content"]["application/json"]["schema"])
    assert {"id", "choices", "usage"} <= set(reply["properties"])
    assert "text/event-stream" in chat["responses"]["200"]["content"]
    key = _resolve(
        spec, spec["paths"]["/key/generate"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    )
    assert "max_budget" in key["properties"]
    assert spec["paths"]["/health/liveliness"]["get"]["security"] == []
    assert "security" not in spec["paths"]["/key/generate"]["post"]  # the document's default: a key


async def test_the_reference_is_a_page_whose_assets_are_all_served_locally(client) -> None:
    page = await client.get("/docs")

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(asset.startswith("/docs/") for asset in assets)
    for asset in assets:
        served = await client.get(asset)
        assert served.status_code == 200 and len(served.content) > 100, asset
        assert "cache-control" in served.headers
    assert "/openapi.json" in (await client.get("/docs/docs.js")).text
    assert (await client.get("/docs/nothing.js")).status_code == 404


async def test_docs_false_hides_the_document_and_the_reference() -> None:
    async with AsyncTestClient(_app(docs=False)) as client:
        for path in ("/openapi.json", "/docs", "/docs/swagger-ui.css"):
            response = await client.get(path, headers={"Authorization": f"Bearer {MASTER_KEY}"})
            assert response.status_code == 404, path
            assert response.json()["error"]["type"]


async def test_the_document_is_built_on_its_first_request_not_at_startup(monkeypatch) -> None:
    builds = []

    def counting(app):
        builds.append(app)
        return real(app)

    real = docs.build_openapi
    monkeypatch.setattr(docs, "build_openapi", counting)
    async with AsyncTestClient(_app()) as client:
        assert (await client.get("/health/liveliness")).status_code == 200
        assert builds == []
        first = await client.get("/openapi.json")
        second = await client.get("/openapi.json")

    assert len(builds) == 1 and first.content == second.content

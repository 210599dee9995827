"""GET /openapi.json and the interactive reference at GET /docs (Swagger UI, vendored under static/docs).

No key needed, as in LiteLLM; the document lists the management routes too (they still need an admin
key). Both are built on their first request and kept: nothing of them is done at startup."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import orjson
from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from adapters.http.exchange import JSON

if TYPE_CHECKING:
    from adapters.http.app import Gateway

_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "docs.js": "text/javascript; charset=utf-8",
}
_CACHED = {"cache-control": "public, max-age=86400"}


@cache
def _asset(name: str) -> bytes:
    return files("adapters.http").joinpath("static", "docs", name).read_bytes()


def build_openapi(app: Gateway) -> dict[str, Any]:
    """The document (adapters.http.openapi), loaded on the first request for it: its schemas are every
    request model's, with pydantic's JSON-schema machinery, ~50 ms of a start that may never serve it.
    The routes the app registers later are registered first, if they are not yet."""
    from adapters.http.openapi import build_openapi as build

    return build(app)


class DocsController(Controller):
    @get("/openapi.json")
    async def openapi(self, request: Request) -> Response:
        state = request.app.state
        if "openapi" not in state:
            state["openapi"] = orjson.dumps(build_openapi(request.app))
        return Response(state["openapi"], media_type=JSON)

    @get("/docs")
    async def page(self) -> Response:
        return Response(_asset("index.html"), media_type="text/html; charset=utf-8")

    @get("/docs/{asset:str}")
    async def asset(self, asset: FromPath[str]) -> Response:
        if asset not in _ASSETS:
            raise NotFoundException()
        return Response(_asset(asset), media_type=_ASSETS[asset], headers=_CACHED)

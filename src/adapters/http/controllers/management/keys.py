"""/key/*: LiteLLM's virtual key management."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from adapters.http.controllers.management import render
from adapters.http.controllers.management.requests import (
    answer,
    query,
    query_flag,
    query_int,
    read_body,
    validate,
)
from adapters.http.controllers.management.schemas import (
    DeleteKeys,
    GenerateKey,
    KeyRef,
    RegenerateKey,
    UpdateKey,
)
from adapters.http.exchange import read_json
from adapters.http.principal import principal_of
from application.management import Management
from domain.errors import BadRequestError


class KeyController(Controller):
    path = "/key"

    @post("/generate", status_code=200)
    async def generate(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, GenerateKey)
        return answer(render.issued(await management.keys.generate(principal_of(request), body.fields())))

    @post("/update", status_code=200)
    async def update(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, UpdateKey)
        key = await management.keys.update(principal_of(request), body.key, body.fields(drop={"key"}))
        return answer({**render.key(key), "key": body.key})

    @post("/regenerate", status_code=200)
    async def regenerate(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, RegenerateKey)
        if not body.key:
            raise BadRequestError("key is required: the key to regenerate", param="key")
        return await self._regenerate(request, management, body.key, body)

    @post("/{key_ref:str}/regenerate", status_code=200)
    async def regenerate_path(
        self, request: Request, key_ref: FromPath[str], management: NamedDependency[Management]
    ) -> Response:
        raw = await request.body()
        body = validate(RegenerateKey, await read_json(request)) if raw.strip() else RegenerateKey()
        return await self._regenerate(request, management, key_ref, body)

    async def _regenerate(
        self, request: Request, management: Management, ref: str, body: RegenerateKey
    ) -> Response:
        made = await management.keys.regenerate(principal_of(request), ref, body.fields(drop={"key"}))
        return answer(render.issued(made))

    @get("/info")
    async def info(self, request: Request, management: NamedDependency[Management]) -> Response:
        ref = query(request, "key")
        key = await management.keys.info(principal_of(request), ref)
        return answer(render.key_info(ref or key.token, key))

    @get("/list")
    async def list_keys(self, request: Request, management: NamedDependency[Management]) -> Response:
        page = await management.keys.list(
            principal_of(request),
            user_id=query(request, "user_id"),
            team_id=query(request, "team_id"),
            organization_id=query(request, "organization_id"),
            key_alias=query(request, "key_alias"),
            page=query_int(request, "page", 1),
            size=query_int(request, "size", 10),
        )
        return answer(render.key_page(page, full=query_flag(request, "return_full_object")))

    @post("/delete", status_code=200)
    async def delete(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, DeleteKeys)
        deleted = await management.keys.delete(principal_of(request), body.keys or (), body.key_aliases or ())
        return answer({"deleted_keys": deleted})

    @post("/block", status_code=200)
    async def block(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, KeyRef)
        return answer(render.key(await management.keys.block(principal_of(request), body.key, True)))

    @post("/unblock", status_code=200)
    async def unblock(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, KeyRef)
        return answer(render.key(await management.keys.block(principal_of(request), body.key, False)))

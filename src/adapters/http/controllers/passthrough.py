"""/openai/*, /anthropic/*, /gemini/*, /cohere/*, /mistral/*, /azure/*: each provider's own API, relayed."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qsl, urlencode

from litestar import Controller, Request, Response, route
from litestar.di import NamedDependency
from litestar.enums import HttpMethod
from litestar.response import Stream

from adapters.http.errors import error_response
from adapters.http.principal import principal_of
from application.passthrough import PassThroughCall, PassThroughCalls
from domain.errors import SwitchyardError
from domain.passthrough import PROVIDER_ROUTES

_METHODS = [
    HttpMethod.GET,
    HttpMethod.POST,
    HttpMethod.PUT,
    HttpMethod.PATCH,
    HttpMethod.DELETE,
]


def _query(query: bytes, provider: str) -> str:
    text = query.decode("latin-1")
    if provider != "gemini" or "key=" not in text:
        return text
    # Gemini's clients may put the key in the query: the caller's key never goes upstream.
    return urlencode([(k, v) for k, v in parse_qsl(text, keep_blank_values=True) if k != "key"])


class PassThroughController(Controller):
    @route([f"/{name}/{{path:path}}" for name in PROVIDER_ROUTES], http_method=_METHODS)
    async def relay(self, request: Request, passthrough: NamedDependency[PassThroughCalls]) -> Response:
        scope = request.scope
        provider, _, path = scope["path"].lstrip("/").partition("/")
        call_id = str(uuid.uuid4())
        call = PassThroughCall(
            provider=provider,
            method=scope["method"],
            path="/" + path,
            query=_query(scope["query_string"], provider),
            headers=tuple((n.decode("latin-1"), v.decode("latin-1")) for n, v in scope["headers"]),
            body=await request.body(),
        )
        try:
            relayed = await passthrough.call(principal_of(request), call, call_id=call_id)
        except SwitchyardError as exc:
            return error_response(exc, {"x-switchyard-call-id": call_id}, path=scope["path"])
        headers = {n: v for n, v in relayed.headers if n.lower() != "content-type"}
        headers["x-switchyard-call-id"] = call_id
        media_type = next((v for n, v in relayed.headers if n.lower() == "content-type"), None)
        return Stream(relayed.body, status_code=relayed.status, headers=headers, media_type=media_type)

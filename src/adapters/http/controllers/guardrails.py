"""GET /guardrails/list and POST /guardrails/apply_guardrail (LiteLLM's guardrail routes)."""

from __future__ import annotations

from typing import Any

import orjson
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency

from adapters.http.exchange import JSON, exchange
from adapters.http.principal import principal_of
from application.guardrails import Guardrails
from domain.access import choosable_guardrails
from domain.errors import BadRequestError
from domain.guardrails import GuardrailSpec, require_choosable


def _listed(spec: GuardrailSpec) -> dict[str, Any]:
    """A guardrail as the list shows it: what it is and when it runs, never its settings (a service's
    key, say)."""
    return {
        "guardrail_name": spec.name,
        "litellm_params": {
            "guardrail": spec.kind,
            "mode": [mode.value for mode in spec.modes],
            "default_on": spec.default_on,
        },
        "guardrail_info": {"description": spec.description} if spec.description else {},
    }


class GuardrailsController(Controller):
    @get("/guardrails/list")
    async def list_guardrails(
        self, request: Request, guardrails: NamedDependency[Guardrails | None]
    ) -> Response:
        """The guardrails the caller may use: all for the master key and admins and for a key that lists
        none, else those on by default and those its key and team list."""
        specs = guardrails.specs if guardrails is not None else ()
        choosable = choosable_guardrails(principal_of(request))
        shown = [s for s in specs if choosable is None or s.default_on or s.name in choosable]
        return Response(orjson.dumps({"guardrails": [_listed(s) for s in shown]}), media_type=JSON)

    @post("/guardrails/apply_guardrail", status_code=200)
    async def apply_guardrail(
        self, request: Request, guardrails: NamedDependency[Guardrails | None]
    ) -> Response:
        """`{guardrail_name, text}` -> `{response_text}`: one guardrail run on a text, no model called; a
        block answers 400 guardrail_violation."""

        async def handle(body: object, call_id: str, started: float) -> Response:
            name, text = _apply_body(body)
            configured = guardrails.get(name) if guardrails is not None else None
            if configured is None or guardrails is None:
                raise BadRequestError(
                    f"guardrail_name: no guardrail is named '{name}'", param="guardrail_name"
                )
            choosable = choosable_guardrails(principal_of(request))
            if choosable is not None and name not in choosable and not configured.spec.default_on:
                require_choosable((name,), choosable)
            out, _ = await guardrails.apply(name, text)
            return Response(orjson.dumps({"response_text": out}), media_type=JSON)

        return await exchange(request, handle)


def _apply_body(body: object) -> tuple[str, str]:
    if not isinstance(body, dict):
        raise BadRequestError("The body must be a JSON object with guardrail_name and text.")
    name, text = body.get("guardrail_name"), body.get("text")
    if not isinstance(name, str) or not name:
        raise BadRequestError("guardrail_name is required (a string)", param="guardrail_name")
    if not isinstance(text, str):
        raise BadRequestError("text is required (a string)", param="text")
    return name, text

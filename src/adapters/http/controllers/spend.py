"""LiteLLM's spend routes (/spend/*, /global/spend/*, /user/daily/activity, /team/daily/activity) and
/utils/token_counter, over `application.spend_reports.SpendDesk`. Every flaw of a request is a 400
naming its field."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency

from adapters.http.controllers import spend_render as render
from adapters.http.controllers.management.requests import answer, query, query_int, query_list
from adapters.http.exchange import read_json
from adapters.http.principal import principal_of
from adapters.openai_format.requests import parse_chat_request
from application.spend_reports import SpendDesk
from application.spend_rollups import group_by_named
from domain.completions import CompletionRequest, Usage
from domain.errors import BadRequestError


def query_date(request: Request, name: str) -> date | None:
    """`YYYY-MM-DD` as a day; a moment (`YYYY-MM-DD HH:MM:SS`, ISO 8601) as a datetime."""
    value = query(request, name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    except ValueError:
        raise BadRequestError(
            f"{name} must be a date (YYYY-MM-DD) or a time (YYYY-MM-DD HH:MM:SS), got {value!r}", param=name
        ) from None


async def _object(request: Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequestError("The request body must be a JSON object", code="invalid_json")
    return body


def _chat(model: object, messages: object) -> CompletionRequest:
    if messages is None:
        raise BadRequestError("messages is required with model", param="messages")
    return parse_chat_request({"model": model, "messages": messages})


def _count(found: Mapping[str, Any], name: str, where: str) -> int:
    value = found.get(name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadRequestError(f"{where}.{name} must be a whole number of 0 or more", param=f"{where}.{name}")
    return value


def _part(found: Mapping[str, Any], name: str, where: str) -> Mapping[str, Any]:
    value = found.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequestError(f"{where}.{name} must be an object", param=f"{where}.{name}")
    return value


def read_usage(reply: Mapping[str, Any]) -> Usage:
    """A chat completion's `usage`, OpenAI's counts or Anthropic's cache counts as LiteLLM passes them."""
    where = "completion_response.usage"
    usage = _part(reply, "usage", "completion_response")
    if not usage:
        raise BadRequestError(f"{where} is required: the reply's token counts", param=where)
    prompt = _part(usage, "prompt_tokens_details", where)
    completion = _part(usage, "completion_tokens_details", where)
    return Usage(
        prompt_tokens=_count(usage, "prompt_tokens", where),
        completion_tokens=_count(usage, "completion_tokens", where),
        cached_tokens=_count(prompt, "cached_tokens", f"{where}.prompt_tokens_details")
        or _count(usage, "cache_read_input_tokens", where),
        cache_creation_tokens=_count(prompt, "cache_write_tokens", f"{where}.prompt_tokens_details")
        or _count(usage, "cache_creation_input_tokens", where),
        reasoning_tokens=_count(completion, "reasoning_tokens", f"{where}.completion_tokens_details"),
    )


class SpendController(Controller):
    @get("/spend/logs")
    async def logs(self, request: Request, spend: NamedDependency[SpendDesk]) -> Response:
        found = await spend.logs.recent(principal_of(request), **_log_filters(request))
        return answer([render.log(r) for r in found])

    @get(["/spend/logs/v2", "/spend/logs/ui"])
    async def logs_page(self, request: Request, spend: NamedDependency[SpendDesk]) -> Response:
        page = await spend.logs.page(
            principal_of(request),
            **_log_filters(request),
            page=query_int(request, "page", 1),
            size=query_int(request, "page_size", 50),
        )
        return answer(render.log_page(page))

    @post("/spend/calculate", status_code=200)
    async def calculate(self, request: Request, spend: NamedDependency[SpendDesk]) -> Response:
        body, principal = await _object(request), principal_of(request)
        reply = body.get("completion_response")
        if reply is not None:
            if not isinstance(reply, dict):
                raise BadRequestError("completion_response must be an object", param="completion_response")
            model = body.get("model") or reply.get("model")
            if not isinstance(model, str) or not model:
                raise BadRequestError(
                    "completion_response.model is required", param="completion_response.model"
                )
            cost = await spend.calculator.of_usage(principal, model, read_usage(reply))
        elif body.get("model") is not None:
            cost = await spend.calculator.of_request(principal, _chat(body["model"], body.get("messages")))
        else:
            raise BadRequestError("Send model with messages, or a completion_response", param="model")
        return answer({"cost": render.money(cost)})

    @get("/global/spend/report")
    async def report(self, request: Request, spend: NamedDependency[SpendDesk]) -> Response:
        api_key, user_id = query(request, "api_key"), query(request, "internal_user_id")
        # LiteLLM answers by key when a key or a user is named and no grouping is asked for.
        default = "api_key" if api_key or user_id else "team"
        found = await spend.report.report(
            principal_of(request),
            group_by=group_by_named(query(request, "group_by") or default),
            start=query_date(request, "start_date"),
            end=query_date(request, "end_date"),
            api_key=api_key,
            user_id=user_id,
            team_id=query(request, "team_id"),
            end_user=query(request, "customer_id"),
        )
        return answer(render.report(found))

    @post("/global/spend/reset", status_code=200)
    async def reset(self, request: Request, spend: NamedDependency[SpendDesk]) -> Response:
        await spend.reset.reset(principal_of(request))
        return answer({"message": "Spend for all API Keys and Teams reset successfully", "status": "success"})

    @get("/user/daily/activity")
    async def user_activity(self, request: Request, spend: NamedDependency[SpendDesk]) -> Response:
        found = await spend.activity.of_users(
            principal_of(request),
            user_id=query(request, "user_id"),
            **_activity_filters(request),
        )
        return answer(render.activity(found))

    @get("/team/daily/activity")
    async def team_activity(self, request: Request, spend: NamedDependency[SpendDesk]) -> Response:
        found = await spend.activity.of_teams(
            principal_of(request),
            team_ids=query_list(request, "team_ids"),
            **_activity_filters(request),
        )
        return answer(render.activity(found))


def _log_filters(request: Request) -> dict[str, Any]:
    return {
        "api_key": query(request, "api_key"),
        "user_id": query(request, "user_id"),
        "team_id": query(request, "team_id"),
        "request_id": query(request, "request_id"),
        "start": query_date(request, "start_date"),
        "end": query_date(request, "end_date"),
    }


def _activity_filters(request: Request) -> dict[str, Any]:
    return {
        "start": query_date(request, "start_date"),
        "end": query_date(request, "end_date"),
        "api_key": query(request, "api_key"),
        "model": query(request, "model"),
        "page": query_int(request, "page", 1),
        "size": query_int(request, "page_size", 50),
    }


class TokenCounterController(Controller):
    @post("/utils/token_counter", status_code=200)
    async def count(self, request: Request, spend: NamedDependency[SpendDesk]) -> Response:
        body, principal = await _object(request), principal_of(request)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise BadRequestError("model is required", param="model")
        if body.get("messages") is not None:
            counted = spend.tokens.of_request(principal, _chat(model, body["messages"]))
        elif body.get("prompt") is not None:
            prompt = body["prompt"]
            if not isinstance(prompt, str):
                raise BadRequestError("prompt must be a string", param="prompt")
            counted = spend.tokens.of_text(principal, model, prompt)
        else:
            raise BadRequestError("Send messages or a prompt to count", param="messages")
        return answer(
            {
                "total_tokens": counted.total_tokens,
                "request_model": counted.request_model,
                "model_used": counted.model_used,
                "tokenizer_type": "openai_tokenizer",
            }
        )


spend_controllers = [SpendController, TokenCounterController]
"""Mount these with a `spend` dependency providing `application.spend_reports.SpendDesk`."""

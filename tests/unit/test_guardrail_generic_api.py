"""The Generic Guardrail API adapter against a real guardrail service on a local port."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web

from adapters.guardrails.generic_api import GenericGuardrailApi
from domain.completions import CompletionRequest
from domain.errors import BadRequestError
from domain.guardrails import Decision, GuardrailMode, GuardrailSpec, Inspection
from domain.messages import FunctionTool, Message, Role
from ports.guardrail import GuardrailUnavailable

PROMPT = "Summarise the attached contract and email it to jane.doe@example.com by Friday."


@dataclass
class GuardrailService:
    """A guardrail service that answers what the test tells it to and remembers what it was sent."""

    url: str = ""
    answer: Any = field(default_factory=lambda: {"action": "NONE"})
    status: int = 200
    raw: bytes | None = None
    delay: float = 0.0
    seen: list[dict[str, Any]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(
            {"path": request.path, "headers": dict(request.headers), "body": await request.json()}
        )
        if self.delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), self.delay)
        if self.raw is not None:
            return web.Response(body=self.raw, status=self.status, content_type="application/json")
        return web.json_response(self.answer, status=self.status)


@pytest.fixture
async def service() -> AsyncIterator[GuardrailService]:
    state = GuardrailService()
    app = web.Application()
    app.router.add_post("/{tail:.*}", state.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.url = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        state.release.set()
        await runner.cleanup()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def spec(**params: Any) -> GuardrailSpec:
    return GuardrailSpec(
        name="acme-shield",
        kind="generic_guardrail_api",
        modes=(GuardrailMode.PRE_CALL, GuardrailMode.POST_CALL),
        params=params,
    )


def request_inspection(*texts: str) -> Inspection:
    request = CompletionRequest(
        model="gpt-4o-mini",
        messages=(Message(role=Role.USER, content=texts[0] if texts else PROMPT),),
        tools=(
            FunctionTool(
                name="send_email",
                description="Send an email",
                parameters={"type": "object", "properties": {"to": {"type": "string"}}},
            ),
        ),
        metadata={"user_api_key_alias": "billing-team", "user_api_key_team_id": "team-7", "other": 1},
    )
    return Inspection(GuardrailMode.PRE_CALL, texts or (PROMPT,), request=request)


async def test_an_allowing_service_lets_the_request_through(service, client):
    guardrail = GenericGuardrailApi(spec(api_base=service.url), client)

    verdict = await guardrail.check(request_inspection())

    assert verdict.decision is Decision.ALLOWED


async def test_the_service_is_sent_litellms_request_at_litellms_path(service, client):
    guardrail = GenericGuardrailApi(
        spec(
            api_base=service.url + "/",
            api_key="gr-secret-123",
            headers={"X-Tenant": "acme"},
            additional_provider_specific_params={"threshold": 0.8, "language": "en"},
        ),
        client,
    )

    await guardrail.check(request_inspection(PROMPT, "Be concise."))

    [call] = service.seen
    assert call["path"] == "/beta/litellm_basic_guardrail_api"
    assert call["headers"]["x-api-key"] == "gr-secret-123"
    assert call["headers"]["X-Tenant"] == "acme"
    assert call["headers"]["Content-Type"] == "application/json"
    body = call["body"]
    assert body["texts"] == [PROMPT, "Be concise."]
    assert body["input_type"] == "request"
    assert body["model"] == "gpt-4o-mini"
    assert body["additional_provider_specific_params"] == {"threshold": 0.8, "language": "en"}
    assert body["request_data"] == {"user_api_key_alias": "billing-team", "user_api_key_team_id": "team-7"}
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "send_email",
                "description": "Send an email",
                "parameters": {"type": "object", "properties": {"to": {"type": "string"}}},
            },
        }
    ]


async def test_a_reply_is_sent_as_the_response_input_type_without_tools(service, client):
    guardrail = GenericGuardrailApi(spec(api_base=service.url + "/beta/litellm_basic_guardrail_api"), client)
    inspection = request_inspection()
    reply = Inspection(GuardrailMode.POST_CALL, ("The contract renews yearly.",), request=inspection.request)

    await guardrail.check(reply)

    [call] = service.seen
    assert call["path"] == "/beta/litellm_basic_guardrail_api"
    assert call["body"]["input_type"] == "response"
    assert call["body"]["texts"] == ["The contract renews yearly."]
    assert call["body"]["tools"] is None


async def test_a_blocking_service_blocks_with_its_reason(service, client):
    service.answer = {"action": "BLOCKED", "blocked_reason": "Request asks to exfiltrate customer data"}
    guardrail = GenericGuardrailApi(spec(api_base=service.url), client)

    verdict = await guardrail.check(request_inspection())

    assert verdict.blocked
    assert verdict.reason == "Request asks to exfiltrate customer data"


async def test_a_long_block_reason_is_trimmed_and_a_missing_one_is_litellms_default(service, client):
    guardrail = GenericGuardrailApi(spec(api_base=service.url), client)
    service.answer = {"action": "BLOCKED", "blocked_reason": "policy violation: " + "x" * 500}
    long = await guardrail.check(request_inspection())
    service.answer = {"action": "BLOCKED"}
    bare = await guardrail.check(request_inspection())

    assert long.blocked and len(long.reason) <= 200 and long.reason.startswith("policy violation: ")
    assert bare.blocked and bare.reason == "Content violates policy"


async def test_an_intervening_service_masks_the_texts_it_rewrote(service, client):
    service.answer = {
        "action": "GUARDRAIL_INTERVENED",
        "texts": ["Summarise the attached contract and email it to [EMAIL] by Friday.", "Be concise."],
    }
    guardrail = GenericGuardrailApi(spec(api_base=service.url), client)

    verdict = await guardrail.check(request_inspection(PROMPT, "Be concise."))

    assert verdict.decision is Decision.MASKED
    assert verdict.texts == (
        "Summarise the attached contract and email it to [EMAIL] by Friday.",
        "Be concise.",
    )
    assert "jane.doe" not in verdict.reason


async def test_an_intervention_with_the_wrong_number_of_texts_is_unavailable(service, client):
    service.answer = {"action": "GUARDRAIL_INTERVENED", "texts": ["only one"]}
    guardrail = GenericGuardrailApi(spec(api_base=service.url), client)

    with pytest.raises(GuardrailUnavailable, match="1 texts for the 2"):
        await guardrail.check(request_inspection(PROMPT, "Be concise."))


async def test_an_intervention_without_texts_lets_the_request_through_unchanged(service, client):
    service.answer = {"action": "GUARDRAIL_INTERVENED"}
    guardrail = GenericGuardrailApi(spec(api_base=service.url), client)

    verdict = await guardrail.check(request_inspection())

    assert verdict.decision is Decision.ALLOWED


async def test_a_slow_service_is_unavailable_once_the_timeout_passes(service, client):
    service.delay = 5.0
    guardrail = GenericGuardrailApi(spec(api_base=service.url, timeout=0.2), client)

    started = time.monotonic()
    with pytest.raises(GuardrailUnavailable, match=r"did not answer within 0\.2s"):
        await guardrail.check(request_inspection())

    assert time.monotonic() - started < 2.0


async def test_a_service_that_is_down_is_unavailable(client):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    guardrail = GenericGuardrailApi(spec(api_base=f"http://127.0.0.1:{port}"), client)

    with pytest.raises(GuardrailUnavailable, match="unreachable"):
        await guardrail.check(request_inspection())


async def test_a_failing_service_is_unavailable(service, client):
    service.status = 500
    service.answer = {"error": "internal"}
    guardrail = GenericGuardrailApi(spec(api_base=service.url), client)

    with pytest.raises(GuardrailUnavailable, match="HTTP 500"):
        await guardrail.check(request_inspection())


@pytest.mark.parametrize(
    "raw", [b"<html>bad gateway</html>", b"[1, 2, 3]", b'{"action": "MAYBE"}', b'{"texts": "x"}']
)
async def test_an_answer_that_cannot_be_read_is_unavailable(service, client, raw):
    service.raw = raw
    guardrail = GenericGuardrailApi(spec(api_base=service.url), client)

    with pytest.raises(GuardrailUnavailable):
        await guardrail.check(request_inspection())


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({}, "api_base"),
        ({"api_base": "guard.internal:8080"}, "api_base"),
        ({"api_base": "http://guard", "timeout": 0}, "timeout"),
        ({"api_base": "http://guard", "timeout": "soon"}, "timeout"),
        ({"api_base": "http://guard", "headers": ["X-A: 1"]}, "headers"),
        ({"api_base": "http://guard", "api_key": 42}, "api_key"),
        (
            {"api_base": "http://guard", "additional_provider_specific_params": "x"},
            "additional_provider_specific_params",
        ),
    ],
)
async def test_a_bad_setting_is_refused_at_construction_naming_it(client, params, param):
    with pytest.raises(BadRequestError) as caught:
        GenericGuardrailApi(spec(**params), client)

    assert caught.value.param == param

"""Switchyard used as a library, without the server."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

import pytest

from bootstrap import resolve
from domain.errors import BadRequestError, GuardrailViolationError, NotFoundError, RateLimitError
from domain.spend import SpendLogQuery
from switchyard import Switchyard, SwitchyardSync

CONFIG = {"model_list": [{"model_name": "demo", "litellm_params": {"model": "mock/demo"}}]}
HELLO = [{"role": "user", "content": "Hello there"}]


@pytest.fixture(autouse=True)
def in_a_folder_of_its_own(tmp_path, monkeypatch) -> None:
    """The library keeps its records where the server would: a SQLite file and a spend journal in the
    working directory when the config names no database."""
    monkeypatch.chdir(tmp_path)


async def test_chat_stream_and_embeddings_work_from_a_config_dict() -> None:
    async with Switchyard.from_config(CONFIG, environ={}) as gateway:
        reply = await gateway.chat(model="demo", messages=HELLO)
        chunks = [chunk async for chunk in gateway.stream(model="demo", messages=HELLO)]
        vectors = await gateway.embeddings(model="demo", input=["a", "b"])

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert reply.choices[0].message.content == text
    assert reply.usage.total_tokens > 0
    assert len(vectors.data) == 2


async def test_the_embedded_default_serves_the_demo_model() -> None:
    gateway = Switchyard.from_config(environ={})
    try:
        assert "demo" in gateway.models()
        assert (await gateway.chat(model="demo", messages=HELLO)).choices[0].message.content
    finally:
        await gateway.aclose()


async def test_arguments_are_validated_like_the_servers_and_errors_are_domain_errors() -> None:
    async with Switchyard.from_config(CONFIG, environ={}) as gateway:
        with pytest.raises(BadRequestError) as caught:
            await gateway.chat(model="demo", messages=HELLO, temperature="hot")
        with pytest.raises(NotFoundError):
            await gateway.chat(model="nope", messages=HELLO)
        with pytest.raises(RateLimitError):
            await gateway.chat(model="demo", messages=HELLO, mock_response="litellm.RateLimitError")

    assert caught.value.param == "temperature"


def test_the_sync_wrapper_answers_and_streams(tmp_path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("model_list:\n  - model_name: demo\n    params: {model: mock/demo}\n")

    with SwitchyardSync.from_config(str(config), environ={}) as gateway:
        reply = gateway.chat(model="demo", messages=HELLO, mock_response="Fixed reply")
        words = [
            c.choices[0].delta.content for c in gateway.stream(model="demo", messages=HELLO) if c.choices
        ]

    assert reply.choices[0].message.content == "Fixed reply"
    assert "".join(w or "" for w in words)


async def test_a_library_call_has_its_cost_and_its_spend_record_reaches_the_database(tmp_path) -> None:
    priced = {
        "model_list": [
            {
                "model_name": "demo",
                "litellm_params": {"model": "mock/demo"},
                "model_info": {"input_cost_per_token": 0.000001, "output_cost_per_token": 0.000002},
            }
        ]
    }
    async with Switchyard.from_config(priced, environ={}) as gateway:
        reply = await gateway.chat(model="demo", messages=HELLO)

    usage = reply.usage
    in_price, out_price = Decimal("0.000001"), Decimal("0.000002")
    assert reply.cost == usage.prompt_tokens * in_price + usage.completion_tokens * out_price
    # closing wrote what the journal held: the next run finds nothing left to write
    async with Switchyard.from_config(priced, environ={}) as again:
        writer = await resolve(again._container.spend_writer)
        ledger = await resolve(again._container.spend_ledger)
        assert (await writer.drain_all()).taken == 0
        [record] = await ledger.logs(SpendLogQuery())
    assert (record.cost, record.model_group) == (reply.cost, "demo")


async def test_the_configs_guardrails_guard_library_calls_too() -> None:
    config = {
        **CONFIG,
        "guardrails": [
            {
                "guardrail_name": "pii",
                "litellm_params": {
                    "guardrail": "litellm_content_filter",
                    "mode": "pre_call",
                    "patterns": [
                        {"pattern_type": "prebuilt", "pattern_name": "credit_card", "action": "BLOCK"},
                    ],
                },
            }
        ],
    }
    card = [{"role": "user", "content": "Charge 4111 1111 1111 1111 please"}]
    async with Switchyard.from_config(config, environ={}) as gateway:
        unguarded = await gateway.chat(model="demo", messages=card)
        with pytest.raises(GuardrailViolationError) as caught:
            await gateway.chat(model="demo", messages=card, guardrails=["pii"])

    assert unguarded.choices[0].message.content
    assert caught.value.code == "guardrail_violation"
    assert "pii" in caught.value.message and "4111" not in caught.value.message


def test_importing_the_library_loads_nothing_of_the_gateway_until_one_is_built() -> None:
    code = (
        "import sys\n"
        "from switchyard import Switchyard\n"
        "heavy = ('bootstrap', 'pydantic', 'httpx', 'asyncio', 'rich')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
        "Switchyard.from_config(environ={})\n"
        "print('bootstrap' in sys.modules, 'rich' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ), check=False
    )
    assert done.stdout.split("\n")[:2] == ["[]", "True False"], done.stderr

"""Switchyard used as a library, without the server."""

from __future__ import annotations

import pytest

from domain.errors import BadRequestError, NotFoundError, RateLimitError
from switchyard import Switchyard, SwitchyardSync

CONFIG = {"model_list": [{"model_name": "demo", "litellm_params": {"model": "mock/demo"}}]}
HELLO = [{"role": "user", "content": "Hello there"}]


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

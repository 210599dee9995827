"""Response caching: the key (stable, and sensitive only to what changes an answer), the controls, the
replay of a stored reply as a stream, and the cache in the gateway's calls."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import orjson
import pytest
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from adapters.config import load_config
from adapters.openai_format import parse_chat_request
from bootstrap import build_container, create_http_app
from domain.caching import (
    CacheControls,
    Partition,
    chat_key,
    embedding_key,
    parse_controls,
    partition_of,
    replay,
    scope_of,
    semantic_scope,
)
from domain.completions import (
    Choice,
    CompletionResponse,
    FinishReason,
    Usage,
    assemble,
)
from domain.embeddings import EmbeddingRequest
from domain.errors import BadRequestError
from domain.messages import Message, Role, ThinkingBlock, ToolCall
from domain.spend import Caller

MASTER = {"Authorization": "Bearer sk-master"}


def _chat(**fields: Any) -> dict[str, Any]:
    return {"model": "gpt-x", "messages": [{"role": "user", "content": "what is 2+2?"}], **fields}


def _key(body: dict[str, Any], scope: str = "") -> str:
    return chat_key(parse_chat_request(body), scope)


# --- the key ------------------------------------------------------------------------------------------


def test_the_key_is_stable_and_ignores_what_does_not_change_the_answer() -> None:
    base = _key(_chat(temperature=0.2))

    assert _key(_chat(temperature=0.2)) == base
    assert _key(_chat(temperature=0.2, user="u-1", metadata={"run": "7"})) == base
    assert _key(_chat(temperature=0.2, stream=True, stream_options={"include_usage": True})) == base
    assert _key(_chat(temperature=0.2, num_retries=3, cache={"ttl": 5})) == base


@pytest.mark.parametrize(
    "change",
    [
        {"model": "gpt-y"},
        {"temperature": 0.3},
        {"top_p": 0.5},
        {"max_tokens": 10},
        {"stop": ["\n"]},
        {"seed": 1},
        {"n": 2},
        {"messages": [{"role": "user", "content": "what is 2+3?"}]},
        {
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "what is 2+2?"},
            ]
        },
        {"tools": [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}]},
        {"response_format": {"type": "json_object"}},
        {"logit_bias": {"50256": -100}},
        {"some_provider_field": True},
    ],
)
def test_the_key_changes_with_every_field_that_changes_the_answer(change: dict[str, Any]) -> None:
    assert _key({**_chat(temperature=0.2), **change}) != _key(_chat(temperature=0.2))


def test_the_key_is_scoped_by_namespace_and_partition() -> None:
    team_a = partition_of(Caller(key_hash="k1", team_id="a"), Partition.TEAM)
    team_b = partition_of(Caller(key_hash="k2", team_id="b"), Partition.TEAM)

    assert _key(_chat(), scope_of(None, team_a)) != _key(_chat(), scope_of(None, team_b))
    assert _key(_chat(), scope_of("ns1", team_a)) != _key(_chat(), scope_of("ns2", team_a))
    assert partition_of(Caller(key_hash="k1", team_id="a"), Partition.TEAM) == partition_of(
        Caller(key_hash="k9", team_id="a"), Partition.TEAM
    )  # one team shares
    assert partition_of(Caller(key_hash="k1"), Partition.TEAM) == "key:k1"  # no team: the key's own
    assert partition_of(Caller(key_hash="k1", team_id="a"), Partition.KEY) == "key:k1"
    assert partition_of(Caller(key_hash="k1", team_id="a"), Partition.SHARED) == ""


PINNED = [
    (
        {"model": "gpt-x", "messages": [{"role": "system", "content": "Be brief."},
                                        {"role": "user", "content": "what is 2+2? é中文"}],
         "temperature": 0.2, "max_tokens": 64},
        "8b77654d2fff2f67a52975598f3af6080f18fbdd0687c55e9481684e8ffb134d",
        "ec376a0985b8f0b3e4f57bdad8af167d82e1277ed10415e15dbf444e9dbd120b",
    ),
    (
        {"model": "gpt-x",
         "messages": [{"role": "user", "content": [
             {"type": "text", "text": "look"},
             {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}}]}],
         "tools": [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {
             "type": "object", "properties": {"b": {"type": "integer"}, "a": {"type": "string"}}}}}],
         "tool_choice": "auto", "response_format": {"type": "json_object"}, "seed": 7, "stop": ["\n", "END"],
         "logit_bias": {"50256": -100}, "top_p": 1e-05, "user": "u1"},
        "62d92af786b82cfc1579da304f906a6cba14f4b13ef6c6f18ffad8d721357d21",
        "c686f76447c798a5f7d4e2f97853189cac0bcb18a548e7fc9ba4285c1258f532",
    ),
    (
        {"model": "gpt-x",
         "messages": [
             {"role": "user", "content": "call it"},
             {"role": "assistant", "content": None, "tool_calls": [
                 {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\": 1}"}}]},
             {"role": "tool", "tool_call_id": "c1", "content": "42"}],
         "n": 2, "frequency_penalty": 0.5, "extra_body": {"z": [1, 2.5, None], "a": {"y": True}},
         "reasoning_effort": "low"},
        "2b6cec7326b3c3c50862ae4e665f836102aecac39685028edca8607f021ffbe1",
        "f4f1edf941456194a516c88d9cd9fd1e72f89c11c90e1e5df641d782630427d6",
    ),
    (
        {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}], "mock_response": "hello",
         "metadata": {"k": "v"}, "stream": True},
        "db69cee2ce06c7c7d248a4965b96989096373a6043b253378d1d50d335c5e448",
        "361b0da405aaff68ab5610a8fbce99fc1c6a41f6e987e771485cf7004321dffc",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("body", "key", "semantic"), PINNED)
def test_keys_stay_what_earlier_versions_wrote_so_stored_entries_keep_answering(
    body: dict[str, Any], key: str, semantic: str
) -> None:
    # A shared cache (Redis, disk) outlives a deploy: the same request must find the entries it stored.
    request = parse_chat_request(body)

    assert chat_key(request, scope_of("ns", "team:t1")) == key
    assert semantic_scope(request, scope_of(None, "")) == semantic


@pytest.mark.parametrize("accelerated", [True, False])
def test_the_keys_json_is_what_its_encoder_writes_with_or_without_the_c_accelerator(
    accelerated: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    from json import encoder as json_encoder

    from domain import caching

    if not accelerated:
        monkeypatch.setattr(json_encoder, "c_make_encoder", None)
    fields = {"z": [1, 2.5, 1e-05, None, True], "a": {"é": "中文\n", "b": float("inf")}, "m": Decimal("1.50")}
    encoder = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)

    assert caching._canonical_encoder(encoder)(fields) == encoder.encode(fields)


def test_embedding_keys_stay_what_earlier_versions_wrote() -> None:
    request = EmbeddingRequest(model="emb", inputs=("hello", (1, 2, 3)), dimensions=256)

    assert embedding_key(request, "hello", "") == (
        "5902a92f67b0809e0c44bf3c46b92182844b668da5207f1cc2c89c10497cf722"
    )
    assert embedding_key(request, (1, 2, 3), "x") == (
        "e8634bd1e7ab881dc17599c5824648c008f223160e0a72ad09aa817261f25b0f"
    )


def test_embeddings_are_keyed_per_input_and_not_by_encoding_format() -> None:
    floats = EmbeddingRequest(model="e", inputs=("a", "b"))
    base64 = dataclasses.replace(floats, encoding_format="base64")  # type: ignore[arg-type]

    assert embedding_key(floats, "a", "") == embedding_key(base64, "a", "")
    assert embedding_key(floats, "a", "") != embedding_key(floats, "b", "")
    assert embedding_key(floats, "a", "") != embedding_key(dataclasses.replace(floats, dimensions=8), "a", "")


# --- the controls ---------------------------------------------------------------------------------------


def test_controls_come_from_the_body_and_the_cache_control_header() -> None:
    assert parse_controls(
        {"no-cache": True, "ttl": 60, "s-maxage": 5, "namespace": "evals"}
    ) == CacheControls(no_cache=True, ttl=60.0, s_maxage=5.0, namespace="evals")
    assert parse_controls({"no_store": True}) == CacheControls(no_store=True)
    assert parse_controls(None, "no-cache, max-age=30") == CacheControls(no_cache=True, s_maxage=30.0)
    assert parse_controls(None, "no-store") == CacheControls(no_store=True)
    assert parse_controls({"use-cache": True}).names() == ("use-cache",)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"ttl": "soon"}, "cache.ttl"),
        ({"ttl": -1}, "cache.ttl"),
        ({"no-cache": "yes"}, "cache.no-cache"),
        ({"namespace": 7}, "cache.namespace"),
        ({"forever": True}, "cache.forever"),
        ("no-cache", "cache"),
    ],
)
def test_a_malformed_control_is_a_400_naming_it(body: object, param: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        parse_controls(body)
    assert caught.value.param == param


# --- replay ---------------------------------------------------------------------------------------------


def test_a_stored_reply_replays_as_a_stream_that_assembles_back_into_it() -> None:
    message = Message(
        role=Role.ASSISTANT,
        content="4",
        tool_calls=(ToolCall("call_1", "add", '{"a": 2, "b": 2}'),),
        reasoning_content="2 and 2",
        thinking_blocks=(ThinkingBlock("2 and 2", signature="sig"),),
    )
    reply = CompletionResponse(
        "chatcmpl-1", 1700000000, "gpt-x-2025", (Choice(0, message, FinishReason.TOOL_CALLS),), Usage(12, 3)
    )

    chunks = replay(reply, include_usage=True)

    assert chunks[-1].usage == Usage(12, 3) and chunks[0].choices[0].delta.role == "assistant"
    assert assemble(chunks) == reply
    assert all(chunk.usage is None for chunk in replay(reply, include_usage=False))


# --- in the gateway -------------------------------------------------------------------------------------


def _config(cache_params: dict[str, Any] | None = None, **extra: Any) -> Any:
    return load_config(
        {
            "model_list": [
                {"model_name": "gpt-x", "litellm_params": {"model": "mock/gpt-x"}},
                {"model_name": "emb", "litellm_params": {"model": "mock/emb"}},
            ],
            "litellm_settings": {"cache": True, "cache_params": {"type": "local", **(cache_params or {})}},
            "general_settings": {"master_key": "sk-master"},
            **extra,
        },
        {"DATABASE_URL": "memory://"},
    )


@asynccontextmanager
async def _gateway(cache_params: dict[str, Any] | None = None) -> AsyncIterator[AsyncTestClient]:
    container = build_container(_config(cache_params))
    async with AsyncTestClient(create_http_app(container)) as client:
        client.caching = await container.caching()  # type: ignore[attr-defined]
        yield client


async def _post(client: AsyncTestClient, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    response = await client.post("/v1/chat/completions", json=body, headers={**MASTER, **(headers or {})})
    await _stored(client)
    return response


async def _stored(client: AsyncTestClient) -> None:
    """Waits for the stores under way: they happen beside the calls, in the app's own loop."""
    for _ in range(400):
        if not client.caching.storing:  # type: ignore[attr-defined]
            return
        await asyncio.sleep(0.005)


def _hit(response: Any) -> bool:
    return response.headers.get("x-switchyard-cache-hit") == "true"


async def test_a_second_identical_call_is_a_hit_that_costs_nothing_and_is_recorded_as_one() -> None:
    async with _gateway() as client:
        first = await _post(client, _chat())
        second = await _post(client, _chat(user="someone-else"))
        call_id = second.headers["x-switchyard-call-id"]
        for _ in range(200):  # the ledger is written beside the calls
            logs = (await client.get("/spend/logs", params={"request_id": call_id}, headers=MASTER)).json()
            if logs:
                break
            await asyncio.sleep(0.01)

    assert not _hit(first) and _hit(second)
    assert second.headers["x-switchyard-cache-key"] == first.headers["x-switchyard-cache-key"]
    assert second.json()["choices"] == first.json()["choices"]
    assert second.headers["x-switchyard-response-cost"] == "0"
    (hit,) = logs
    assert hit["cache_hit"] == "True" and float(hit["spend"]) == 0


async def test_no_cache_skips_the_lookup_and_no_store_skips_the_store() -> None:
    async with _gateway() as client:
        stored_not = await _post(client, _chat(cache={"no-store": True}))
        after = await _post(client, _chat())
        skipped = await _post(client, _chat(cache={"no-cache": True}))
        by_header = await _post(client, _chat(), {"Cache-Control": "no-cache"})
        hit = await _post(client, _chat())

    assert not _hit(stored_not) and not _hit(after)  # nothing was stored by the no-store call
    assert not _hit(skipped) and not _hit(by_header) and _hit(hit)


async def test_an_entry_older_than_s_maxage_does_not_answer_and_namespaces_do_not_mix() -> None:
    async with _gateway() as client:
        await _post(client, _chat())
        fresh_enough = await _post(client, _chat(cache={"s-maxage": 3600}))
        too_old = await _post(client, _chat(cache={"s-maxage": 0}))
        other_namespace = await _post(client, _chat(cache={"namespace": "evals"}))

    assert _hit(fresh_enough) and not _hit(too_old) and not _hit(other_namespace)


async def test_a_streamed_call_is_answered_with_a_replayed_stream_and_a_stream_is_stored_once_whole() -> None:
    async with _gateway() as client:
        await _post(client, _chat())
        replayed = await _post(client, _chat(stream=True, stream_options={"include_usage": True}))
        streamed_first = await _post(client, _chat(stream=True, temperature=0.5))
        then_whole = await _post(client, _chat(temperature=0.5))

    assert _hit(replayed)
    events = [line[6:] for line in replayed.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [orjson.loads(event) for event in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text.startswith("Hi there!") and chunks[-1]["usage"] is not None
    assert not _hit(streamed_first) and _hit(then_whole)
    assert then_whole.json()["choices"][0]["message"]["content"] == "".join(
        orjson.loads(e)["choices"][0]["delta"].get("content") or ""
        for e in [line[6:] for line in streamed_first.text.splitlines() if line.startswith("data: {")]
        if orjson.loads(e)["choices"]
    )


async def test_an_opt_in_cache_answers_only_calls_that_opt_in() -> None:
    async with _gateway({"mode": "default_off"}) as client:
        await _post(client, _chat())
        not_opted = await _post(client, _chat())
        opted = await _post(client, _chat(cache={"use-cache": True}))
        opted_again = await _post(client, _chat(cache={"use-cache": True}))

    assert not _hit(not_opted) and not _hit(opted) and _hit(opted_again)


async def test_teams_do_not_read_each_others_entries_but_keys_of_one_team_do() -> None:
    async with _gateway() as client:
        keys = {}
        for team in ("red", "blue"):
            team_id = (await client.post("/team/new", json={"team_alias": team}, headers=MASTER)).json()[
                "team_id"
            ]
            for n in (1, 2):
                made = await client.post("/key/generate", json={"team_id": team_id}, headers=MASTER)
                keys[f"{team}{n}"] = {"Authorization": f"Bearer {made.json()['key']}"}
        await _post(client, _chat(), keys["red1"])
        same_team = await _post(client, _chat(), keys["red2"])
        other_team = await _post(client, _chat(), keys["blue1"])

    assert _hit(same_team) and not _hit(other_team)


async def test_embeddings_are_cached_per_input_and_only_the_missing_ones_go_upstream() -> None:
    async with _gateway() as client:

        async def embed(inputs: list[str]) -> Any:
            body = {"model": "emb", "input": inputs, "encoding_format": "float"}
            response = await client.post("/v1/embeddings", json=body, headers=MASTER)
            await _stored(client)
            return response

        first = await embed(["alpha", "beta"])
        partly = await embed(["beta", "gamma"])
        whole = await embed(["gamma", "alpha"])

    assert not _hit(partly) and partly.json()["usage"]["prompt_tokens"] == 1  # gamma alone went upstream
    assert partly.json()["data"][0]["embedding"] == first.json()["data"][1]["embedding"]
    assert _hit(whole) and whole.json()["usage"]["prompt_tokens"] == 0
    assert [d["index"] for d in whole.json()["data"]] == [0, 1]
    assert whole.json()["data"][1]["embedding"] == first.json()["data"][0]["embedding"]


async def test_cache_lookups_are_counted_as_hits_and_misses() -> None:
    async with _gateway() as client:
        await _post(client, _chat())
        await _post(client, _chat())
        text = (await client.get("/metrics", headers=MASTER)).text

    results = {
        sample.labels["result"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "switchyard_cache_requests_total"
    }
    assert results == {"hit": 1.0, "miss": 1.0}


def test_a_semantic_cache_needs_an_embedding_model_the_config_serves() -> None:
    from bootstrap.caching import cache_policy
    from domain.errors import ConfigurationError

    config = _config({"type": "disk-semantic", "embedding_model": "nope"})
    with pytest.raises(ConfigurationError, match="embedding_model"):
        cache_policy(config.cache, config)
    served = _config({"type": "disk-semantic", "embedding_model": "emb", "similarity_threshold": 0.9})
    policy = cache_policy(served.cache, served)
    assert (policy.embedding_model, policy.similarity_threshold) == ("emb", 0.9)


@pytest.mark.parametrize("kind", ["local", "disk", "redis"])
async def test_every_backend_answers_the_second_call(kind: str, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    params: dict[str, Any] = {"type": kind, "namespace": f"test-{uuid.uuid4().hex}", "ttl": 60}
    if kind == "disk":
        params["disk_cache_dir"] = str(tmp_path)
    if kind == "redis":
        params["url"] = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    async with _gateway(params) as client:
        first = await _post(client, _chat())
        second = await _post(client, _chat())

    assert not _hit(first) and _hit(second)
    if kind == "disk":
        assert (tmp_path / "responses.sqlite3").exists()


@pytest.mark.parametrize(
    ("kind", "package"), [("disk-semantic", "sqlite_vec"), ("qdrant-semantic", "qdrant_client")]
)
async def test_a_semantic_cache_answers_the_same_conversation_written_differently_and_not_another(
    kind: str,
    package: str,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    pytest.importorskip(package, reason="the semantic-cache extra is not installed")
    params = {"type": kind, "disk_cache_dir": str(tmp_path), "embedding_model": "emb"}
    parts = [{"role": "user", "content": [{"type": "text", "text": "what is 2+2?"}]}]
    async with _gateway({**params, "similarity_threshold": 0.9}) as client:
        first = await _post(client, _chat())
        as_parts = await _post(client, _chat(messages=parts))  # another exact key, the same conversation
        other = await _post(client, _chat(messages=[{"role": "user", "content": "name a colour"}]))
        other_params = await _post(client, _chat(messages=parts, temperature=1.5))
        for _ in range(200):  # the ledger is written beside the calls
            logs = (await client.get("/spend/logs", headers=MASTER)).json()
            if sum(log["call_type"] == "cache.embedding" for log in logs) >= 2:
                break
            await asyncio.sleep(0.01)

    assert (
        not _hit(first)
        and first.headers["x-switchyard-cache-key"] != as_parts.headers["x-switchyard-cache-key"]
    )
    assert _hit(as_parts) and float(as_parts.headers["x-switchyard-cache-similarity"]) > 0.99
    assert as_parts.json()["choices"] == first.json()["choices"]
    assert not _hit(other) and not _hit(other_params)  # scoped by the other parameters too
    embeddings = [log for log in logs if log["call_type"] == "cache.embedding"]
    assert len(embeddings) >= 2 and len({log["request_id"] for log in embeddings}) == len(embeddings)


async def test_a_cache_backend_that_is_down_is_a_miss_and_counted_never_a_failed_call() -> None:
    params = {"type": "redis", "url": "redis://127.0.0.1:1/0", "namespace": f"down-{uuid.uuid4().hex}"}
    async with _gateway(params) as client:
        first = await _post(client, _chat())
        second = await _post(client, _chat())  # the in-process layer still answers what it stored
        text = (await client.get("/metrics", headers=MASTER)).text

    assert first.status_code == second.status_code == 200 and _hit(second)
    errors = {
        sample.labels["kind"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "switchyard_cache_errors_total"
    }
    assert errors.get("failure", 0) + errors.get("timeout", 0) >= 1

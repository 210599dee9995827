"""The response cache end to end, with real `switchyard serve` processes and the official `openai` and
`anthropic` clients: a repeated call never reaches the upstream, the controls of the body and of the
`Cache-Control` header are obeyed, streams are replayed and stored whole, embeddings are cached per
input, hits cost nothing in the ledger, teams keep their entries apart, two gateways share Redis, and a
semantic cache answers a near-duplicate but not an unrelated prompt."""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import anthropic
import httpx
import openai
import pytest

from tests.e2e.conftest import MASTER_KEY, gateway_client, running_gateway
from tests.e2e.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

MASTER = {"Authorization": f"Bearer {MASTER_KEY}"}
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
HIT = "x-switchyard-cache-hit"
KEY = "x-switchyard-cache-key"
SIMILARITY = "x-switchyard-cache-similarity"
PRICES = {"input_cost_per_token": 0.000001, "output_cost_per_token": 0.000002}
T = TypeVar("T")


class WordsHandler(FakeUpstream.handler):  # type: ignore[name-defined,misc]
    """The fake upstream, but its `words` embedding model writes each text as a bag of its words (unit
    length, one hashed dimension a word), so that texts sharing most words are similar and others are
    not. The stock fake answers every text with the same vector: every prompt would be "similar"."""

    def _embeddings(self, body: dict) -> None:
        if body["model"] != "words":
            return super()._embeddings(body)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": words(text)} for i, text in enumerate(inputs)
        ]
        usage = {"prompt_tokens": 4, "total_tokens": 4}
        self.send_json(200, {"object": "list", "data": data, "model": "words", "usage": usage})


class WordsUpstream(FakeUpstream):
    handler = WordsHandler


def words(text: str, dimensions: int = 512) -> list[float]:
    """`text` as a bag of its words: a unit vector with one (hashed) dimension a word."""
    vector = [0.0] * dimensions
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        vector[zlib.crc32(word.encode()) % dimensions] += 1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def model_list(upstream: FakeUpstream) -> list[dict]:
    common = {"api_base": upstream.base_url, "api_key": "sk-upstream"}
    return [
        {"model_name": "cached", "litellm_params": {"model": "openai/ok", **common}, "model_info": PRICES},
        {"model_name": "cached-tools", "litellm_params": {"model": "openai/tools", **common}},
        {"model_name": "cached-broken", "litellm_params": {"model": "openai/stream-error", **common}},
        {
            "model_name": "embed",
            "litellm_params": {"model": "openai/text-embedding-3-small", **common},
            "model_info": {"mode": "embedding"},
        },
        {
            "model_name": "words",
            "litellm_params": {"model": "openai/words", **common},
            "model_info": {"mode": "embedding"},
        },
    ]


def cached_config(upstream: FakeUpstream, **cache_params: object) -> dict:
    return {
        "model_list": model_list(upstream),
        "litellm_settings": {"cache": True, "cache_params": {"type": "local", **cache_params}},
        "general_settings": {"master_key": MASTER_KEY},
        "router_settings": {"num_retries": 0, "allowed_fails": 1000},
    }


@pytest.fixture(scope="module")
def upstream() -> Iterator[WordsUpstream]:
    with WordsUpstream() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(upstream: WordsUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One gateway with an in-memory cache for the tests that need nothing else; each test asks its own
    questions (`fresh`), so that none reads another's entries."""
    with running_gateway(cached_config(upstream), tmp_path_factory.mktemp("e2e-caching")) as url:
        yield url


@pytest.fixture
def client(gateway: str) -> openai.OpenAI:
    return gateway_client(gateway)


def fresh(text: str = "What is the capital of France?") -> list[dict]:
    """A conversation no other call has had: its own entry in the cache."""
    return [{"role": "user", "content": f"{text} ({uuid.uuid4().hex[:8]})"}]


def sent(upstream: FakeUpstream, messages: list[dict]) -> int:
    """How many chat requests carrying this conversation's last message reached the upstream."""
    asked = messages[-1]["content"]
    return sum(
        1
        for request in upstream.requests
        if isinstance(request["body"], dict)
        and any(_text(m.get("content")) == asked for m in request["body"].get("messages", []))
    )


def _text(content: Any) -> Any:
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content


def stored(call: Callable[[], T], check: Callable[[T], bool], timeout: float = 5.0) -> T:
    """`call()`'s first answer that passes `check` (or its last, after `timeout`): what a gateway writes
    in the background (ledger records, shared entries) lands just after the answer has gone out."""
    deadline = time.monotonic() + timeout
    while True:
        found = call()
        if check(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def chat(client: openai.OpenAI, messages: list[dict], model: str = "cached", **options: Any) -> Any:
    return client.chat.completions.with_raw_response.create(model=model, messages=messages, **options)


def test_a_repeated_chat_is_answered_from_the_cache_without_reaching_the_upstream(client, upstream) -> None:
    messages = fresh()

    first = chat(client, messages)
    second = chat(client, messages)

    assert sent(upstream, messages) == 1
    assert HIT not in first.headers
    assert second.headers[HIT] == "true"
    assert second.headers[KEY] == first.headers[KEY]
    assert re.fullmatch(r"[0-9a-f]{64}", second.headers[KEY])
    assert Decimal(first.headers["x-switchyard-response-cost"]) > 0
    assert Decimal(second.headers["x-switchyard-response-cost"]) == 0
    assert second.parse().choices[0].message.content == first.parse().choices[0].message.content
    assert second.parse().choices[0].message.content == "Hello from upstream!"


def test_a_different_temperature_misses_while_user_and_metadata_do_not_change_the_key(
    client, upstream
) -> None:
    messages = fresh()
    chat(client, messages, temperature=0.2, user="alice", metadata={"run": "1"})

    other_user = chat(client, messages, temperature=0.2, user="bob", metadata={"run": "2"})
    warmer = chat(client, messages, temperature=0.9, user="alice", metadata={"run": "1"})

    assert other_user.headers[HIT] == "true"
    assert HIT not in warmer.headers
    assert warmer.headers[KEY] != other_user.headers[KEY]
    assert sent(upstream, messages) == 2


def test_no_cache_goes_upstream_and_no_store_stores_nothing(client, upstream) -> None:
    cached, unstored = fresh(), fresh()
    chat(client, cached)

    refreshed = chat(client, cached, extra_body={"cache": {"no-cache": True}})
    chat(client, unstored, extra_body={"cache": {"no-store": True}})
    after_no_store = chat(client, unstored)

    assert HIT not in refreshed.headers and refreshed.headers[KEY]
    assert sent(upstream, cached) == 2
    assert HIT not in after_no_store.headers
    assert sent(upstream, unstored) == 2


def test_a_cache_control_no_cache_header_goes_upstream(client, upstream) -> None:
    messages = fresh()
    chat(client, messages)

    refreshed = chat(client, messages, extra_headers={"Cache-Control": "no-cache"})
    later = chat(client, messages)

    assert HIT not in refreshed.headers
    assert later.headers[HIT] == "true"
    assert sent(upstream, messages) == 2


def test_a_stream_is_replayed_as_valid_sse_from_an_entry_a_whole_call_stored(
    client, gateway, upstream
) -> None:
    messages = fresh()
    whole = chat(client, messages).parse()

    with client.chat.completions.with_streaming_response.create(
        model="cached", messages=messages, stream=True, stream_options={"include_usage": True}
    ) as response:
        hit = response.headers.get(HIT)
        chunks = list(response.parse())
    raw = httpx.post(
        f"{gateway}/v1/chat/completions",
        json={"model": "cached", "messages": messages, "stream": True},
        headers=MASTER,
    )

    assert sent(upstream, messages) == 1
    assert hit == "true"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        whole.choices[0].message.content
    )
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 12
    assert raw.headers[HIT] == "true" and raw.headers["content-type"].startswith("text/event-stream")
    events = [line.removeprefix("data: ") for line in raw.text.split("\n\n") if line.strip()]
    assert events[-1] == "[DONE]"
    assert all(json.loads(event)["object"] == "chat.completion.chunk" for event in events[:-1])


def test_a_streamed_answer_is_stored_once_complete_and_then_answers_a_whole_call(client, upstream) -> None:
    messages = fresh()
    streamed = list(client.chat.completions.create(model="cached", messages=messages, stream=True))

    whole = chat(client, messages)

    assert whole.headers[HIT] == "true"
    assert sent(upstream, messages) == 1
    assert whole.parse().choices[0].message.content == "".join(
        c.choices[0].delta.content or "" for c in streamed if c.choices
    )


def test_streamed_tool_calls_are_stored_and_replayed_whole(client, upstream) -> None:
    messages = fresh("What is the weather in Paris?")
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    list(client.chat.completions.create(model="cached-tools", messages=messages, tools=[tool], stream=True))

    whole = chat(client, messages, model="cached-tools", tools=[tool])

    assert whole.headers[HIT] == "true"
    [call] = whole.parse().choices[0].message.tool_calls
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == (
        "call_abc123", "get_weather", {"city": "Paris"},
    )  # fmt: skip
    assert whole.parse().choices[0].finish_reason == "tool_calls"
    assert sent(upstream, messages) == 1


def test_a_stream_cut_short_is_not_stored(client, upstream) -> None:
    messages = fresh()

    def stream_once() -> str:
        text = ""
        with pytest.raises(openai.APIError):
            for chunk in client.chat.completions.create(
                model="cached-broken", messages=messages, stream=True
            ):
                text += "".join(choice.delta.content or "" for choice in chunk.choices)
        return text

    assert stream_once() == "Hello from"
    time.sleep(0.2)  # time for a store, were there one
    assert stream_once() == "Hello from"
    assert sent(upstream, messages) == 2


def test_messages_through_the_anthropic_client_are_cached(gateway, upstream) -> None:
    client = anthropic.Anthropic(
        base_url=gateway, auth_token=MASTER_KEY, default_headers={"x-api-key": anthropic.omit},
        max_retries=0, timeout=10,
    )  # fmt: skip
    messages = fresh()

    first = client.messages.with_raw_response.create(model="cached", max_tokens=64, messages=messages)
    second = client.messages.with_raw_response.create(model="cached", max_tokens=64, messages=messages)

    assert HIT not in first.headers
    assert second.headers[HIT] == "true"
    assert sent(upstream, messages) == 1
    reply = second.parse()
    assert reply.type == "message" and reply.role == "assistant"
    assert reply.content[0].text == first.parse().content[0].text == "Hello from upstream!"
    with client.messages.stream(model="cached", max_tokens=64, messages=messages) as stream:
        streamed_hit = stream.response.headers.get(HIT)
        final = stream.get_final_message()
    assert streamed_hit == "true"
    assert final.content[0].text == "Hello from upstream!" and final.stop_reason == "end_turn"
    assert sent(upstream, messages) == 1


def test_embeddings_send_upstream_only_the_inputs_the_cache_lacks(client, upstream) -> None:
    a, b, c = (f"{name} {uuid.uuid4().hex[:8]}" for name in "abc")
    client.embeddings.create(model="embed", input=[a, b])

    overlapping = client.embeddings.with_raw_response.create(model="embed", input=[b, c, a])
    repeated = client.embeddings.with_raw_response.create(model="embed", input=[c, a])

    asked = [r["body"]["input"] for r in upstream.requests if r["path"].endswith("/embeddings")]
    asked = [inputs for inputs in asked if {a, b, c} & set(inputs if isinstance(inputs, list) else [inputs])]
    assert asked == [[a, b], [c]]
    assert [d.index for d in overlapping.parse().data] == [0, 1, 2]
    assert all(d.embedding == [0.25, -0.5, 1.0] for d in overlapping.parse().data)
    assert repeated.headers[HIT] == "true"
    assert len(repeated.parse().data) == 2


def test_a_hit_is_recorded_in_the_ledger_with_cache_hit_and_no_spend(client, gateway) -> None:
    messages = fresh()
    miss = chat(client, messages)
    hit = chat(client, messages)

    def logs(call_id: str) -> list[dict]:
        return httpx.get(f"{gateway}/spend/logs", params={"request_id": call_id}, headers=MASTER).json()

    [hit_log] = stored(lambda: logs(hit.headers["x-switchyard-call-id"]), bool)
    [miss_log] = stored(lambda: logs(miss.headers["x-switchyard-call-id"]), bool)

    assert hit.headers[HIT] == "true"
    assert hit_log["cache_hit"] == "True" and Decimal(str(hit_log["spend"])) == 0
    assert hit_log["total_tokens"] == 0
    assert miss_log["cache_hit"] == "False" and Decimal(str(miss_log["spend"])) > 0


def test_keys_of_one_team_share_entries_and_keys_of_another_team_do_not(gateway, upstream) -> None:
    def made(path: str, **body: object) -> dict:
        answer = httpx.post(f"{gateway}{path}", json=body, headers=MASTER, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def key_of(team: str) -> openai.OpenAI:
        return gateway_client_with(gateway, made("/key/generate", team_id=team)["key"])

    red, blue = (made("/team/new", team_alias=f"{name}-{uuid.uuid4().hex[:6]}")["team_id"] for name in "rb")
    red_1, red_2, blue_1 = key_of(red), key_of(red), key_of(blue)
    messages = fresh()

    chat(red_1, messages)
    teammate = chat(red_2, messages)
    other_team = chat(blue_1, messages)

    assert teammate.headers[HIT] == "true"
    assert HIT not in other_team.headers
    assert other_team.headers[KEY] != teammate.headers[KEY]
    assert sent(upstream, messages) == 2


def gateway_client_with(url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=10)


@pytest.mark.redis
def test_two_gateways_sharing_redis_share_entries(upstream, tmp_path: Path) -> None:
    import redis

    prefix = f"e2e-cache-{uuid.uuid4().hex}:"
    config = cached_config(upstream, type="redis")
    environment = {"REDIS_URL": REDIS_URL, "SWITCHYARD_REDIS_PREFIX": prefix}
    messages = fresh()
    shared = redis.Redis.from_url(REDIS_URL)

    def started(stack: ExitStack, name: str) -> str:
        (tmp_path / name).mkdir()
        return stack.enter_context(running_gateway(config, tmp_path / name, environment=environment))

    try:
        with ExitStack() as stack, ThreadPoolExecutor(2) as pool:  # the two start side by side
            a, b = pool.map(lambda name: started(stack, name), "ab")
            first = chat(gateway_client(a), messages)
            in_redis = stored(lambda: shared.exists(f"{prefix}cache:{first.headers[KEY]}"), bool)
            second = chat(gateway_client(b), messages)
    finally:
        for key in shared.scan_iter(match=f"{prefix}*"):
            shared.unlink(key)
        shared.close()

    assert HIT not in first.headers
    assert in_redis
    assert second.headers[HIT] == "true" and second.headers[KEY] == first.headers[KEY]
    assert second.parse().choices[0].message.content == "Hello from upstream!"
    assert sent(upstream, messages) == 1


def indexed(path: Path) -> int:
    """The entries of a disk-semantic cache's index (0 while it has none, or no file yet)."""
    try:
        with closing(sqlite3.connect(path)) as db:
            return db.execute("SELECT count(*) FROM semantic_entries").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_a_semantic_cache_answers_a_near_duplicate_and_not_an_unrelated_prompt(upstream, tmp_path) -> None:
    try:
        import sqlite_vec  # noqa: F401

        import adapters.cache.vector_sqlite  # noqa: F401
    except ImportError as missing:
        pytest.skip(f"the disk-semantic cache needs the semantic-cache extra (sqlite-vec): {missing}")
    config = cached_config(
        upstream, type="disk-semantic", embedding_model="words", similarity_threshold=0.85,
        disk_cache_dir=str(tmp_path / "cache"),
    )  # fmt: skip
    tag = uuid.uuid4().hex[:8]
    asked = [{"role": "user", "content": f"what is the capital city of france today {tag}"}]
    near = [{"role": "user", "content": f"What is the capital city of France today, please? {tag}"}]
    unrelated = [{"role": "user", "content": f"tell me a joke about cats {tag}"}]

    with running_gateway(config, tmp_path) as url:
        client = gateway_client(url)
        first = chat(client, asked)
        # The index is written in a worker thread just after the answer: wait for its row.
        stored(lambda: indexed(tmp_path / "cache" / "vectors.sqlite3"), bool)
        similar = chat(client, near)
        other = chat(client, unrelated)

    assert HIT not in first.headers
    assert similar.headers[HIT] == "true"
    assert 0.85 <= float(similar.headers[SIMILARITY]) <= 1.0001
    assert similar.parse().choices[0].message.content == "Hello from upstream!"
    assert HIT not in other.headers and SIMILARITY not in other.headers
    assert (sent(upstream, asked), sent(upstream, near), sent(upstream, unrelated)) == (1, 0, 1)

"""The VectorIndex contract (ports/response_cache.py): sqlite-vec in a file, Qdrant in its local mode, and
Redis vector search where a Redis with the query engine is reachable (REDIS_SEARCH_URL)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from domain.caching import CachedReply
from domain.completions import Choice, CompletionResponse, FinishReason, Usage
from domain.errors import ConfigurationError
from domain.messages import Message, Role, ToolCall
from ports.response_cache import CacheUnavailable, VectorIndex

SCOPE = "\x1fteam:t1\x1fgpt-4o\x1f{}"
OTHER_SCOPE = "\x1fteam:t2\x1fgpt-4o\x1f{}"
THRESHOLD = 0.9
BASE = (0.9, 0.1, 0.3, 0.0, 0.5, 0.2, 0.0, 0.4)
NEAR = (0.88, 0.12, 0.31, 0.02, 0.49, 0.2, 0.01, 0.41)
"""A near-duplicate of BASE: cosine similarity about 0.9995."""
UNRELATED = (0.0, 0.8, 0.0, 0.9, 0.0, 0.0, 0.7, 0.0)
"""Orthogonal to BASE."""
SEARCH_URL = os.environ.get("REDIS_SEARCH_URL")
NO_SEARCH = "needs a Redis with the query engine (Redis 8 or Redis Stack) at REDIS_SEARCH_URL"


def reply(text: str = "Paris.", *, stored_at: float = 1_800_000_000.0) -> CachedReply:
    message = Message(Role.ASSISTANT, text, tool_calls=(ToolCall("call_1", "lookup", '{"q": "x"}'),))
    response = CompletionResponse(
        id="chatcmpl-1",
        created=1_800_000_000,
        model="gpt-4o-2024-08-06",
        choices=(Choice(0, message, FinishReason.TOOL_CALLS),),
        usage=Usage(prompt_tokens=12, completion_tokens=3, cached_tokens=2),
        system_fingerprint="fp_1",
    )
    return CachedReply(response, stored_at, deployment_id="openai-east")


def cosine(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.hypot(*a) * math.hypot(*b))


def sqlite_index(path: Path) -> VectorIndex:
    from adapters.cache.vector_sqlite import SqliteVecVectorIndex

    return SqliteVecVectorIndex(path)


def qdrant_index() -> VectorIndex:
    from adapters.cache.vector_qdrant import QdrantVectorIndex

    return QdrantVectorIndex.connect(location=":memory:")


def redis_index(url: str, index_name: str) -> VectorIndex:
    from redis.asyncio import Redis

    from adapters.cache.vector_redis import RedisVectorIndex

    return RedisVectorIndex(Redis.from_url(url), index_name=index_name, owns_client=True)


@pytest.fixture(
    params=[
        "sqlite-vec",
        "qdrant",
        pytest.param("redis-search", marks=pytest.mark.skipif(not SEARCH_URL, reason=NO_SEARCH)),
    ]
)
async def vector_index(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VectorIndex]:
    if request.param == "sqlite-vec":
        index = sqlite_index(tmp_path / "semantic.db")
    elif request.param == "qdrant":
        index = qdrant_index()
    else:
        assert SEARCH_URL
        index = redis_index(SEARCH_URL, f"switchyard-test-{uuid.uuid4().hex}")
    yield index
    await index.clear()  # a Redis index outlives the test otherwise
    await index.close()


async def test_a_near_duplicate_above_the_threshold_hits_with_its_similarity(
    vector_index: VectorIndex,
) -> None:
    await vector_index.add(SCOPE, BASE, reply(), ttl=60)

    found = await vector_index.search(SCOPE, NEAR, THRESHOLD)

    assert found is not None
    assert found[0] == reply()
    assert found[1] == pytest.approx(cosine(BASE, NEAR), abs=1e-3)


async def test_an_unrelated_vector_misses(vector_index: VectorIndex) -> None:
    await vector_index.add(SCOPE, BASE, reply(), ttl=60)

    assert await vector_index.search(SCOPE, UNRELATED, THRESHOLD) is None


async def test_a_vector_just_below_the_threshold_misses(vector_index: VectorIndex) -> None:
    await vector_index.add(SCOPE, BASE, reply(), ttl=60)

    assert await vector_index.search(SCOPE, NEAR, cosine(BASE, NEAR) + 0.0005) is None
    assert await vector_index.search(SCOPE, NEAR, cosine(BASE, NEAR) - 0.0005) is not None


async def test_the_most_similar_of_several_entries_wins(vector_index: VectorIndex) -> None:
    farther = (0.9, 0.3, 0.3, 0.1, 0.4, 0.2, 0.1, 0.4)
    await vector_index.add(SCOPE, farther, reply("farther"), ttl=60)
    await vector_index.add(SCOPE, NEAR, reply("nearest"), ttl=60)
    await vector_index.add(SCOPE, UNRELATED, reply("unrelated"), ttl=60)
    assert cosine(BASE, farther) > THRESHOLD

    found = await vector_index.search(SCOPE, BASE, THRESHOLD)

    assert found is not None
    assert found[0] == reply("nearest")
    assert found[1] == pytest.approx(cosine(BASE, NEAR), abs=1e-3)


async def test_a_scope_never_sees_another_scopes_entries(vector_index: VectorIndex) -> None:
    await vector_index.add(OTHER_SCOPE, BASE, reply("theirs"), ttl=60)

    assert await vector_index.search(SCOPE, BASE, THRESHOLD) is None

    await vector_index.add(SCOPE, NEAR, reply("ours"), ttl=60)
    found = await vector_index.search(SCOPE, BASE, THRESHOLD)
    assert found is not None and found[0] == reply("ours")
    theirs = await vector_index.search(OTHER_SCOPE, NEAR, THRESHOLD)
    assert theirs is not None and theirs[0] == reply("theirs")


async def test_an_expired_entry_misses_and_one_without_a_ttl_lives_on(vector_index: VectorIndex) -> None:
    await vector_index.add(SCOPE, BASE, reply("short"), ttl=0.3)
    await vector_index.add(OTHER_SCOPE, BASE, reply("forever"), ttl=None)
    assert await vector_index.search(SCOPE, BASE, THRESHOLD) is not None

    await asyncio.sleep(0.4)

    assert await vector_index.search(SCOPE, BASE, THRESHOLD) is None
    found = await vector_index.search(OTHER_SCOPE, BASE, THRESHOLD)
    assert found is not None and found[0] == reply("forever")


async def test_an_expired_entry_does_not_hide_a_live_one_behind_it(vector_index: VectorIndex) -> None:
    await vector_index.add(SCOPE, NEAR, reply("older, farther"), ttl=60)
    await vector_index.add(SCOPE, BASE, reply("nearest, short-lived"), ttl=0.3)

    await asyncio.sleep(0.4)
    await vector_index.add(OTHER_SCOPE, UNRELATED, reply(), ttl=60)  # an add may delete expired entries

    found = await vector_index.search(SCOPE, BASE, THRESHOLD)
    assert found is not None and found[0] == reply("older, farther")


async def test_a_zero_ttl_stores_nothing(vector_index: VectorIndex) -> None:
    await vector_index.add(SCOPE, BASE, reply(), ttl=0)

    assert await vector_index.search(SCOPE, BASE, THRESHOLD) is None


async def test_clear_empties_the_index(vector_index: VectorIndex) -> None:
    await vector_index.add(SCOPE, BASE, reply(), ttl=60)
    await vector_index.add(OTHER_SCOPE, BASE, reply(), ttl=None)
    await vector_index.add(SCOPE, BASE[:4], reply(), ttl=60)

    await vector_index.clear()

    assert await vector_index.search(SCOPE, BASE, THRESHOLD) is None
    assert await vector_index.search(OTHER_SCOPE, BASE, THRESHOLD) is None
    assert await vector_index.search(SCOPE, BASE[:4], THRESHOLD) is None
    await vector_index.add(SCOPE, BASE, reply("after"), ttl=60)  # and is usable again
    found = await vector_index.search(SCOPE, BASE, THRESHOLD)
    assert found is not None and found[0] == reply("after")


async def test_the_stored_reply_comes_back_equal(vector_index: VectorIndex) -> None:
    stored = reply("Ünïcode ✓ and a\nnewline", stored_at=1_800_000_123.25)

    await vector_index.add(SCOPE, BASE, stored, ttl=60)
    found = await vector_index.search(SCOPE, BASE, THRESHOLD)

    assert found is not None
    assert found[0] == stored
    assert found[1] == pytest.approx(1.0, abs=1e-4)


async def test_vectors_of_another_dimension_live_in_the_same_index(vector_index: VectorIndex) -> None:
    small = BASE[:4]
    large = BASE * 2
    assert await vector_index.search(SCOPE, small, THRESHOLD) is None  # a dimension never seen

    await vector_index.add(SCOPE, BASE, reply("8"), ttl=60)
    await vector_index.add(SCOPE, small, reply("4"), ttl=60)
    await vector_index.add(SCOPE, large, reply("16"), ttl=60)

    for vector, text in ((BASE, "8"), (small, "4"), (large, "16")):
        found = await vector_index.search(SCOPE, vector, THRESHOLD)
        assert found is not None and found[0] == reply(text)


async def test_sqlite_vec_entries_survive_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "semantic.db"
    first = sqlite_index(path)
    await first.add(SCOPE, BASE, reply(), ttl=60)
    await first.add(SCOPE, BASE[:4], reply("4"), ttl=60)
    await first.close()

    second = sqlite_index(path)
    found = await second.search(SCOPE, NEAR, THRESHOLD)
    small = await second.search(SCOPE, BASE[:4], THRESHOLD)
    await second.close()

    assert found is not None and found[0] == reply()
    assert small is not None and small[0] == reply("4")


def unusable_sqlite(tmp_path: Path) -> VectorIndex:
    return sqlite_index(tmp_path)  # a directory, not a file


def unreachable_qdrant(tmp_path: Path) -> VectorIndex:
    from adapters.cache.vector_qdrant import QdrantVectorIndex

    return QdrantVectorIndex.connect(url=f"http://127.0.0.1:{closed_port()}", timeout=1.0)


def unreachable_redis(tmp_path: Path) -> VectorIndex:
    return redis_index(f"redis://127.0.0.1:{closed_port()}/0", "switchyard-test")


def closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("make", [unusable_sqlite, unreachable_qdrant, unreachable_redis])
async def test_a_backend_that_cannot_answer_raises_cache_unavailable(
    make: Callable[[Path], VectorIndex], tmp_path: Path
) -> None:
    index = make(tmp_path)
    try:
        with pytest.raises(CacheUnavailable):
            await index.search(SCOPE, BASE, THRESHOLD)
        with pytest.raises(CacheUnavailable):
            await index.add(SCOPE, BASE, reply(), ttl=60)
    finally:
        await index.close()


@pytest.mark.redis
async def test_a_redis_without_the_query_engine_is_a_configuration_error_at_open() -> None:
    from redis.asyncio import Redis
    from redis.exceptions import ResponseError

    from adapters.cache.vector_redis import RedisVectorIndex

    client = Redis.from_url(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    index = RedisVectorIndex(client, owns_client=True)
    try:
        with contextlib.suppress(ResponseError):
            await client.execute_command("FT._LIST")
            pytest.skip("the Redis at REDIS_URL has the query engine")
        with pytest.raises(ConfigurationError, match="query engine"):
            await index.open()
        with pytest.raises(CacheUnavailable, match="query engine"):  # and a call is never anything else
            await index.search(SCOPE, BASE, THRESHOLD)
    finally:
        await index.close()

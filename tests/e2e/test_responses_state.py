"""What the gateway keeps of the Responses API's responses, through the real server with the official
`openai` client: who may read a stored response, its input items, background calls and their
cancellation, and `previous_response_id` across two gateway processes sharing PostgreSQL."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.conftest import MASTER_KEY, gateway_client, running_gateway
from tests.e2e.responses_upstream import SLOW, FakeResponses
from tests.e2e.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
MASTER = {"Authorization": f"Bearer {MASTER_KEY}"}
CHAT_ONLY = {"supported_endpoints": ["/v1/chat/completions"]}
REPLY = "Hello from upstream!"


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as server:
        yield server


@pytest.fixture(scope="module")
def responses_upstream() -> Iterator[FakeResponses]:
    with FakeResponses() as server:
        yield server


def model_list(upstream: FakeUpstream, responses_upstream: FakeResponses | None = None) -> list[dict]:
    chat = {"model": "openai/ok", "api_base": upstream.base_url, "api_key": "sk-upstream"}
    models = [{"model_name": "chat", "litellm_params": chat, "model_info": CHAT_ONLY}]
    if responses_upstream is not None:
        slow = {"model": "openai/gpt-resp-slow", "api_base": responses_upstream.base_url, "api_key": "sk-up"}
        models.append({"model_name": "slow", "litellm_params": slow, "model_info": CHAT_ONLY})
    return models


@pytest.fixture(scope="module")
def gateway(
    upstream: FakeUpstream, responses_upstream: FakeResponses, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A gateway keeping its responses in its default database (SQLite, beside its config)."""
    config = {
        "model_list": model_list(upstream, responses_upstream),
        "general_settings": {"master_key": MASTER_KEY},
        "router_settings": {"num_retries": 0},
    }
    with running_gateway(config, Path(tmp_path_factory.mktemp("e2e-responses-state"))) as url:
        yield url


@pytest.fixture
def client(gateway: str) -> openai.OpenAI:
    return gateway_client(gateway)


def client_with(gateway: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway}/v1", api_key=key, max_retries=0, timeout=10)


def admin_post(gateway: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(f"{gateway}{path}", json=body, headers=MASTER, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def eventually(check, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    """`check()`'s first truthy answer within `timeout`, else its last."""
    deadline = time.monotonic() + timeout
    while not (found := check()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


@contextmanager
def gateways_sharing_postgres(config: dict, directory: Path, count: int) -> Iterator[list[openai.OpenAI]]:
    """Clients of `count` gateways on `config` sharing the database at DATABASE_URL, started side by side
    (each takes seconds to start)."""
    homes = [directory / str(number) for number in range(count)]
    for home in homes:
        home.mkdir()
    shared = {"DATABASE_URL": DATABASE_URL}
    with ExitStack() as stack, ThreadPoolExecutor(count) as pool:

        def start(home: Path) -> str:
            return stack.enter_context(running_gateway(config, home, environment=shared))

        yield [gateway_client(url) for url in pool.map(start, homes)]


def texts(items: list[Any]) -> list[str]:
    return [item.content[0].text for item in items]


# Ownership.


def test_a_stored_response_is_readable_by_the_key_that_made_it_and_its_team_only(gateway: str) -> None:
    for team in ("team-a", "team-b"):
        admin_post(gateway, "/team/new", {"team_id": team})
    alice, teammate, bob = (
        client_with(gateway, admin_post(gateway, "/key/generate", {"team_id": team})["key"])
        for team in ("team-a", "team-a", "team-b")
    )
    created = alice.responses.create(model="chat", input="Hello")

    assert alice.responses.retrieve(created.id) == created
    assert teammate.responses.retrieve(created.id).output_text == REPLY
    with pytest.raises(openai.NotFoundError):
        bob.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.input_items.list(created.id)
    with pytest.raises(openai.NotFoundError):
        bob.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError) as caught:
        bob.responses.create(model="chat", input="More", previous_response_id=created.id)
    assert caught.value.param == "previous_response_id"

    deleted = alice.responses.with_raw_response.delete(created.id).http_response.json()
    assert deleted == {"id": created.id, "object": "response.deleted", "deleted": True}
    with pytest.raises(openai.NotFoundError):
        alice.responses.retrieve(created.id)


def test_input_items_are_listed_newest_first_unless_asked_otherwise_and_in_pages(
    client: openai.OpenAI,
) -> None:
    messages = [{"role": "user", "content": f"Message {n}"} for n in range(3)]
    created = client.responses.create(model="chat", input=messages)

    newest_first = client.responses.input_items.list(created.id)
    oldest_first = client.responses.input_items.list(created.id, order="asc")
    page = client.responses.input_items.list(created.id, limit=2)
    rest = client.responses.input_items.list(created.id, limit=2, after=page.last_id)

    assert texts(newest_first.data) == ["Message 2", "Message 1", "Message 0"]
    assert not newest_first.has_more
    assert texts(oldest_first.data) == ["Message 0", "Message 1", "Message 2"]
    assert {(item.type, item.role) for item in newest_first.data} == {("message", "user")}
    assert all(item.id for item in newest_first.data)
    assert (texts(page.data), page.has_more) == (["Message 2", "Message 1"], True)
    assert (texts(rest.data), rest.has_more) == (["Message 0"], False)


# Background.


def test_a_background_response_is_queued_then_completed(client: openai.OpenAI) -> None:
    queued = client.responses.create(model="chat", input="Hello", background=True)

    assert (queued.status, queued.background, queued.output) == ("queued", True, [])
    done = eventually(lambda: (found := client.responses.retrieve(queued.id)).status == "completed" and found)
    assert done, client.responses.retrieve(queued.id).status
    assert done.output_text == REPLY
    assert done.usage.output_tokens == 3


def test_a_background_call_under_way_is_cancelled_and_stays_cancelled(
    client: openai.OpenAI, responses_upstream: FakeResponses
) -> None:
    before = len(responses_upstream.received("gpt-resp-slow"))
    queued = client.responses.create(model="slow", input="Hello", background=True)
    assert eventually(lambda: len(responses_upstream.received("gpt-resp-slow")) > before)
    assert client.responses.retrieve(queued.id).status == "in_progress"

    cancelled = client.responses.cancel(queued.id)

    assert (cancelled.id, cancelled.status) == (queued.id, "cancelled")
    time.sleep(SLOW + 0.5)  # past the moment the upstream answers
    kept = client.responses.retrieve(queued.id)
    assert (kept.status, kept.output) == ("cancelled", [])
    assert client.responses.cancel(queued.id).status == "cancelled"
    # The call itself was stopped: the gateway hung up on the upstream.
    assert "gpt-resp-slow" in responses_upstream.hangups


def test_a_background_response_cancelled_as_soon_as_it_is_created_is_cancelled(client: openai.OpenAI) -> None:
    # The call starts beside the request that queued it: a cancel may come just as it does.
    answers = []
    for _ in range(20):
        queued = client.responses.create(model="slow", input="Hello", background=True)
        answers.append((queued.id, client.responses.cancel(queued.id).status))
    time.sleep(SLOW + 0.5)

    assert [status for _, status in answers] == ["cancelled"] * 20
    assert [client.responses.retrieve(id).status for id, _ in answers] == ["cancelled"] * 20


def test_a_finished_or_foreground_response_cannot_be_cancelled(client: openai.OpenAI) -> None:
    created = client.responses.create(model="chat", input="Hello")

    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.cancel(created.id)

    assert caught.value.param == "response_id"
    assert client.responses.retrieve(created.id).status == "completed"


# Two gateways sharing PostgreSQL.


def test_two_gateways_sharing_postgres_continue_and_read_each_others_responses(
    upstream: FakeUpstream, responses_upstream: FakeResponses, tmp_path: Path
) -> None:
    config = {
        "model_list": model_list(upstream, responses_upstream),
        "general_settings": {"master_key": MASTER_KEY},
        "router_settings": {"num_retries": 0},
    }
    with gateways_sharing_postgres(config, tmp_path, count=2) as (one, other):
        first = one.responses.create(model="chat", input="Hello")
        second = other.responses.create(model="chat", input="And in Rome?", previous_response_id=first.id)
        sent = upstream.requests[-1]["body"]["messages"]
        read_on_other = other.responses.retrieve(first.id)
        second_on_one = one.responses.retrieve(second.id)

        unstored = one.responses.create(model="chat", input="Hello", store=False)
        missing = []
        for gateway in (one, other):
            with pytest.raises(openai.NotFoundError) as caught:
                gateway.responses.retrieve(unstored.id)
            missing.append(caught.value)
        with pytest.raises(openai.NotFoundError) as continued:
            other.responses.create(model="chat", input="More", previous_response_id=unstored.id)

        # A background call one gateway runs, cancelled on the other once under way.
        before = len(responses_upstream.received("gpt-resp-slow"))
        slow = other.responses.create(model="slow", input="Hello", background=True)
        assert eventually(lambda: len(responses_upstream.received("gpt-resp-slow")) > before)
        cancelled_on_one = one.responses.cancel(slow.id)
        time.sleep(SLOW + 0.5)
        slow_on_other = other.responses.retrieve(slow.id)

    assert sent == [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": REPLY},
        {"role": "user", "content": "And in Rome?"},
    ]
    assert read_on_other == first
    assert (second_on_one.previous_response_id, second_on_one.output_text) == (first.id, REPLY)
    assert (unstored.store, unstored.output_text) == (False, REPLY)
    assert [error.status_code for error in missing] == [404, 404]
    assert continued.value.param == "previous_response_id"
    assert cancelled_on_one.status == "cancelled"
    # The gateway running the call does not overwrite the cancellation when the call ends.
    assert (slow_on_other.status, slow_on_other.output) == ("cancelled", [])

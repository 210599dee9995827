"""The token cache behind watsonx.ai's IAM and Databricks' OAuth exchanges."""

from __future__ import annotations

import asyncio

import pytest

from adapters.llm.oauth_tokens import TokenCache
from domain.errors import AuthenticationError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Issuer:
    """Hands out numbered tokens of a given lifetime, slowly enough for calls to pile up."""

    def __init__(self, lifetime: float = 3600.0, failures: int = 0) -> None:
        self.lifetime = lifetime
        self.failures = failures
        self.exchanges = 0

    async def __call__(self) -> tuple[str, float]:
        self.exchanges += 1
        number = self.exchanges
        await asyncio.sleep(0.01)
        if self.failures:
            self.failures -= 1
            raise AuthenticationError("refused")
        return f"token-{number}", self.lifetime


async def test_concurrent_calls_share_one_exchange_and_later_ones_reuse_its_token() -> None:
    cache, issuer = TokenCache(Clock()), Issuer()

    tokens = await asyncio.gather(*(cache.token("key", issuer) for _ in range(10)))
    again = await cache.token("key", issuer)

    assert set(tokens) == {"token-1"} and again == "token-1"
    assert issuer.exchanges == 1


async def test_a_token_is_bought_anew_a_minute_before_it_expires() -> None:
    clock, issuer = Clock(), Issuer(lifetime=3600.0)
    cache = TokenCache(clock)
    await cache.token("key", issuer)

    clock.now += 3600.0 - 61.0
    kept = await cache.token("key", issuer)
    clock.now += 2.0
    renewed = await cache.token("key", issuer)

    assert (kept, renewed) == ("token-1", "token-2")


async def test_a_short_lived_token_is_used_for_half_its_life() -> None:
    clock, issuer = Clock(), Issuer(lifetime=60.0)
    cache = TokenCache(clock)
    await cache.token("key", issuer)

    clock.now += 29.0
    assert await cache.token("key", issuer) == "token-1"
    clock.now += 2.0
    assert await cache.token("key", issuer) == "token-2"


async def test_a_failed_exchange_is_raised_to_every_waiter_and_not_kept() -> None:
    cache, issuer = TokenCache(Clock()), Issuer(failures=1)

    results = await asyncio.gather(*(cache.token("key", issuer) for _ in range(3)), return_exceptions=True)

    assert all(isinstance(result, AuthenticationError) for result in results)
    assert await cache.token("key", issuer) == "token-2"


async def test_a_waiter_that_goes_away_leaves_the_exchange_running_for_the_others() -> None:
    cache, issuer = TokenCache(Clock()), Issuer()
    leaving = asyncio.ensure_future(cache.token("key", issuer))
    staying = asyncio.ensure_future(cache.token("key", issuer))
    await asyncio.sleep(0)

    leaving.cancel()

    assert await staying == "token-1"
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert issuer.exchanges == 1


async def test_different_credentials_get_their_own_tokens() -> None:
    cache, issuer = TokenCache(Clock()), Issuer()

    first, second = await asyncio.gather(cache.token("a", issuer), cache.token("b", issuer))

    assert {first, second} == {"token-1", "token-2"}

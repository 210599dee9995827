"""Instances of the gateway sharing the real Redis, for the contract suites of the Redis adapters."""

from __future__ import annotations

import os
import uuid

from redis.asyncio import Redis

from adapters.cache.redis_router_state import RedisRouterState


class RedisFleet:
    """Gateway instances sharing the real Redis (REDIS_URL): each its own client, all under one key prefix
    unique to the test, whose keys are deleted afterwards."""

    def __init__(self) -> None:
        self.url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
        self.prefix = f"switchyard-test:{uuid.uuid4().hex}:"
        self.admin = Redis.from_url(self.url)
        self.clients: list[Redis] = [self.admin]

    def client(self) -> Redis:
        client = Redis.from_url(self.url)
        self.clients.append(client)
        return client

    def instance(self) -> RedisRouterState:
        # A bound far above the adapter's own 0.25 s: these suites check what the instances count, and 50
        # concurrent first calls on a fresh client (50 connections opened, the scripts loaded) took longer
        # than 0.25 s on a busy host, which the resilient adapter rightly counted in process instead. The
        # tests of the bound itself build their instances with theirs.
        return RedisRouterState(self.client(), self.prefix, timeout=5.0)

    async def keys(self) -> list[bytes]:
        return [key async for key in self.admin.scan_iter(match=f"{self.prefix}*")]

    async def close(self) -> None:
        if keys := await self.keys():
            await self.admin.delete(*keys)
        for client in self.clients:
            await client.aclose()

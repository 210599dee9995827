"""The pass-through side of the composition root: one pooled client for every relayed provider call."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx

from adapters.llm.passthrough_relay import HttpxPassThrough
from bootstrap.upstreams import new_upstream_client
from ports.passthrough import PassThrough


async def open_passthrough_relay(
    client_factory: Callable[[], httpx.AsyncClient] = new_upstream_client,
) -> AsyncIterator[PassThrough]:
    client = client_factory()
    try:
        yield HttpxPassThrough(client)
    finally:
        await client.aclose()

"""A stopping server ends its background loops, even one that let a cancellation slip."""

from __future__ import annotations

import asyncio

from bootstrap.http import _stopped


async def test_a_loop_that_lost_a_cancellation_is_cancelled_again_until_it_ends() -> None:
    cancellations = 0

    async def forgetful_loop() -> None:
        nonlocal cancellations
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                cancellations += 1
                if cancellations > 1:
                    raise
                # swallowed, as asyncio.wait_for may on Python 3.11 when a result races the cancel

    task = asyncio.create_task(forgetful_loop())
    await asyncio.sleep(0)

    await asyncio.wait_for(_stopped(task), 5)

    assert task.cancelled()
    assert cancellations == 2


async def test_a_loop_that_ends_on_its_first_cancellation_is_cancelled_once() -> None:
    task = asyncio.create_task(asyncio.sleep(60))
    await asyncio.sleep(0)

    await _stopped(task)

    assert task.cancelled()

"""Stopping the triggers when a cancel is lost: on Python 3.11, asyncio.wait_for (inside
redis-py) drops a cancel that lands as the awaited call completes (CPython gh-86296). A gateway
stopped right after its start hung in Triggers.stop (found by test_gateway_failures_fake.py)."""

from __future__ import annotations

import asyncio

from faas.queue.retry import RetryPolicy
from faas.queue.triggers import Triggers
from faas.registry.store import Changes


class CancelLosingRegistry:
    """`changes()` swallows the first cancel, as wait_for does when the call completes with
    it."""

    def __init__(self) -> None:
        self.calls = 0
        self.listing = asyncio.Event()

    async def changes(self, since: int) -> Changes:
        self.calls += 1
        self.listing.set()
        if self.calls == 1:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                return Changes(0, [], [], complete=True)
        return Changes(0, [], [], complete=True)


def test_stop_ends_the_loops_even_if_a_cancel_is_lost() -> None:
    async def scenario() -> None:
        registry = CancelLosingRegistry()
        triggers = Triggers(
            None,  # type: ignore[arg-type]  # no stream triggers: the store is never used
            registry,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            name="gw",
            policy=RetryPolicy(),
            visibility=30.0,
        )
        await triggers.start()
        await registry.listing.wait()  # the refresh loop is inside `changes()`
        await asyncio.wait_for(triggers.stop(), 5)
        assert all(task.done() for task in triggers._loops)

    asyncio.run(scenario())

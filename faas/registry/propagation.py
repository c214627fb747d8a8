"""A deploy returns once every live gateway serves it.

Gateways follow the registry's change feed on their own (faas.pool.maintenance wakes on its
notices) and record the revision they have applied (`Registry.record_applied`). The
gateway that took a deploy waits here until every other live gateway (heartbeat) has reached
the deploy's revision, for a bounded time; the warm call path never reads any of it.
"""

from __future__ import annotations

import asyncio

from faas.registry.store import Registry

_POLL = 0.02  # seconds between reads of the applied revisions


async def wait_applied(registry: Registry, own_id: str, revision: int, timeout: float) -> list[str]:
    """Wait until every other live gateway has applied `revision`; return the ids of those
    that had not within `timeout` (they still answer with the previous code for a while)."""
    waiting = [gateway for gateway in await registry.live_gateways() if gateway != own_id]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while waiting:
        applied = await registry.applied(waiting)
        waiting = [g for g, seen in zip(waiting, applied, strict=True) if (seen or 0) < revision]
        if not waiting or loop.time() >= deadline:
            break
        await asyncio.sleep(_POLL)
    return sorted(waiting)

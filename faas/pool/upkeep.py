"""The pool between calls: expiry, pause, scale.min, engine events, and pool control by hand.

`tick` runs once a second (driven by faas.pool.maintenance) over the pools that hold
containers or keep scale.min ready, so its cost follows what runs, not what is registered.
`drain`, `pause_idle` and `prestart` are the `POST /system/function/{name}/pool` actions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from faas.errors import FaasError
from faas.pool.instances import Instances
from faas.pool.policy import FunctionPool

log = logging.getLogger(__name__)


class PoolUpkeep:
    def __init__(self, instances: Instances) -> None:
        self.instances = instances

    def tick(self) -> None:
        """Expire, pause, finish drains and top up scale.min; keep the generic spares."""
        instances = self.instances
        now = instances.clock()
        pause_after = instances.settings.pause_after
        for name, pool in list(instances.active.items()):
            for instance in pool.expired(now) + pool.drained():
                instances.discard(pool, instance)
            for instance in pool.to_pause(now, pause_after):
                instances.spawn(instances.pause(pool, instance))
            if not pool.backing_off(now):
                for _ in range(pool.deficit()):
                    instances.spawn(self._prestart_one(pool))
            if not pool.instances and pool.spec.scale.min == 0:
                del instances.active[name]  # nothing to look after until its next start
        if instances.generic is not None:
            instances.generic.tick(instances.budget.has_room)

    def tracks(self, container_id: str) -> bool:
        return self.instances.tracks(container_id)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self.instances.spawn(coro)

    async def _prestart_one(self, pool: FunctionPool) -> None:
        try:
            await self.instances.start(pool, None, prewarm=True)
        except FaasError as exc:
            log.warning("could not pre-start a container for %s: %s", pool.spec.name, exc)

    # -- engine events --------------------------------------------------------------------

    def container_exited(self, container_id: str, action: str) -> None:
        """The engine says a container stopped: an idle one leaves the pool at once."""
        instances = self.instances
        if instances.generic is not None:
            instances.generic.drop(container_id)
        found = instances.find(container_id)
        if found is None:
            return
        pool, instance = found
        if instance.inflight == 0:  # a call in flight finds out itself, with the right error
            log.info(
                "%s: container %s exited (%s) while idle", pool.spec.name, container_id[:12], action
            )
            instances.discard(pool, instance)

    async def recheck(self) -> None:
        """After an engine outage: drop every container the engine no longer runs."""
        instances = self.instances
        lifecycle, generic = instances.lifecycle, instances.generic
        for container_id in generic.spare_ids() if generic is not None else ():
            try:
                state = await lifecycle.state(container_id)
            except FaasError:
                return
            if not state.running and generic is not None:
                generic.drop(container_id)
        for pool in list(instances.active.values()):
            for instance in list(pool.instances):
                if instance.container_id is None or instance.inflight:
                    continue
                try:
                    state = await lifecycle.state(instance.container_id)
                except FaasError:
                    return
                if not state.running:
                    instances.discard(pool, instance)

    # -- pool control by hand -------------------------------------------------------------

    async def prestart(self, pool: FunctionPool, count: int) -> int:
        """Start `count` containers ahead of demand; returns how many are ready."""
        results = await asyncio.gather(
            *(self.instances.start(pool, None, prewarm=True) for _ in range(count)),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, FaasError):
                raise result
        return sum(1 for result in results if not isinstance(result, BaseException))

    async def drain(self, pool: FunctionPool) -> int:
        """Remove the function's idle containers now (benchmarks, `faas` pool control)."""
        idle = [i for i in pool.instances if i.idle]
        for instance in idle:
            self.instances.discard(pool, instance)
        await self.instances.settle()
        return len(idle)

    async def pause_idle(self, pool: FunctionPool) -> int:
        """Pause the function's running idle containers now."""
        ready = pool.to_pause(self.instances.clock(), grace=1e-9)
        await asyncio.gather(*(self.instances.pause(pool, i) for i in ready))
        return len(ready)

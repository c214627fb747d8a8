"""Background pool policy for one gateway: what happens between calls.

Once a second it removes containers idle past keep_alive, pauses those idle past
FAAS_PAUSE_AFTER, finishes drains and keeps scale.min containers ready. A thread follows
Docker's event stream, so a container that dies while idle is taken out of the pool before a
call can pick it; when that stream breaks (Docker down) it reconnects, and on reconnection
every container is checked again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from faas import keys
from faas.errors import FaasError
from faas.pool.invoker import Invoker
from faas.pool.policy import FunctionPool

log = logging.getLogger(__name__)

TICK = 1.0
EVENTS_RETRY = 1.0


class Maintenance:
    def __init__(self, invoker: Invoker) -> None:
        self.invoker = invoker
        self._tasks: list[asyncio.Task[None]] = []
        self.docker_connected = True

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._ticks(), name="faas-maintenance"),
            asyncio.create_task(self._watch_events(), name="faas-events"),
        ]

    async def stop(self) -> None:
        self.invoker.lifecycle.stop_events()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- policy ---------------------------------------------------------------------------

    async def _ticks(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            try:
                self.tick()
            except Exception:
                log.exception("pool maintenance failed")

    def tick(self) -> None:
        """Expire, pause, finish drains and top up scale.min, for every function."""
        invoker = self.invoker
        now = invoker.clock()
        for pool in invoker.pools:
            for instance in pool.expired(now) + pool.drained():
                invoker.discard(pool, instance)
            for instance in pool.to_pause(now, invoker.settings.pause_after):
                invoker.spawn(invoker.pause(pool, instance))
            if pool.backing_off(now):
                continue
            for _ in range(pool.deficit()):
                invoker.spawn(self._prestart_one(pool))
        if invoker.generic is not None:
            invoker.generic.maintain(invoker.pools, invoker.has_room)

    async def prestart(self, pool: FunctionPool, count: int) -> int:
        """Start `count` containers ahead of demand; returns how many are ready."""
        results = await asyncio.gather(
            *(self.invoker.start_instance(pool, {}, prewarm=True) for _ in range(count)),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, FaasError):
                raise result
        return sum(1 for result in results if not isinstance(result, BaseException))

    async def _prestart_one(self, pool: FunctionPool) -> None:
        try:
            await self.invoker.start_instance(pool, {}, prewarm=True)
        except FaasError as exc:
            log.warning("could not pre-start a container for %s: %s", pool.spec.name, exc)

    async def drain(self, pool: FunctionPool) -> int:
        """Remove the function's idle containers now (benchmarks, `faas` pool control)."""
        idle = [i for i in pool.instances if i.idle]
        for instance in idle:
            self.invoker.discard(pool, instance)
        await self.invoker.settle()
        return len(idle)

    async def pause_idle(self, pool: FunctionPool) -> int:
        """Pause the function's running idle containers now."""
        ready = pool.to_pause(self.invoker.clock(), grace=1e-9)
        await asyncio.gather(*(self.invoker.pause(pool, i) for i in ready))
        return len(ready)

    # -- orphans --------------------------------------------------------------------------

    async def reconcile(self, gateway_alive: Callable[[str], Awaitable[bool]]) -> int:
        """Remove containers left behind by gateways that no longer run, and our own stopped
        ones."""
        lifecycle = self.invoker.lifecycle
        found = await lifecycle.owned()  # [] until Redis says which stack is ours
        removed = 0
        for container in found:
            if container.labels.get(keys.LABEL_ROLE) not in keys.POOLED_ROLES:
                continue
            owner = container.labels.get(keys.LABEL_GATEWAY, "")
            if owner == lifecycle.gateway_id:
                # Ours: the pool tracks it. One it no longer tracks that has stopped is left
                # from a removal that failed (a Docker restart stops containers, then refuses
                # API calls): removed here.
                tracked = self.invoker.instance_by_container(container.id) is not None
                if not tracked and container.state in ("exited", "dead"):
                    await lifecycle.remove(container.id)
                    removed += 1
                continue
            if not owner or not await gateway_alive(owner):
                await lifecycle.remove(container.id)
                removed += 1
        if removed:
            log.info("removed %d stopped or orphaned function containers", removed)
        return removed

    # -- engine events -------------------------------------------------------------------

    async def _watch_events(self) -> None:
        """Follow die/oom events of our containers; reconnect when the stream breaks."""
        lifecycle = self.invoker.lifecycle
        while True:
            try:
                await lifecycle.ping()
                if not self.docker_connected:
                    self.docker_connected = True
                    log.info("Docker answers again: checking every container")
                    self.invoker.spawn(self._recheck_all())
                async for event in lifecycle.events():
                    self._on_exit(event.container_id, event.action)
            except FaasError as exc:
                if self.docker_connected:
                    log.warning("lost Docker's event stream: %s", exc.message)
                self.docker_connected = False
            except Exception:
                log.exception("Docker event stream failed")
                self.docker_connected = False
            await asyncio.sleep(EVENTS_RETRY)

    def _on_exit(self, container_id: str, action: str) -> None:
        if self.invoker.generic is not None:
            self.invoker.generic.drop(container_id)
        found = self.invoker.instance_by_container(container_id)
        if found is None:
            return
        pool, instance = found
        if instance.inflight == 0:  # a call in flight finds out itself, with the right error
            log.info(
                "%s: container %s exited (%s) while idle", pool.spec.name, container_id[:12], action
            )
            self.invoker.discard(pool, instance)

    async def _recheck_all(self) -> None:
        """After an outage: drop every container Docker no longer runs."""
        lifecycle = self.invoker.lifecycle
        generic = self.invoker.generic
        for container_id in generic.spare_ids() if generic is not None else ():
            try:
                state = await lifecycle.state(container_id)
            except FaasError:
                return
            if not state.running and generic is not None:
                generic.drop(container_id)
        for pool in self.invoker.pools:
            for instance in list(pool.instances):
                if instance.container_id is None or instance.inflight:
                    continue
                try:
                    state = await lifecycle.state(instance.container_id)
                except FaasError:
                    return
                if not state.running:
                    self.invoker.discard(pool, instance)

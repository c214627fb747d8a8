"""Instance management: every function container of this gateway, from start to removal.

Starts a container (or specialises a generic spare into one), resumes and pauses it, takes it
out of service and removes it in the background. Keeps the function pools, an index from
container id to instance (the engine's events name containers), and the set of pools that
hold containers or keep scale.min ready: the once-a-second upkeep walks only those, so a
registered function that sits idle costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from faas.errors import FaasError, FunctionFailed, FunctionInitError, Unavailable
from faas.pool.budget import MemoryBudget
from faas.pool.generic import GenericPool
from faas.pool.lifecycle import Lifecycle, Started
from faas.pool.policy import FunctionPool, Instance, StartKind, State
from faas.pool.trace import CallTrace
from faas.registry.store import LOG_ARCHIVE_LINES
from faas.settings import Settings

log = logging.getLogger(__name__)

INIT_BACKOFF_MAX = 30.0
RENAME_DELAY = 1.0  # seconds after a generic runtime was loaded


class Instances:
    """`wake(name)` lets a call waiting for a container of `name` decide again."""

    def __init__(
        self,
        lifecycle: Lifecycle,
        settings: Settings,
        *,
        wake: Callable[[str], None],
        generic: GenericPool | None = None,
        archive_logs: Callable[[str, list[str]], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lifecycle = lifecycle
        self.settings = settings
        self.generic = generic
        self.clock = clock
        self.pools: dict[str, FunctionPool] = {}
        # Pools with containers or a scale.min: the only ones the upkeep and budget look at.
        self.active: dict[str, FunctionPool] = {}
        self.budget = MemoryBudget(settings.memory_budget, self.active.values, generic)
        self._wake = wake
        self._archive_logs = archive_logs
        self._by_container: dict[str, tuple[FunctionPool, Instance]] = {}
        self._tasks: set[asyncio.Future[None]] = set()

    # -- pools ----------------------------------------------------------------------------

    def add(self, pool: FunctionPool) -> None:
        self.pools[pool.spec.name] = pool

    def watch(self, pool: FunctionPool) -> None:
        """Let the upkeep look at `pool` (it has containers or keeps scale.min ready)."""
        self.active[pool.spec.name] = pool

    def remove_pool(self, name: str) -> FunctionPool | None:
        self.active.pop(name, None)
        return self.pools.pop(name, None)

    def find(self, container_id: str) -> tuple[FunctionPool, Instance] | None:
        """The pool and instance of a container this gateway tracks."""
        return self._by_container.get(container_id)

    def tracks(self, container_id: str) -> bool:
        return container_id in self._by_container

    def _bind(self, pool: FunctionPool, instance: Instance, started: Started[Any]) -> None:
        instance.container_id = started.container_id
        instance.endpoint = started.endpoint
        self._by_container[started.container_id] = (pool, instance)

    # -- starting -------------------------------------------------------------------------

    def check_backoff(self, pool: FunctionPool) -> None:
        """A function that just failed to start is not started again at every request."""
        left = pool.backing_off(self.clock())
        if left and pool.last_init_error is not None:
            raise FunctionInitError(
                f"{pool.last_init_error} (not retried for another {left:.1f}s; "
                "fix the function and deploy it again)"
            )

    def make_room(self, pool: FunctionPool) -> None:
        """Evict what the memory budget says must go before another container of `pool`."""
        for owner, victim in self.budget.make_room(pool):
            log.info("evicting an idle %s container to make room", victim.function)
            self.discard(owner, victim)

    async def start(
        self, pool: FunctionPool, trace: CallTrace | None, *, prewarm: bool = False
    ) -> Instance:
        """Start a container; it is acquired for the caller unless it is a pre-start."""
        generic = self.generic
        if generic is not None and generic.dev.get(pool.spec.name) is not None:
            # Code pushed by `faas dev`: a generic container loaded with it, never the image.
            loaded = await self.specialise(
                pool, trace or CallTrace(), fresh=True, acquire=not prewarm
            )
            assert loaded is not None  # with pushed code it raises rather than fall back
            return loaded
        self.watch(pool)
        instance = pool.reserve(self.clock(), prewarmed=prewarm)
        try:
            started = await self.lifecycle.start(pool.spec, instance.image)
        except FunctionInitError as exc:
            pool.discard(instance)
            pool.init_failed(self.clock(), exc, self.settings.init_backoff, INIT_BACKOFF_MAX)
            self._wake(pool.spec.name)
            raise
        except BaseException:
            pool.discard(instance)
            self._wake(pool.spec.name)
            raise
        pool.init_ok()
        if trace is not None:
            trace.create, trace.start, trace.ready = (
                started.create_ms,
                started.start_ms,
                started.ready_ms,
            )
        if instance.state is State.DEAD:  # removed (function deleted) while it was starting
            await self.lifecycle.remove(started.container_id, started.endpoint)
            raise FunctionFailed(f"function {pool.spec.name!r} was removed while starting")
        self._bind(pool, instance, started)
        if instance.state is State.CREATING:
            pool.ready(instance, self.clock())
        if not prewarm:
            pool.acquire(instance)
        return instance

    async def specialise(
        self, pool: FunctionPool, trace: CallTrace, *, fresh: bool = False, acquire: bool = True
    ) -> Instance | None:
        """Turn a spare generic runtime into a container of `pool`'s function, acquired for
        the caller unless not `acquire`; None when there is no spare (or it was lost): start
        one cold instead.

        Code pushed by `faas dev` is never served from the image: without a spare (or when
        `fresh`: from `start`) a generic container is started for it (a cold start)."""
        generic = self.generic
        if generic is None:
            return None
        pushed = generic.dev.get(pool.spec.name) is not None
        taken = None if fresh else generic.take(pool.spec, pool.image)
        if taken is None and not pushed:
            return None
        if taken is None and not fresh:
            self.make_room(pool)  # before the reservation, which the budget counts (as start)
        self.watch(pool)
        instance = pool.reserve(self.clock(), prewarmed=True)
        if taken is None:
            if trace.attempts:
                trace.became(StartKind.COLD)
            try:
                taken = await generic.start_for(pool.spec)
            except BaseException:
                pool.discard(instance)
                self._wake(pool.spec.name)
                raise
            started = taken[0]
            trace.create, trace.start, trace.ready = (
                started.create_ms,
                started.start_ms,
                started.ready_ms,
            )
        started, files = taken
        self._bind(pool, instance, started)
        t0 = time.perf_counter()
        try:
            await generic.specialise(started.endpoint, pool.spec, files)
            trace.load = (time.perf_counter() - t0) * 1e3  # as the gateway saw it
        except FunctionInitError as exc:
            self.discard(pool, instance)
            pool.init_failed(self.clock(), exc, self.settings.init_backoff, INIT_BACKOFF_MAX)
            raise
        except FaasError as exc:
            self.discard(pool, instance)
            if pushed:  # the image holds older code: never fall back to it
                raise
            log.info("%s: a generic runtime failed (%s); starting cold", pool.spec.name, exc)
            return None
        except BaseException:
            self.discard(pool, instance)
            raise
        pool.init_ok()
        if instance.state is State.DEAD:  # removed (function deleted) while it was loading
            raise FunctionFailed(f"function {pool.spec.name!r} was removed while starting")
        # Later, not in this call's way: the rename is an engine call on a worker thread.
        cid, name = started.container_id, pool.spec.name
        asyncio.get_running_loop().call_later(
            RENAME_DELAY, lambda: self.spawn(generic.rename(cid, name))
        )
        pool.ready(instance, self.clock())
        if acquire:
            pool.acquire(instance)
        return instance

    # -- pause and resume -----------------------------------------------------------------

    async def resume(self, pool: FunctionPool, instance: Instance, trace: CallTrace) -> bool:
        """Unpause a container picked (acquired) for this call; False if it turned out to be
        dead. The caller releases it when this raises or returns False."""
        t0 = time.perf_counter()
        if instance.transition is not None:
            await asyncio.shield(instance.transition)  # its pause is still under way
        assert instance.container_id is not None
        try:
            await self.lifecycle.resume(instance.container_id)
        except FaasError as exc:
            if isinstance(exc, Unavailable):
                raise
            log.info(
                "%s: a paused container could not resume (%s); replacing it", pool.spec.name, exc
            )
            return False
        trace.start = (time.perf_counter() - t0) * 1e3
        return True

    async def pause(self, pool: FunctionPool, instance: Instance) -> None:
        """Freeze an idle container (cgroup freezer); the next call that picks it resumes it."""
        if instance.state is not State.READY or instance.inflight or instance.container_id is None:
            return
        pool.pause(instance)
        task = asyncio.ensure_future(self.lifecycle.pause(instance.container_id))
        instance.transition = task
        try:
            await task
        except FaasError as exc:
            log.info("%s: could not pause a container (%s); removing it", pool.spec.name, exc)
            self.discard(pool, instance)
        finally:
            instance.transition = None

    # -- removal --------------------------------------------------------------------------

    def discard(self, pool: FunctionPool, instance: Instance) -> None:
        """Take an instance out of service at once; remove its container in the background."""
        if instance.state is State.DEAD and instance not in pool.instances:
            return
        pool.discard(instance)
        self._wake(pool.spec.name)
        if instance.endpoint is not None:
            instance.endpoint.close()
        if instance.container_id is not None:
            self._by_container.pop(instance.container_id, None)
            self.spawn(self._remove(pool.spec.name, instance.container_id, instance.endpoint))

    async def _remove(self, name: str, container_id: str, endpoint: Any) -> None:
        try:
            if self._archive_logs is not None:
                with contextlib.suppress(Exception):
                    await self._archive_logs(name, await self._last_lines(container_id))
            await self.lifecycle.remove(container_id, endpoint)
        except FaasError as exc:  # engine going away: the maintenance's reconcile removes it
            log.warning("could not remove container %s of %s: %s", container_id[:12], name, exc)
        except Exception:  # the reconcile removes it; keep serving meanwhile
            log.exception("could not remove container %s of %s", container_id[:12], name)

    async def _last_lines(self, container_id: str) -> list[str]:
        """What the archive keeps of a removed container: its newest lines, bounded."""
        page = self.lifecycle.settings.logs_max_bytes
        return await self.lifecycle.logs(container_id, tail=LOG_ARCHIVE_LINES, max_bytes=page)

    def spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Future[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait for background removals and starts to finish."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Remove every container this gateway started."""
        for pool in list(self.pools.values()):
            for instance in pool:
                self.discard(pool, instance)
        if self.generic is not None:
            await self.generic.close()
        await self.settle()

    async def live_logs(
        self, name: str, since: float | None = None, **bounds: Any
    ) -> list[list[str]]:
        """Log lines of each of the function's current containers (bounds: `until`, `tail`,
        `max_bytes`, as for `Lifecycle.logs`)."""
        pool = self.pools.get(name)
        ids = [i.container_id for i in pool or () if i.container_id is not None]
        return list(await asyncio.gather(*(self.lifecycle.logs(c, since, **bounds) for c in ids)))

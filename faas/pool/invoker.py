"""Serve calls from the warm pool: pick, resume or start a container, call it, account for it.

Runs on one asyncio loop. Pool decisions are pure (`faas.pool`) and happen between awaits, so
they are atomic without a lock; Docker work runs in threads around them, so different
functions (and several containers of one function) start in parallel. A warm call touches no
Docker API: it is a dictionary lookup and one request on a pooled keep-alive connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from faas.contracts.base import CallRequest, CallResponse, Endpoint
from faas.contracts.transport import ConnectFailed, ConnectionLost
from faas.errors import (
    AtScaleLimit,
    FaasError,
    FunctionFailed,
    FunctionInitError,
    FunctionTimeout,
    Unavailable,
)
from faas.pool.generic import GAUGE_NAME, GenericPool
from faas.pool.lifecycle import Lifecycle
from faas.pool.metrics import Metrics
from faas.pool.policy import (
    Create,
    FunctionPool,
    Instance,
    Reuse,
    StartKind,
    State,
    Wait,
    choose_victims,
)
from faas.pool.recent import RecentCalls
from faas.registry.store import FunctionRecord
from faas.settings import Settings

log = logging.getLogger(__name__)

INIT_BACKOFF_MAX = 30.0
RENAME_DELAY = 1.0  # seconds after a generic runtime was loaded


@dataclass
class CallResult:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    start: StartKind
    timings: dict[str, float]  # milliseconds, Server-Timing order


@dataclass
class FunctionStats:
    calls: int = 0
    errors: int = 0
    starts: dict[str, int] = field(default_factory=lambda: {k.value: 0 for k in StartKind})


class Invoker:
    """Owns every function container of this gateway process."""

    def __init__(
        self,
        lifecycle: Lifecycle,
        settings: Settings,
        *,
        metrics: Metrics | None = None,
        generic: GenericPool | None = None,
        archive_logs: Callable[[str, list[str]], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lifecycle = lifecycle
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.recent = RecentCalls(settings.recent_calls)
        self.generic = generic
        self.clock = clock
        self._archive_logs = archive_logs
        self._pools: dict[str, FunctionPool] = {}
        self._waiters: dict[str, deque[asyncio.Future[None]]] = {}
        self._stats: dict[str, FunctionStats] = {}
        self._tasks: set[asyncio.Future[None]] = set()
        self.metrics.watch_pools(self._pool_counts)

    def _pool_counts(self) -> dict[str, dict[str, int]]:
        counts = {name: pool.counts() for name, pool in self._pools.items()}
        if self.generic is not None:
            counts[GAUGE_NAME] = self.generic.counts()
        return counts

    @property
    def pools(self) -> Iterable[FunctionPool]:
        return list(self._pools.values())

    def pool(self, name: str) -> FunctionPool | None:
        return self._pools.get(name)

    async def close(self) -> None:
        """Remove every container this gateway started."""
        for pool in self.pools:
            for instance in pool:
                self.discard(pool, instance)
        if self.generic is not None:
            await self.generic.close()
        await self.settle()

    # -- registration ---------------------------------------------------------------------

    def sync(self, record: FunctionRecord) -> FunctionPool:
        """Apply a (re)deploy: later calls use the new image and config; old containers drain."""
        pool = self._pools.get(record.name)
        if pool is None:
            pool = self._pools[record.name] = FunctionPool(record.spec, record.image)
            self._waiters[record.name] = deque()
            self._stats[record.name] = FunctionStats()
        else:
            for instance in pool.update(record.spec, record.image):
                if instance.inflight == 0:
                    self.discard(pool, instance)
            self._wake(record.name)
        if self.generic is not None:  # read new code now, not at the next tick
            self.generic.maintain(self.pools, self.has_room)
        return pool

    async def forget(self, name: str) -> None:
        """A removed function: remove its containers now."""
        pool = self._pools.pop(name, None)
        self._stats.pop(name, None)
        self.metrics.forget(name)
        for waiter in self._waiters.pop(name, deque()):
            if not waiter.done():
                waiter.cancel()
        if pool is not None:
            for instance in pool:
                self.discard(pool, instance)
        await self.settle()

    # -- calls ----------------------------------------------------------------------------

    async def call(self, record: FunctionRecord, request: CallRequest, call_id: str) -> CallResult:
        pool = self._pools.get(record.name)
        if pool is None or pool.image != record.image or pool.spec != record.spec:
            pool = self.sync(record)
        stats = self._stats[record.name]
        stats.calls += 1
        started_at = time.time()
        t0 = self.clock()
        timings: dict[str, float] = {}
        kinds: list[StartKind] = []  # how each attempt was served (a retry replaces a dead one)
        status = 0
        error: FaasError | None = None
        try:
            response = await self._serve(pool, request, call_id, timings, kinds)
            status = response.status
            if response.handler_ms is not None:
                timings["handler"] = response.handler_ms
        except FaasError as exc:
            error, status = exc, exc.status
            raise
        finally:
            total = self.clock() - t0
            timings["total"] = total * 1e3
            kind = kinds[-1] if kinds else None
            if kind is not None:
                stats.starts[kind.value] += 1
            if status >= 500 or error is not None:
                stats.errors += 1
            self._account(record.name, call_id, kind, status, timings, error, started_at, total)
        assert kind is not None
        return CallResult(response.status, response.headers, response.body, kind, timings)

    async def _serve(
        self,
        pool: FunctionPool,
        request: CallRequest,
        call_id: str,
        timings: dict[str, float],
        kinds: list[StartKind],
    ) -> CallResponse:
        """Acquire a container and send the call; a dead idle container is replaced unseen."""
        for attempt in range(3):
            instance, kind = await self._acquire(pool, request.force_cold, timings, kinds)
            kinds.append(kind)
            try:
                return await self._send(pool, instance, request, call_id)
            except ConnectFailed:
                # Never delivered: the container died while idle. Replace it, unless it was
                # just started for this very call (then the start itself is what failed).
                self.discard(pool, instance)
                if kind is StartKind.COLD or attempt == 2:
                    raise
                log.info("%s: container %s was gone; using another", pool.spec.name, instance.seq)
            finally:
                self._release(pool, instance)
        raise AssertionError("unreachable")

    def _account(
        self,
        name: str,
        call_id: str,
        kind: StartKind | None,
        status: int,
        timings: dict[str, float],
        error: FaasError | None,
        started_at: float,
        total: float,
    ) -> None:
        self.metrics.observe_call(name, status, kind.value if kind else None, total)
        if "queue" in timings:
            self.metrics.queue_wait.labels(name).observe(timings["queue"] / 1e3)
        self.recent.add(
            call_id,
            {
                "call_id": call_id,
                "function": name,
                "mode": "sync",
                "status": "failed" if error is not None or status >= 500 else "succeeded",
                "http_status": status,
                "start": kind.value if kind else None,
                "timings": dict(timings),
                "error": {"code": error.code, "message": error.message} if error else None,
                "created_at": started_at,
                "finished_at": started_at + total,
                "attempts": 1,
            },
        )

    async def _acquire(
        self,
        pool: FunctionPool,
        force_cold: bool,
        timings: dict[str, float],
        kinds: list[StartKind],
    ) -> tuple[Instance, StartKind]:
        name = pool.spec.name
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.queue_timeout
        waited = 0.0
        while True:
            decision = pool.decide(force_cold=force_cold)
            if isinstance(decision, Reuse):
                instance = decision.instance
                pool.acquire(instance)
                if waited:
                    timings["queue"] = waited * 1e3
                if decision.kind is StartKind.PAUSED and not await self._resume(
                    pool, instance, timings
                ):
                    continue  # it died while paused: decide again
                return instance, decision.kind
            if isinstance(decision, Create):
                if waited:
                    timings["queue"] = waited * 1e3
                self._check_backoff(pool)
                if not force_cold and self.generic is not None:
                    kinds.append(StartKind.PREWARM)  # attributed even if the load fails
                    specialised = await self._specialise(pool, self.generic, timings)
                    kinds.pop()
                    if specialised is not None:
                        return specialised, StartKind.PREWARM
                self._make_room(pool)
                kinds.append(StartKind.COLD)  # attributed even if the start fails
                instance = await self.start_instance(pool, timings)
                kinds.pop()
                return instance, StartKind.COLD
            assert isinstance(decision, Wait)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AtScaleLimit(
                    f"function {name!r} is at its scale limit ({pool.spec.scale.max} containers, "
                    f"all busy) and none freed up within {self.settings.queue_timeout:g}s "
                    "(FAAS_QUEUE_TIMEOUT): raise scale.max or concurrency in its faas.yaml, "
                    "or retry later",
                    retry_after=1.0,
                )
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters[name].append(waiter)
            started = loop.time()
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                pass
            finally:
                waited += loop.time() - started
                with contextlib.suppress(ValueError):
                    self._waiters[name].remove(waiter)

    def _check_backoff(self, pool: FunctionPool) -> None:
        """A function that just failed to start is not started again at every request."""
        left = pool.backing_off(self.clock())
        if left and pool.last_init_error is not None:
            raise FunctionInitError(
                f"{pool.last_init_error} (not retried for another {left:.1f}s; "
                "fix the function and deploy it again)"
            )

    def _make_room(self, pool: FunctionPool) -> None:
        """Keep the sum of memory limits within FAAS_MEMORY_BUDGET, evicting idle LRU containers.

        Generic spares give way first: losing one costs a later call ~200 ms at most.
        """
        budget = self.settings.memory_budget
        if self.generic is not None:
            self.generic.shrink(self.memory_in_use() + pool.spec.memory - budget)
            budget -= self.generic.memory_in_use()
        victims = choose_victims(self.pools, pool.spec.memory, budget)
        if victims is None:
            raise Unavailable(
                f"no room for another {pool.spec.memory // 2**20}Mi container of "
                f"{pool.spec.name!r}: every container within FAAS_MEMORY_BUDGET "
                f"({self.settings.memory_budget // 2**20}Mi) is busy; retry later or raise it"
            )
        for victim in victims:
            owner = self._pools.get(victim.function)
            if owner is not None:
                log.info("evicting an idle %s container to make room", victim.function)
                self.discard(owner, victim)

    def memory_in_use(self) -> int:
        """The sum of the memory limits of every live container, spares included."""
        spares = self.generic.memory_in_use() if self.generic is not None else 0
        return spares + sum(pool.memory_in_use() for pool in self.pools)

    def has_room(self, memory: int) -> bool:
        return self.memory_in_use() + memory <= self.settings.memory_budget

    async def start_instance(
        self, pool: FunctionPool, timings: dict[str, float], *, prewarm: bool = False
    ) -> Instance:
        """Start a container; it is acquired for the caller unless it is a pre-start."""
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
        instance.container_id = started.container_id
        instance.endpoint = started.endpoint
        timings.update(create=started.create_ms, start=started.start_ms, ready=started.ready_ms)
        if instance.state is State.DEAD:  # removed (function deleted) while it was starting
            await self.lifecycle.remove(started.container_id, started.endpoint)
            raise FunctionFailed(f"function {pool.spec.name!r} was removed while starting")
        if instance.state is State.CREATING:
            pool.ready(instance, self.clock())
        if not prewarm:
            pool.acquire(instance)
        return instance

    async def _specialise(
        self, pool: FunctionPool, generic: GenericPool, timings: dict[str, float]
    ) -> Instance | None:
        """Turn a spare generic runtime into a container of `pool`'s function, acquired for
        the caller; None when there is no spare (or it was lost): start one cold instead."""
        taken = generic.take(pool.spec, pool.image)
        if taken is None:
            return None
        started, files = taken
        instance = pool.reserve(self.clock(), prewarmed=True)
        instance.container_id = started.container_id
        instance.endpoint = started.endpoint
        t0 = time.perf_counter()
        try:
            await generic.specialise(started.endpoint, pool.spec, files)
            timings["load"] = (time.perf_counter() - t0) * 1e3  # as the gateway saw it
        except FunctionInitError as exc:
            self.discard(pool, instance)
            pool.init_failed(self.clock(), exc, self.settings.init_backoff, INIT_BACKOFF_MAX)
            raise
        except FaasError as exc:
            log.info("%s: a generic runtime failed (%s); starting cold", pool.spec.name, exc)
            self.discard(pool, instance)
            return None
        except BaseException:
            self.discard(pool, instance)
            raise
        pool.init_ok()
        if instance.state is State.DEAD:  # removed (function deleted) while it was loading
            raise FunctionFailed(f"function {pool.spec.name!r} was removed while starting")
        # Later, not in this call's way: the rename is a Docker API call on a worker thread.
        cid, name = started.container_id, pool.spec.name
        asyncio.get_running_loop().call_later(
            RENAME_DELAY, lambda: self.spawn(generic.rename(cid, name))
        )
        pool.ready(instance, self.clock())
        pool.acquire(instance)
        return instance

    async def _resume(
        self, pool: FunctionPool, instance: Instance, timings: dict[str, float]
    ) -> bool:
        """Unpause a container picked for this call; False if it turned out to be dead."""
        t0 = time.perf_counter()
        if instance.transition is not None:
            await asyncio.shield(instance.transition)  # its pause is still under way
        assert instance.container_id is not None
        try:
            await self.lifecycle.resume(instance.container_id)
        except FaasError as exc:
            if isinstance(exc, Unavailable):
                self._release(pool, instance)
                raise
            log.info(
                "%s: a paused container could not resume (%s); replacing it", pool.spec.name, exc
            )
            self._release(pool, instance)
            self.discard(pool, instance)
            return False
        timings["start"] = (time.perf_counter() - t0) * 1e3
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

    async def _send(
        self, pool: FunctionPool, instance: Instance, request: CallRequest, call_id: str
    ) -> CallResponse:
        spec = pool.spec
        sent_at = time.time()
        endpoint: Endpoint = instance.endpoint
        try:
            return await endpoint.call(request, call_id, spec.timeout)
        except TimeoutError:
            self.discard(pool, instance)
            raise FunctionTimeout(
                f"function {spec.name!r} did not answer within {spec.timeout:g}s; its container "
                "was removed: raise `timeout` in its faas.yaml if the work needs longer"
            ) from None
        except ConnectFailed:
            raise
        except ConnectionLost:
            assert instance.container_id is not None
            error = await self.lifecycle.diagnose(spec, instance.container_id, sent_at)
            self.discard(pool, instance)
            raise error from None

    def _release(self, pool: FunctionPool, instance: Instance) -> None:
        if instance.state is State.DEAD:
            return
        pool.release(instance, self.clock())
        if instance.state is State.DRAINING and instance.inflight == 0:
            self.discard(pool, instance)
        self._wake(pool.spec.name)

    def _wake(self, name: str) -> None:
        """Let the longest-waiting call decide again (FIFO)."""
        for waiter in self._waiters.get(name, ()):
            if not waiter.done():
                waiter.set_result(None)
                return

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
            self.spawn(self._remove(pool.spec.name, instance.container_id, instance.endpoint))

    async def _remove(self, name: str, container_id: str, endpoint: Any) -> None:
        try:
            if self._archive_logs is not None:
                with contextlib.suppress(Exception):
                    await self._archive_logs(name, await self.lifecycle.logs(container_id))
            await self.lifecycle.remove(container_id, endpoint)
        except FaasError as exc:  # Docker going away: faas.maintenance's reconcile removes it
            log.warning("could not remove container %s of %s: %s", container_id[:12], name, exc)
        except Exception:  # the reconcile removes it; keep serving meanwhile
            log.exception("could not remove container %s of %s", container_id[:12], name)

    def spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Future[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self) -> None:
        """Wait for background removals and starts to finish."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- introspection --------------------------------------------------------------------

    def instance_by_container(self, container_id: str) -> tuple[FunctionPool, Instance] | None:
        for pool in self.pools:
            for instance in pool.instances:
                if instance.container_id == container_id:
                    return pool, instance
        return None

    async def live_logs(self, name: str, since: float | None = None) -> list[str]:
        """Log lines of the function's current containers, in time order."""
        pool = self._pools.get(name)
        ids = [i.container_id for i in pool or () if i.container_id is not None]
        batches = await asyncio.gather(*(self.lifecycle.logs(cid, since) for cid in ids))
        return sorted(line for batch in batches for line in batch)

    def describe(self, name: str) -> dict[str, object]:
        pool = self._pools.get(name)
        stats = self._stats.get(name, FunctionStats())
        return {
            "containers": pool.counts() if pool else {},
            "instances": [
                {
                    "container_id": i.container_id,
                    "state": i.state.value,
                    "address": str(i.endpoint) if i.endpoint else None,
                    "calls": i.calls,
                    "inflight": i.inflight,
                    "prewarmed": i.prewarmed,
                }
                for i in pool or ()
            ],
            "calls": stats.calls,
            "errors": stats.errors,
            "starts": dict(stats.starts),
            "generic": (
                self.generic.describe(pool.spec, pool.image)
                if self.generic is not None and pool is not None
                else None
            ),
        }

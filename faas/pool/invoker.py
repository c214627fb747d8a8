"""The call path: acquire a container for a call (waiting FIFO at the scale limit, 429 after
FAAS_QUEUE_TIMEOUT), send the request to it, release it; and (re)deploys applied to the pool.

Runs on one asyncio loop. Pool decisions are pure (`faas.pool.policy`) and happen between
awaits, so they are atomic without a lock; engine work (faas.pool.instances) runs around them,
so different functions (and several containers of one function) start in parallel. A warm call
touches no engine API: a dictionary lookup, a pure decision and one `endpoint.call` on a pooled
keep-alive connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from faas.contracts.base import CallRequest, CallResponse, Endpoint
from faas.contracts.transport import ConnectFailed, ConnectionLost
from faas.errors import AtScaleLimit, FaasError, FunctionTimeout
from faas.pool.accounting import Accounting
from faas.pool.generic import GenericPool
from faas.pool.instances import Instances
from faas.pool.lifecycle import Lifecycle
from faas.pool.metrics import Metrics
from faas.pool.policy import (
    Create,
    Evict,
    FunctionPool,
    Instance,
    Reuse,
    StartKind,
    State,
    Wait,
)
from faas.pool.recent import RecentSyncCalls
from faas.pool.tasks import TaskRunner
from faas.pool.trace import CallTrace
from faas.pool.upkeep import PoolUpkeep
from faas.registry.store import FunctionRecord
from faas.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class CallResult:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    trace: CallTrace

    @property
    def start(self) -> StartKind:
        """How the call was served (the `X-Faas-Start` header)."""
        kind = self.trace.kind
        assert kind is not None  # a call with a response was attempted
        return kind

    @property
    def timings(self) -> dict[str, float]:
        """Milliseconds per phase, in Server-Timing order."""
        return self.trace.timings()


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
        self.settings = settings
        self.clock = clock
        self.generic = generic
        self._waiters: dict[str, deque[asyncio.Future[None]]] = {}
        self.instances = Instances(
            lifecycle,
            settings,
            wake=self._wake,
            generic=generic,
            archive_logs=archive_logs,
            clock=clock,
        )
        self.upkeep = PoolUpkeep(self.instances)
        self.tasks = TaskRunner(lifecycle, self.instances.spawn)
        self._pools = self.instances.pools
        self.accounting = Accounting(
            metrics or Metrics(),
            RecentSyncCalls(settings.recent_calls),
            lambda: self._pools,
            generic,
        )
        self.metrics = self.accounting.metrics
        self.recent = self.accounting.recent

    def pool(self, name: str) -> FunctionPool | None:
        return self._pools.get(name)

    async def close(self) -> None:
        """Remove every container this gateway started."""
        await self.instances.close()

    # -- registration ---------------------------------------------------------------------

    def sync(self, record: FunctionRecord) -> FunctionPool:
        """Apply a (re)deploy: later calls use the new image and config; old containers drain.

        O(1) for a record that did not change: the gateway syncs every function it hears of.
        """
        pool = self._pools.get(record.name)
        if pool is not None and pool.image == record.image and pool.spec == record.spec:
            pool.spec = record.spec  # the same object from now on: calls compare by identity
            return pool
        if pool is None:
            pool = FunctionPool(record.spec, record.image)
            self.instances.add(pool)
            self._waiters[record.name] = deque()
            self.accounting.add(record.name)
        else:
            for instance in pool.update(record.spec, record.image):
                if instance.inflight == 0:
                    self.instances.discard(pool, instance)
            self._wake(record.name)
        if record.spec.scale.min > 0:
            self.instances.watch(pool)
        if self.generic is not None:  # read new code now, not at the next tick
            self.generic.learn(
                record.name, record.spec, record.image, self.instances.budget.has_room
            )
        return pool

    async def forget(self, name: str) -> None:
        """A removed function: remove its containers now."""
        pool = self.instances.remove_pool(name)
        self.accounting.forget(name)
        if self.generic is not None:
            self.generic.forget(name)
        for waiter in self._waiters.pop(name, deque()):
            if not waiter.done():
                waiter.cancel()
        if pool is not None:
            for instance in pool:
                self.instances.discard(pool, instance)
        await self.instances.settle()

    # -- calls ----------------------------------------------------------------------------

    async def call(self, record: FunctionRecord, request: CallRequest, call_id: str) -> CallResult:
        pool = self._pools.get(record.name)
        if (
            pool is None
            or pool.image != record.image
            or (pool.spec is not record.spec and pool.spec != record.spec)
        ):
            pool = self.sync(record)
        stats = self.accounting.begin(record.name)
        started_at = time.time()
        t0 = self.clock()
        trace = CallTrace()
        status = 0
        error: FaasError | None = None
        try:
            if record.spec.contract == "task":  # one container per call (faas.pool.tasks)
                trace.attempt(StartKind.COLD)
                response = await self.tasks.run(record.spec, record.image, request, call_id, trace)
            else:
                response = await self._serve(pool, request, call_id, trace)
            status = response.status
            trace.handler = response.handler_ms
        except FaasError as exc:
            error, status = exc, exc.status
            raise
        finally:
            total = self.clock() - t0
            trace.total = total * 1e3
            self.accounting.finish(
                stats, record.name, call_id, trace, status, error, started_at, total
            )
        return CallResult(response.status, response.headers, response.body, trace)

    async def _serve(
        self, pool: FunctionPool, request: CallRequest, call_id: str, trace: CallTrace
    ) -> CallResponse:
        """Acquire a container and send the call; a dead idle container is replaced unseen."""
        for attempt in range(3):
            instance = await self._acquire(pool, request.force_cold, trace)
            try:
                return await self._send(pool, instance, request, call_id)
            except ConnectFailed:
                # Never delivered: the container died while idle. Replace it, unless it was
                # just started for this very call (then the start itself is what failed).
                self.instances.discard(pool, instance)
                if trace.kind is StartKind.COLD or attempt == 2:
                    raise
                log.info("%s: container %s was gone; using another", pool.spec.name, instance.seq)
            finally:
                self._release(pool, instance)
        raise AssertionError("unreachable")

    async def _acquire(self, pool: FunctionPool, force_cold: bool, trace: CallTrace) -> Instance:
        """A container acquired for this call; records the attempt's start kind in `trace`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.queue_timeout
        waited = 0.0
        instances = self.instances
        while True:
            decision = pool.decide(force_cold=force_cold)
            if isinstance(decision, Reuse):
                instance = decision.instance
                pool.acquire(instance)
                if waited:
                    trace.queue = waited * 1e3
                if decision.kind is StartKind.PAUSED:
                    try:
                        resumed = await instances.resume(pool, instance, trace)
                    except BaseException:
                        self._release(pool, instance)
                        raise
                    if not resumed:  # it died while paused: decide again
                        self._release(pool, instance)
                        instances.discard(pool, instance)
                        continue
                trace.attempt(decision.kind)
                return instance
            if isinstance(decision, Create):
                if waited:
                    trace.queue = waited * 1e3
                instances.check_backoff(pool)
                if not force_cold and self.generic is not None:
                    trace.attempt(StartKind.PREWARM)  # attributed even if the load fails
                    specialised = await instances.specialise(pool, trace)
                    if specialised is not None:
                        return specialised
                    trace.became(StartKind.COLD)
                else:
                    trace.attempt(StartKind.COLD)  # attributed even if the start fails
                instances.make_room(pool)
                return await instances.start(pool, trace)
            if isinstance(decision, Evict):  # forced cold at scale.max: an idle one makes room
                instances.discard(pool, decision.instance)
                continue
            assert isinstance(decision, Wait)
            waited += await self._wait(pool, deadline - loop.time())

    async def _wait(self, pool: FunctionPool, remaining: float) -> float:
        """Wait in line (FIFO) for a release; returns the seconds waited."""
        name = pool.spec.name
        if remaining <= 0:
            raise AtScaleLimit(
                f"function {name!r} is at its scale limit ({pool.spec.scale.max} containers, "
                f"all busy) and none freed up within {self.settings.queue_timeout:g}s "
                "(FAAS_QUEUE_TIMEOUT): raise scale.max or concurrency in its faas.yaml, "
                "or retry later",
                retry_after=1.0,
            )
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters[name].append(waiter)
        started = loop.time()
        try:
            await asyncio.wait_for(waiter, remaining)
        except TimeoutError:
            pass
        finally:
            with contextlib.suppress(ValueError):
                self._waiters[name].remove(waiter)
        return loop.time() - started

    async def _send(
        self, pool: FunctionPool, instance: Instance, request: CallRequest, call_id: str
    ) -> CallResponse:
        spec = pool.spec
        sent_at = time.time()
        endpoint: Endpoint = instance.endpoint
        try:
            return await endpoint.call(request, call_id, spec.timeout)
        except TimeoutError:
            self.instances.discard(pool, instance)
            raise FunctionTimeout(
                f"function {spec.name!r} did not answer within {spec.timeout:g}s; its container "
                "was removed: raise `timeout` in its faas.yaml if the work needs longer"
            ) from None
        except ConnectionLost:  # maybe delivered: never re-sent; ConnectFailed passes through
            assert instance.container_id is not None
            error = await self.instances.lifecycle.diagnose(spec, instance.container_id, sent_at)
            self.instances.discard(pool, instance)
            raise error from None

    def _release(self, pool: FunctionPool, instance: Instance) -> None:
        if instance.state is State.DEAD:
            return
        pool.release(instance, self.clock())
        if instance.state is State.DRAINING and instance.inflight == 0:
            self.instances.discard(pool, instance)
        self._wake(pool.spec.name)

    def _wake(self, name: str) -> None:
        """Let the longest-waiting call decide again (FIFO)."""
        for waiter in self._waiters.get(name, ()):
            if not waiter.done():
                waiter.set_result(None)
                return

    # -- introspection --------------------------------------------------------------------

    def describe(self, name: str) -> dict[str, object]:
        return self.accounting.describe(name)

    async def live_logs(
        self, name: str, since: float | None = None, **bounds: Any
    ) -> list[list[str]]:
        return await self.instances.live_logs(name, since, **bounds)

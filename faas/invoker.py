"""Serve calls from the warm pool: pick or start a container, call it, account for it.

Runs on one asyncio loop. Pool decisions are pure (`faas.pool`) and happen between awaits, so
they are atomic without a lock; Docker work runs in threads around them, so different
functions (and several containers of one function) start in parallel. A warm call touches no
Docker API: it is a dictionary lookup and one request on a pooled connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from faas import keys
from faas.errors import (
    AtScaleLimit,
    FunctionFailed,
    FunctionTimeout,
)
from faas.instances import Containers
from faas.pool import Create, FunctionPool, Instance, Reuse, StartKind, State, Wait
from faas.registry import FunctionRecord
from faas.transport import Channel, ConnectionLost, Response

log = logging.getLogger(__name__)

QUEUE_TIMEOUT = 10.0  # how long a call waits for a container at scale.max before 429
JANITOR_INTERVAL = 1.0

_HOP_BY_HOP = frozenset(
    b"connection keep-alive proxy-authenticate proxy-authorization te trailer trailers "
    b"transfer-encoding upgrade host content-length".split()
)
_HANDLER_MS = b"x-faas-handler-ms"


@dataclass(frozen=True)
class CallRequest:
    """An HTTP call as the gateway received it; `target` is the path after the function name."""

    method: str
    target: bytes  # raw path (percent-encoded), "" or starting with "/"
    query: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    force_cold: bool = False


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
        containers: Containers,
        *,
        archive_logs: Callable[[str, list[str]], Awaitable[None]] | None = None,
        queue_timeout: float = QUEUE_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.containers = containers
        self.queue_timeout = queue_timeout
        self._archive_logs = archive_logs
        self._clock = clock
        self._pools: dict[str, FunctionPool] = {}
        self._waiters: dict[str, deque[asyncio.Future[None]]] = {}
        self._stats: dict[str, FunctionStats] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._janitor: asyncio.Task[None] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start_janitor(self) -> None:
        self._janitor = asyncio.create_task(self._janitor_loop(), name="faas-janitor")

    async def close(self) -> None:
        """Stop background work and remove every container this gateway started."""
        if self._janitor is not None:
            self._janitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._janitor
        for pool in self._pools.values():
            for instance in pool:
                self._discard(pool, instance)
        await self._settle()

    async def reconcile(self, gateway_alive: Callable[[str], Awaitable[bool]]) -> int:
        """Remove function containers left behind by gateways that no longer run."""
        found = await self.containers.run(
            self.containers.backend.list_managed, {keys.LABEL_ROLE: keys.ROLE_FUNCTION}
        )
        removed = 0
        for container in found:
            owner = container.labels.get(keys.LABEL_GATEWAY, "")
            if owner == self.containers.gateway_id:
                continue  # ours: the pool tracks it
            if not owner or not await gateway_alive(owner):
                await self.containers.remove(container.id, None)
                removed += 1
        if removed:
            log.info("removed %d function containers left by stopped gateways", removed)
        return removed

    # -- registration ---------------------------------------------------------------------

    def sync(self, record: FunctionRecord) -> None:
        """Apply a (re)deploy: later calls use the new image and config; old containers drain."""
        pool = self._pools.get(record.name)
        if pool is None:
            self._pools[record.name] = FunctionPool(record.spec, record.image)
            self._waiters[record.name] = deque()
            self._stats[record.name] = FunctionStats()
            return
        for instance in pool.update(record.spec, record.image):
            if instance.inflight == 0:
                self._discard(pool, instance)
        self._wake(record.name)

    async def forget(self, name: str) -> None:
        """A removed function: remove its containers now."""
        pool = self._pools.pop(name, None)
        self._stats.pop(name, None)
        for waiter in self._waiters.pop(name, deque()):
            if not waiter.done():
                waiter.cancel()
        if pool is not None:
            for instance in pool:
                self._discard(pool, instance)
        await self._settle()

    # -- calls ----------------------------------------------------------------------------

    async def call(self, record: FunctionRecord, request: CallRequest, call_id: str) -> CallResult:
        pool = self._pools.get(record.name)
        if pool is None or pool.image != record.image or pool.spec != record.spec:
            self.sync(record)
            pool = self._pools[record.name]
        stats = self._stats[record.name]
        stats.calls += 1
        t0 = self._clock()
        timings: dict[str, float] = {}
        try:
            instance, kind = await self._acquire(pool, request.force_cold, timings)
            stats.starts[kind.value] += 1
            try:
                response = await self._send(pool, instance, request, call_id)
            finally:
                self._release(pool, instance)
        except BaseException:
            stats.errors += 1
            raise
        handler_ms = _pop_header(response.headers, _HANDLER_MS)
        if handler_ms is not None:
            timings["handler"] = handler_ms
        timings["total"] = (self._clock() - t0) * 1e3
        if response.status >= 500:
            stats.errors += 1
        return CallResult(response.status, response.headers, response.body, kind, timings)

    async def _acquire(
        self, pool: FunctionPool, force_cold: bool, timings: dict[str, float]
    ) -> tuple[Instance, StartKind]:
        name = pool.spec.name
        waited = 0.0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.queue_timeout
        while True:
            decision = pool.decide(force_cold=force_cold)
            if isinstance(decision, Reuse):
                pool.acquire(decision.instance)
                if waited:
                    timings["queue"] = waited * 1e3
                return decision.instance, decision.kind
            if isinstance(decision, Create):
                if waited:
                    timings["queue"] = waited * 1e3
                return await self._cold_start(pool, timings), StartKind.COLD
            assert isinstance(decision, Wait)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AtScaleLimit(
                    f"function {name!r} is at its scale limit ({pool.spec.scale.max} containers, "
                    f"all busy) and none freed up within {self.queue_timeout:g}s: "
                    "raise scale.max or concurrency in its faas.yaml, or retry later",
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

    async def _cold_start(
        self, pool: FunctionPool, timings: dict[str, float], *, prewarm: bool = False
    ) -> Instance:
        instance = pool.reserve(self._clock(), prewarmed=prewarm)
        try:
            started = await self.containers.start(pool.spec, instance.image)
        except BaseException:
            pool.discard(instance)
            self._wake(pool.spec.name)
            raise
        instance.container_id = started.container_id
        instance.endpoint = (Channel(started.address), started.socket_dir)
        timings.update(create=started.create_ms, start=started.start_ms, ready=started.ready_ms)
        if instance.state is State.DEAD:  # removed (function deleted) while it was starting
            await self.containers.remove(started.container_id, started.socket_dir)
            raise FunctionFailed(f"function {pool.spec.name!r} was removed while starting")
        if instance.state is State.CREATING:
            pool.ready(instance, self._clock())
        if not prewarm:
            pool.acquire(instance)
        return instance

    async def _send(
        self, pool: FunctionPool, instance: Instance, request: CallRequest, call_id: str
    ) -> Response:
        spec = pool.spec
        channel: Channel = instance.endpoint[0]
        payload = _encode(request, call_id, spec.timeout)
        try:
            async with asyncio.timeout(spec.timeout):
                return await channel.request(payload)
        except TimeoutError:
            self._discard(pool, instance)
            raise FunctionTimeout(
                f"function {spec.name!r} did not answer within {spec.timeout:g}s; its container "
                "was removed: raise `timeout` in its faas.yaml if the work needs longer"
            ) from None
        except ConnectionLost:
            assert instance.container_id is not None
            error = await self.containers.diagnose(spec, instance.container_id)
            self._discard(pool, instance)
            raise error from None

    def _release(self, pool: FunctionPool, instance: Instance) -> None:
        if instance.state is State.DEAD:
            return
        pool.release(instance, self._clock())
        if instance.state is State.DRAINING and instance.inflight == 0:
            self._discard(pool, instance)
        self._wake(pool.spec.name)

    def _wake(self, name: str) -> None:
        """Let the longest-waiting call decide again (FIFO)."""
        for waiter in self._waiters.get(name, ()):
            if not waiter.done():
                waiter.set_result(None)
                return

    def _discard(self, pool: FunctionPool, instance: Instance) -> None:
        """Take an instance out of service at once; remove its container in the background."""
        if instance.state is State.DEAD and instance not in pool.instances:
            return
        pool.discard(instance)
        self._wake(pool.spec.name)
        if instance.endpoint is not None:
            channel, socket_dir = instance.endpoint
            channel.close()
        else:
            socket_dir = None
        if instance.container_id is not None:
            self._spawn(self._remove(pool.spec.name, instance.container_id, socket_dir))

    async def _remove(self, name: str, container_id: str, socket_dir: object) -> None:
        try:
            if self._archive_logs is not None:
                with contextlib.suppress(Exception):
                    await self._archive_logs(name, await self.containers.logs(container_id))
            await self.containers.remove(container_id, socket_dir)  # type: ignore[arg-type]
        except Exception:  # the reconcile at next start removes it; keep serving meanwhile
            log.exception("could not remove container %s of %s", container_id[:12], name)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _settle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- background policy ----------------------------------------------------------------

    async def _janitor_loop(self) -> None:
        while True:
            await asyncio.sleep(JANITOR_INTERVAL)
            try:
                self.tick()
            except Exception:
                log.exception("pool maintenance failed")

    def tick(self) -> None:
        """Apply keep-alive expiry, finish drains and keep scale.min containers ready."""
        now = self._clock()
        for pool in list(self._pools.values()):
            for instance in pool.expired(now) + pool.drained():
                self._discard(pool, instance)
            for _ in range(pool.deficit()):
                self._spawn(self._prewarm(pool))

    async def _prewarm(self, pool: FunctionPool) -> None:
        try:
            await self._cold_start(pool, {}, prewarm=True)
        except Exception as exc:
            log.warning("could not pre-start a container for %s: %s", pool.spec.name, exc)
        self._wake(pool.spec.name)

    # -- introspection --------------------------------------------------------------------

    async def live_logs(self, name: str, since: float | None = None) -> list[str]:
        """Log lines of the function's current containers, in time order."""
        pool = self._pools.get(name)
        ids = [i.container_id for i in pool or () if i.container_id is not None]
        batches = await asyncio.gather(*(self.containers.logs(cid, since) for cid in ids))
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
                    "address": str(i.endpoint[0].address) if i.endpoint else None,
                    "calls": i.calls,
                    "inflight": i.inflight,
                    "prewarmed": i.prewarmed,
                }
                for i in pool or ()
            ],
            "calls": stats.calls,
            "errors": stats.errors,
            "starts": dict(stats.starts),
        }


def _encode(request: CallRequest, call_id: str, timeout: float) -> bytes:
    """The request as the runtime expects it: target under /call, always a Content-Length."""
    target = b"/call" + request.target
    if request.query:
        target += b"?" + request.query
    lines = [f"{request.method} ".encode() + target + b" HTTP/1.1"]
    for name, value in request.headers:
        lower = name.lower()
        if lower in _HOP_BY_HOP or lower.startswith(b"x-faas-") or lower == b"x-call-id":
            continue
        lines.append(name + b": " + value)
    lines.append(b"x-call-id: " + call_id.encode())
    lines.append(b"x-faas-timeout-ms: " + str(int(timeout * 1000)).encode())
    lines.append(b"content-length: " + str(len(request.body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + request.body


def _pop_header(headers: list[tuple[bytes, bytes]], name: bytes) -> float | None:
    for index, (key, value) in enumerate(headers):
        if key.lower() == name:
            del headers[index]
            with contextlib.suppress(ValueError):
                return float(value)
            return None
    return None

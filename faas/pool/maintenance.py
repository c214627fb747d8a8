"""Every background tick of one gateway, in one owner.

Once a second: the pool's upkeep (expiry, pause, drains, scale.min, the generic spares).
Every HEARTBEAT_INTERVAL: the heartbeat (other gateways reclaim a silent gateway's
containers), functions changed through other gateways, and every RECONCILE_EVERY rounds the
removal of containers left behind by dead gateways. All along: the engine's event stream, so a
container that dies while idle leaves the pool before a call can pick it; when the stream
breaks (engine down) it reconnects, and on reconnection every container is checked again.

It drives the pool, the registry and the engine through the small interfaces below, never the
whole invoker. The stack id is resolved here (`Heartbeat.stack_id`, handed to `Lifecycle`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, Protocol

from faas import keys
from faas.engines.base import ContainerEvent, ManagedContainer
from faas.errors import FaasError, Unavailable
from faas.identity import read_stack_id, write_stack_id
from faas.registry.store import FunctionRecord
from faas.supervised import Supervisor, cancel_and_wait

log = logging.getLogger(__name__)

TICK = 1.0
EVENTS_RETRY = 1.0
HEARTBEAT_INTERVAL = 3.0
# Functions changed through other gateways are picked up as the registry notices them (a
# blocking read, `next_change`); a deploy waits until every gateway has (faas.registry.
# propagation). Without notices (a test's fake registry), the feed is polled this often.
CHANGES_INTERVAL = 0.2
# A wait for notices ends this often all the same, to catch up with the feed regardless (a
# notice lost with a Redis that lost its data); under the Redis client's 5 s socket timeout.
CHANGES_WAIT = 2.0
HEARTBEAT_TTL = 10.0  # a gateway silent this long is dead: its containers may be reclaimed
RECONCILE_EVERY = 2  # heartbeat rounds: a crashed gateway's containers go within ~TTL + 6 s


class Pool(Protocol):
    """What maintenance drives in the pool (faas.pool.upkeep.PoolUpkeep)."""

    def tick(self) -> None: ...

    def tracks(self, container_id: str) -> bool: ...

    def container_exited(self, container_id: str, action: str) -> None: ...

    async def recheck(self) -> None: ...

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None: ...


class Gateways(Protocol):
    """The registry's record of live gateways (faas.registry.store.Registry)."""

    async def stack_id(self, known: str = "") -> str: ...

    async def keep_stack_id(self, stack_id: str) -> bool: ...

    async def heartbeat(self, gateway_id: str, ttl: float) -> None: ...

    async def gateway_alive(self, gateway_id: str) -> bool: ...


class Engine(Protocol):
    """The engine side (faas.pool.lifecycle.Lifecycle)."""

    gateway_id: str

    async def ping(self) -> None: ...

    def events(self) -> AsyncIterator[ContainerEvent]: ...

    def stop_events(self) -> None: ...

    async def owned(self) -> list[ManagedContainer]: ...

    async def remove(self, container_id: str) -> None: ...


class Heartbeat:
    """This gateway's heartbeat, and the stack's id once the registry has said it.

    With `home`, the id is also kept in a file there (faas.identity): a Redis that lost its
    data gets the same id back, from the file at start or from memory at the next beat, and
    `lost_data_at` says when that was seen."""

    def __init__(self, gateways: Gateways, gateway_id: str, home: Path | None = None) -> None:
        self.gateways = gateways
        self.gateway_id = gateway_id
        self.home = home
        self._stack_id = ""
        self.lost_data_at: float | None = None

    def stack_id(self) -> str:
        """The stack's id, or "" while the registry has not answered yet."""
        return self._stack_id

    async def beat(self) -> None:
        if not self._stack_id:  # resolved once; the registry may be down at start
            known = read_stack_id(self.home) if self.home else ""
            self._stack_id = await self.gateways.stack_id(known)
            if self.home:
                write_stack_id(self.home, self._stack_id)
        elif await self.gateways.keep_stack_id(self._stack_id):
            self.lost_data_at = time.time()
            log.error(
                "Redis lost its data (FLUSHALL, or a new volume): the stack id is restored, "
                "but functions deployed before are gone until deployed again"
            )
        await self.gateways.heartbeat(self.gateway_id, HEARTBEAT_TTL)


class Maintenance:
    """`changed()` returns function records new or changed since it was last called, and
    `sync(record)` applies one to the pool; `removed()` names functions removed since (through
    any gateway), and `forget(name)` removes their containers."""

    def __init__(
        self,
        heartbeat: Heartbeat,
        engine: Engine,
        pool: Pool,
        changed: Callable[[], Awaitable[list[FunctionRecord]]],
        sync: Callable[[FunctionRecord], object],
        *,
        removed: Callable[[], list[str]] = list,
        forget: Callable[[str], Awaitable[object]] | None = None,
        supervisor: Supervisor | None = None,
        revision: Callable[[], int | None] = lambda: None,
        record_applied: Callable[[int], Awaitable[object]] | None = None,
        next_change: Callable[[str | None, float], Awaitable[str]] | None = None,
    ) -> None:
        self.heartbeat = heartbeat
        self.supervisor = supervisor or Supervisor()  # a loop that dies turns /healthz red
        self.engine = engine
        self.pool = pool
        self._changed = changed
        self._sync = sync
        self._removed = removed
        self._forget = forget
        self._revision = revision  # of the registry, as applied to the pool
        self._record_applied = record_applied
        self._recorded: int | None = None
        self._next_change = next_change  # Registry.next_change: None polls the feed instead
        self._tasks: list[asyncio.Task[None]] = []
        self._rounds = 0
        self.engine_connected = True

    async def start(self) -> None:
        """Announce ourselves, reclaim dead gateways' containers, load the function records,
        then start the background loops.

        The engine or the registry being down is not fatal: /healthz reports it, calls get 503
        until they are back, and the loops retry.
        """
        try:
            await self.heartbeat.beat()
            await self.reconcile()
            await self._follow_changes()
        except Unavailable as exc:
            log.warning("starting degraded: %s", exc.message)
        loops = self.supervisor
        self._tasks = [
            loops.spawn("faas-pool-upkeep", self._every(TICK, self._tick)),
            loops.spawn("faas-rounds", self._every(HEARTBEAT_INTERVAL, self._round)),
            loops.spawn(
                "faas-changes",
                self._every(CHANGES_INTERVAL, self._follow_changes)
                if self._next_change is None
                else self._wait_for_changes(self._next_change),
            ),
            loops.spawn("faas-engine-events", self._watch_events()),
        ]

    async def stop(self) -> None:
        self.engine.stop_events()
        await cancel_and_wait(self._tasks)
        self._tasks = []

    # -- loops ----------------------------------------------------------------------------

    async def _every(self, seconds: float, step: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await step()
            except Unavailable as exc:
                log.warning("%s", exc.message)
            except Exception:
                log.exception("gateway maintenance failed")

    async def _wait_for_changes(
        self, next_change: Callable[[str | None, float], Awaitable[str]]
    ) -> None:
        """Follow the feed as changes are noticed: one blocking read waits for the next."""
        after: str | None = None
        while True:
            try:
                if after is None:  # its end first: a change noticed after it wakes the wait
                    after = await next_change(None, 0)
                    await self._follow_changes()
                after = await next_change(after, CHANGES_WAIT)
                await self._follow_changes()
            except Exception as exc:
                if isinstance(exc, Unavailable):
                    log.warning("%s", exc.message)
                else:
                    log.exception("following function changes failed")
                after = None
                await asyncio.sleep(CHANGES_INTERVAL)

    async def _tick(self) -> None:
        self.pool.tick()

    async def _round(self) -> None:
        self._rounds += 1
        await self.heartbeat.beat()
        self._recorded = None  # say it again: the record expires with the heartbeat
        if self._rounds % RECONCILE_EVERY == 0:
            await self.reconcile()

    async def _follow_changes(self) -> None:
        """Apply what changed in the registry, then say which revision this gateway serves."""
        revision = await self._pick_up_changes()
        if self._record_applied is None or revision is None or revision == self._recorded:
            return
        await self._record_applied(revision)
        self._recorded = revision

    async def _pick_up_changes(self) -> int | None:
        """Functions deployed, changed or removed through other gateways; returns the registry
        revision now applied (read before anything awaits: later changes are not applied)."""
        changed = await self._changed()
        revision = self._revision()
        removed = self._removed()
        for record in changed:
            self._sync(record)
        for name in removed:
            if self._forget is not None:
                await self._forget(name)
        return revision

    # -- orphans --------------------------------------------------------------------------

    async def reconcile(self) -> int:
        """Remove containers left behind by gateways that no longer run, and our own stopped
        ones."""
        engine = self.engine
        found = await engine.owned()  # [] until the registry says which stack is ours
        removed = 0
        for container in found:
            role = container.labels.get(keys.LABEL_ROLE)
            if role not in keys.POOLED_ROLES and role != keys.ROLE_TASK:
                continue
            owner = container.labels.get(keys.LABEL_GATEWAY, "")
            if owner == engine.gateway_id and role == keys.ROLE_TASK:
                continue  # its runner (faas.pool.tasks) removes it once it has read the output
            if owner == engine.gateway_id:
                # Ours: the pool tracks it. One it no longer tracks that has stopped is left
                # from a removal that failed (an engine restart stops containers, then refuses
                # API calls): removed here.
                if not self.pool.tracks(container.id) and container.state in ("exited", "dead"):
                    await engine.remove(container.id)
                    removed += 1
                continue
            if not owner or not await self.heartbeat.gateways.gateway_alive(owner):
                await engine.remove(container.id)
                removed += 1
        if removed:
            log.info("removed %d stopped or orphaned function containers", removed)
        return removed

    # -- engine events --------------------------------------------------------------------

    async def _watch_events(self) -> None:
        """Follow die/oom events of our containers; reconnect when the stream breaks."""
        while True:
            try:
                await self.engine.ping()
                if not self.engine_connected:
                    self.engine_connected = True
                    log.info("the container engine answers again: checking every container")
                    self.pool.spawn(self.pool.recheck())
                async for event in self.engine.events():
                    self.pool.container_exited(event.container_id, event.action)
            except FaasError as exc:
                if self.engine_connected:
                    log.warning("lost the container engine's event stream: %s", exc.message)
                self.engine_connected = False
            except Exception:
                log.exception("the container engine's event stream failed")
                self.engine_connected = False
            await asyncio.sleep(EVENTS_RETRY)

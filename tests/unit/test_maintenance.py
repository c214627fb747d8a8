"""The gateway's maintenance owner with fake registry, engine and pool: start-up round,
stack id, reconcile of orphans, engine events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from faas import keys
from faas.engines.base import ContainerEvent, ManagedContainer
from faas.errors import Unavailable
from faas.identity import read_stack_id
from faas.manifest.spec import parse_manifest
from faas.pool.maintenance import Heartbeat, Maintenance
from faas.registry.store import FunctionRecord


class FakeGateways:
    def __init__(self, alive: set[str]) -> None:
        self.alive = alive
        self.beats: list[str] = []
        self.stack_reads = 0
        self.down = False
        self.stored = ""  # the stack id in (fake) Redis

    async def stack_id(self, known: str = "") -> str:
        if self.down:
            raise Unavailable("Redis is down")
        self.stack_reads += 1
        self.stored = self.stored or known or "stack1"
        return self.stored

    async def keep_stack_id(self, stack_id: str) -> bool:
        lost, self.stored = not self.stored, self.stored or stack_id
        return lost

    async def heartbeat(self, gateway_id: str, ttl: float) -> None:
        self.beats.append(gateway_id)

    async def gateway_alive(self, gateway_id: str) -> bool:
        return gateway_id in self.alive


def container(
    cid: str, gateway: str, state: str = "running", role: str = "function"
) -> ManagedContainer:
    labels = {keys.LABEL_ROLE: role, keys.LABEL_GATEWAY: gateway}
    return ManagedContainer(cid, labels, state)


class FakeEngine:
    gateway_id = "me"

    def __init__(self, found: list[ManagedContainer], events: list[ContainerEvent]) -> None:
        self.found = found
        self.pending = events
        self.removed: list[str] = []
        self.stopped = False

    async def ping(self) -> None:
        pass

    async def events(self) -> AsyncIterator[ContainerEvent]:
        while self.pending:
            yield self.pending.pop(0)
        await asyncio.Event().wait()  # the stream stays open

    def stop_events(self) -> None:
        self.stopped = True

    async def owned(self) -> list[ManagedContainer]:
        return self.found

    async def remove(self, container_id: str) -> None:
        self.removed.append(container_id)


class FakePool:
    def __init__(self, tracked: set[str]) -> None:
        self.tracked = tracked
        self.exited: list[tuple[str, str]] = []
        self.ticks = 0
        self.tasks: list[asyncio.Future[None]] = []

    def tick(self) -> None:
        self.ticks += 1

    def tracks(self, container_id: str) -> bool:
        return container_id in self.tracked

    def container_exited(self, container_id: str, action: str) -> None:
        self.exited.append((container_id, action))

    async def recheck(self) -> None:
        pass

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self.tasks.append(asyncio.ensure_future(coro))


def test_start_resolves_the_stack_reclaims_orphans_and_loads_the_records() -> None:
    async def scenario() -> None:
        gateways = FakeGateways(alive={"other"})
        found = [
            container("orphan", "dead-gateway"),
            container("alive", "other"),
            container("mine", "me"),
            container("mine-stopped", "me", state="exited"),
            container("tracked-stopped", "me", state="exited"),
            container("redis", "", role="redis"),
        ]
        event = ContainerEvent("mine", "die", {})
        engine, pool = FakeEngine(found, [event]), FakePool({"mine", "tracked-stopped"})
        heartbeat = Heartbeat(gateways, "me")
        record = FunctionRecord(parse_manifest({"name": "f"}), "img", "", 0, 0)
        synced: list[FunctionRecord] = []

        async def changed() -> list[FunctionRecord]:
            return [record]

        maintenance = Maintenance(heartbeat, engine, pool, changed, synced.append)
        assert heartbeat.stack_id() == ""
        await maintenance.start()
        assert heartbeat.stack_id() == "stack1" and gateways.beats == ["me"]
        assert sorted(engine.removed) == ["mine-stopped", "orphan"]
        assert synced == [record]
        await asyncio.sleep(0.01)  # the event watcher runs
        assert pool.exited == [("mine", "die")]
        await heartbeat.beat()
        assert gateways.stack_reads == 1  # resolved once
        await maintenance.stop()
        assert engine.stopped

    asyncio.run(scenario())


def test_a_registry_down_at_start_is_not_fatal() -> None:
    async def scenario() -> None:
        gateways = FakeGateways(alive=set())
        gateways.down = True
        heartbeat = Heartbeat(gateways, "me")

        async def changed() -> list[FunctionRecord]:
            return []

        maintenance = Maintenance(heartbeat, FakeEngine([], []), FakePool(set()), changed, print)
        await maintenance.start()  # logs "starting degraded"
        assert heartbeat.stack_id() == ""
        gateways.down = False
        await heartbeat.beat()  # a later round resolves it
        assert heartbeat.stack_id() == "stack1"
        await maintenance.stop()

    asyncio.run(scenario())


def test_the_stack_id_outlives_a_redis_that_lost_its_data(tmp_path: Path) -> None:
    """Kept in FAAS_HOME/stack-id: a Redis without it gets the old id back (from memory on
    the next beat, from the file for a gateway that starts later), and the loss is noted."""

    async def scenario() -> None:
        gateways = FakeGateways(alive=set())
        gateways.stored = "5eed5eed"
        heartbeat = Heartbeat(gateways, "me", tmp_path)
        await heartbeat.beat()
        assert read_stack_id(tmp_path) == "5eed5eed" and heartbeat.lost_data_at is None
        gateways.stored = ""  # FLUSHALL
        await heartbeat.beat()
        assert gateways.stored == "5eed5eed" and heartbeat.lost_data_at is not None
        gateways.stored = ""
        later = Heartbeat(gateways, "other", tmp_path)
        await later.beat()
        assert later.stack_id() == "5eed5eed"

    asyncio.run(scenario())


def following(
    changed: Callable[[], Awaitable[list[FunctionRecord]]], synced: list[str], **options: Any
) -> Maintenance:
    """Maintenance with fakes, following the function records `changed` returns."""
    heartbeat = Heartbeat(FakeGateways(set()), "me")
    engine, pool = FakeEngine([], []), FakePool(set())
    return Maintenance(heartbeat, engine, pool, changed, lambda r: synced.append(r.name), **options)


def test_the_applied_revision_is_recorded_after_the_changes_up_to_it_are_applied() -> None:
    async def scenario() -> None:
        revision = {"now": 7}
        synced: list[str] = []
        recorded: list[tuple[int, list[str]]] = []
        record = FunctionRecord(parse_manifest({"name": "fn"}), "img:1", "h", 0.0, 0.0)

        async def changed() -> list[FunctionRecord]:
            return [record] if revision["now"] == 7 else []

        async def record_applied(seen: int) -> None:
            recorded.append((seen, list(synced)))  # what had been applied when it was said

        maintenance = following(
            changed, synced, revision=lambda: revision["now"], record_applied=record_applied
        )
        await maintenance.start()
        assert recorded == [(7, ["fn"])]
        await maintenance._follow_changes()  # nothing new: not said again
        assert len(recorded) == 1
        revision["now"] = 8
        await maintenance._follow_changes()
        assert recorded[-1][0] == 8
        await maintenance.stop()

    asyncio.run(scenario())


def test_changes_are_applied_when_the_registry_notices_them_not_on_a_timer() -> None:
    async def scenario() -> None:
        pending: list[FunctionRecord] = []
        synced: list[str] = []
        noticed = asyncio.Event()
        waits: list[tuple[str | None, float]] = []

        async def changed() -> list[FunctionRecord]:
            found, pending[:] = list(pending), []
            return found

        async def next_change(after: str | None, timeout: float) -> str:
            waits.append((after, timeout))
            if after is None:
                return "1-0"  # the feed's end, read before catching up
            await noticed.wait()  # a blocking read: nothing happens until a notice
            noticed.clear()
            return "2-0"

        maintenance = following(changed, synced, next_change=next_change)
        await maintenance.start()
        await asyncio.sleep(0.3)  # longer than the old polling interval: nothing polled
        assert synced == [] and waits[:2] == [(None, 0), ("1-0", 2.0)]
        pending.append(FunctionRecord(parse_manifest({"name": "fn"}), "img:1", "h", 0.0, 0.0))
        noticed.set()
        for _ in range(100):
            if synced:
                break
            await asyncio.sleep(0.01)
        assert synced == ["fn"] and waits[-1] == ("2-0", 2.0)
        await maintenance.stop()

    asyncio.run(scenario())

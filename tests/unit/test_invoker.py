"""The invoker with a fake lifecycle: the call path's start kinds and trace, the container
index, O(1) sync of an unchanged record, and an upkeep that only looks at running pools."""

from __future__ import annotations

import asyncio
from typing import Any

from faas.contracts.base import CallRequest, CallResponse
from faas.manifest.spec import parse_manifest
from faas.pool.invoker import Invoker
from faas.pool.lifecycle import Started
from faas.pool.policy import StartKind
from faas.registry.store import FunctionRecord
from faas.settings import Settings


class FakeEndpoint:
    async def call(self, request: CallRequest, call_id: str, timeout: float) -> CallResponse:
        return CallResponse(200, [(b"content-type", b"text/plain")], request.body, 0.5)

    def close(self) -> None:
        pass


class FakeLifecycle:
    gateway_id = "gw"
    stack_id = "stack"

    def __init__(self) -> None:
        self.started: list[str] = []
        self.removed: list[str] = []

    async def start(self, spec: Any, image: str) -> Started:
        cid = f"c{len(self.started)}"
        self.started.append(cid)
        return Started(cid, FakeEndpoint(), 1.0, 2.0, 3.0)  # type: ignore[arg-type]

    async def remove(self, container_id: str, endpoint: object = None) -> None:
        self.removed.append(container_id)

    async def logs(self, container_id: str, since: float | None = None) -> list[str]:
        return []


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def record(name: str = "f", **manifest: object) -> FunctionRecord:
    return FunctionRecord(parse_manifest({"name": name, **manifest}), f"img:{name}", "", 0, 0)


def request() -> CallRequest:
    return CallRequest("POST", b"", b"", [], b"hi")


def make() -> tuple[Invoker, FakeLifecycle, Clock]:
    lifecycle, clock = FakeLifecycle(), Clock()
    invoker = Invoker(lifecycle, Settings(generic_pool=0), clock=clock)  # type: ignore[arg-type]
    return invoker, lifecycle, clock


def test_cold_then_warm_with_their_traces() -> None:
    async def scenario() -> None:
        invoker, lifecycle, _ = make()
        f = record()
        cold = await invoker.call(f, request(), "1")
        assert cold.start is StartKind.COLD and cold.body == b"hi"
        assert list(cold.timings) == ["create", "start", "ready", "handler", "total"]
        warm = await invoker.call(f, request(), "2")
        assert warm.start is StartKind.WARM and list(warm.timings) == ["handler", "total"]
        assert lifecycle.started == ["c0"]
        found = invoker.instances.find("c0")
        assert found is not None and found[1].calls == 2
        assert invoker.describe("f")["starts"] == {"cold": 1, "prewarm": 0, "paused": 0, "warm": 1}
        recent = invoker.recent.get("2")
        assert recent is not None and recent["start"] == "warm"
        await invoker.forget("f")
        assert lifecycle.removed == ["c0"] and invoker.instances.find("c0") is None

    asyncio.run(scenario())


def test_sync_of_an_unchanged_record_keeps_the_pool_and_its_containers() -> None:
    async def scenario() -> None:
        invoker, lifecycle, _ = make()
        f = record()
        await invoker.call(f, request(), "1")
        pool = invoker.pool("f")
        assert invoker.sync(record()) is pool  # an equal record, re-read from the registry
        assert pool is not None and len(pool.instances) == 1
        invoker.sync(record(memory="256Mi"))  # a redeploy drains the old container
        await invoker.instances.settle()
        assert not pool.instances and lifecycle.removed == ["c0"]

    asyncio.run(scenario())


def test_upkeep_looks_only_at_pools_with_containers_or_a_scale_min() -> None:
    async def scenario() -> None:
        invoker, lifecycle, clock = make()
        for n in range(100):
            invoker.sync(record(f"idle{n}"))
        invoker.sync(record("kept", scale={"min": 1}))
        f = record("used", keep_alive=10)
        assert set(invoker.instances.active) == {"kept"}
        await invoker.call(f, request(), "1")
        assert set(invoker.instances.active) == {"kept", "used"}
        invoker.upkeep.tick()  # tops up kept's scale.min
        await invoker.instances.settle()
        assert len(lifecycle.started) == 2
        clock.now = 11.0  # past used's keep_alive: expired, and no longer looked at
        invoker.upkeep.tick()
        await invoker.instances.settle()
        assert set(invoker.instances.active) == {"kept"}
        assert lifecycle.removed == ["c0"]
        await invoker.close()

    asyncio.run(scenario())

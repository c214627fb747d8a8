"""The gateway end to end over the fake engine: how calls are served (cold, warm, paused,
prewarm), queueing at scale.max, the memory budget, redeploys and the system API."""

from __future__ import annotations

import asyncio
import functools
import shutil
from pathlib import Path

from tests.unit.fake_gateway import FIXTURES, Stack, run, timings, until


def test_cold_then_warm_then_paused(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway(pause_after=0.2) as gw:
            await gw.register("echo")
            cold = await gw.call("echo", "/hello", b"hi")
            assert cold.status_code == 200, cold.text
            assert cold.headers["x-faas-start"] == "cold"
            assert cold.json()["path"] == "/hello" and cold.json()["greeting"] == "hi"
            assert {"create", "start", "ready", "handler", "total"} <= set(timings(cold))
            [container] = await gw.container_ids("echo")

            stack.engine.calls.clear()
            warm = await gw.call("echo", "/again")
            assert warm.headers["x-faas-start"] == "warm"
            assert set(timings(warm)) == {"handler", "total"}
            assert stack.engine.calls == []  # a warm call makes no engine call

            await gw.until_counts("echo", {"paused": 1})  # FAAS_PAUSE_AFTER, at a tick
            assert (await stack.engine.state(container)).paused
            resumed = await gw.call("echo")
            assert resumed.headers["x-faas-start"] == "paused"
            assert "start" in timings(resumed) and "create" not in timings(resumed)
            assert ("resume", container) in stack.engine.calls
            assert await gw.container_ids("echo") == [container]

            metrics = (await gw.http.get("/metrics")).text
            for kind in ("cold", "warm", "paused"):
                assert f'faas_starts_total{{function="echo",kind="{kind}"}} 1.0' in metrics
            assert 'faas_calls_total{code="200",function="echo"} 3.0' in metrics

    run(scenario)


def test_scale_min_is_kept_ready_and_serves_as_prewarm(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            await gw.register("echo", scale={"min": 2, "max": 4})
            await gw.until_counts("echo", {"ready": 2})  # started at a maintenance tick
            stack.engine.calls.clear()
            first = await gw.call("echo")
            assert first.headers["x-faas-start"] == "prewarm"
            assert "create" not in timings(first)
            assert not [op for op, _ in stack.engine.calls if op == "create"]
            again = await gw.call("echo")  # the most recently used one: warm now
            assert again.headers["x-faas-start"] == "warm"

    run(scenario)


def test_pool_control_prestarts_pauses_and_drains(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            await gw.register("echo")
            assert await gw.pool("echo", "prestart", 2) == {"ready": 2}
            ids = await gw.container_ids("echo")
            assert (await gw.call("echo")).headers["x-faas-start"] == "prewarm"
            assert await gw.pool("echo", "pause") == {"paused": 2}
            assert all([(await stack.engine.state(i)).paused for i in ids])
            assert (await gw.call("echo")).headers["x-faas-start"] == "paused"
            assert await gw.pool("echo", "drain") == {"removed": 2}
            assert await gw.counts("echo") == {}
            assert not any([(await stack.engine.state(i)).exists for i in ids])
            refused = await gw.http.post("/system/function/echo/pool", json={"action": "grow"})
            assert refused.status_code == 400
            assert refused.json()["error"]["code"] == "bad_request"

    run(scenario)


def test_calls_at_scale_max_wait_in_order_then_get_429(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway(queue_timeout=5) as gw:
            await gw.register("tricks", scale={"min": 0, "max": 1})
            first = await gw.call_in_background("tricks", "/sleep?s=0.4")
            second = await gw.call_in_background("tricks", "/sleep?s=0.2")
            third = await gw.call_in_background("tricks", "/sleep?s=0.01")
            done, _ = await asyncio.wait([second, third], return_when=asyncio.FIRST_COMPLETED)
            assert done == {second}  # first in, first served
            responses = [await task for task in (first, second, third)]
            assert [r.status_code for r in responses] == [200, 200, 200]
            assert [r.headers["x-faas-start"] for r in responses] == ["cold", "warm", "warm"]
            waited = [timings(r).get("queue", 0.0) for r in responses]
            assert waited[0] == 0.0 and 0 < waited[1] < waited[2]
            assert len(await gw.container_ids("tricks")) == 1

        async with stack.gateway(queue_timeout=0.2) as gw:
            await gw.register("tricks", scale={"min": 0, "max": 1})
            busy = await gw.call_in_background("tricks", "/sleep?s=1")
            refused = await gw.call("tricks")
            assert refused.status_code == 429
            assert refused.headers["retry-after"] == "1"
            assert refused.json()["error"]["code"] == "at_scale_limit"
            assert (await busy).status_code == 200

    run(scenario)


def test_the_memory_budget_evicts_idle_lru_containers_then_answers_503(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway(memory_budget=128 * 2**20, queue_timeout=0.2) as gw:
            for name in ("one", "two", "three"):
                await gw.register("tricks", name=name, memory="64Mi")
            for name in ("one", "two"):
                assert (await gw.call(name)).status_code == 200
            [evicted] = await gw.container_ids("one")
            await gw.call("two")  # "one" is now the least recently used
            assert (await gw.call("three")).headers["x-faas-start"] == "cold"
            assert await gw.counts("one") == {}
            assert (await gw.counts("two"), await gw.counts("three")) == ({"ready": 1},) * 2
            await until(lambda: _gone(stack, evicted), what="the evicted container removed")

            busy = [await gw.call_in_background(n, "/sleep?s=0.5") for n in ("two", "three")]
            full = await gw.call("one")
            assert full.status_code == 503, full.text
            assert full.json()["error"]["code"] == "unavailable"
            assert "FAAS_MEMORY_BUDGET" in full.json()["error"]["message"]
            assert full.headers["retry-after"] == "5"
            assert [(await task).status_code for task in busy] == [200, 200]

    run(scenario)


def test_a_redeploy_drains_old_instances_and_no_old_code_answers(
    stack: Stack, tmp_path: Path
) -> None:
    version2 = tmp_path / "tricks"
    shutil.copytree(FIXTURES / "tricks", version2)
    handler = version2 / "handler.py"
    handler.write_text(handler.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))

    async def scenario() -> None:
        async with stack.gateway() as gw:
            await gw.register("tricks")
            assert await gw.pool("tricks", "prestart", 2) == {"ready": 2}
            old = await gw.container_ids("tricks")
            in_flight = await gw.call_in_background("tricks", "/sleep?s=0.3")
            described = await gw.register(version2, image="tricks:2")
            assert described["image"] == "tricks:2"
            answers = await asyncio.gather(*(gw.call("tricks", "/version") for _ in range(3)))
            assert [a.text for a in answers] == ["v2"] * 3
            finished = await in_flight  # drained, not killed
            assert (finished.status_code, finished.text) == (200, "slept")
            for container in old:
                await until(functools.partial(_gone, stack, container), what="old removed")
            assert not set(old) & set(await gw.container_ids("tricks"))

    run(scenario)


def test_the_system_api_lists_logs_and_removes_functions(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            created = await gw.http.post(
                "/system/functions", json={"manifest": {"name": "echo"}, "image": "nope:1"}
            )
            assert created.status_code == 400 and "nope:1" in created.text
            await gw.register("echo")
            listed = (await gw.http.get("/system/functions")).json()
            assert [f["name"] for f in listed] == ["echo"]
            assert listed[0]["url"] == "http://gateway/function/echo"
            assert (await gw.call("echo", "/print")).text == "printed"

            async def handler_line_logged() -> bool:  # the log is written after the answer
                logs = (await gw.http.get("/system/logs/echo?tail=5")).json()
                return any("line from the handler" in line for line in logs["lines"])

            await until(handler_line_logged, what="the handler's line in /system/logs")
            [container] = await gw.container_ids("echo")

            removed = await gw.http.delete("/system/function/echo")
            assert removed.json() == {"removed": "echo"}
            assert not (await stack.engine.state(container)).exists
            missing = await gw.call("echo")
            assert missing.status_code == 404
            assert missing.json()["error"]["code"] == "not_found"
            assert (await gw.http.get("/system/function/echo")).status_code == 404
            assert (await gw.http.get("/healthz")).json()["status"] == "ok"

    run(scenario)


async def _gone(stack: Stack, container_id: str) -> bool:
    return not (await stack.engine.state(container_id)).exists


def test_bad_requests_are_refused_before_reaching_an_instance(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway(max_body=1024) as gw:
            await gw.register("echo")
            stack.engine.calls.clear()
            too_large = await gw.call("echo", "/", b"x" * 2048)
            assert too_large.status_code == 413
            assert too_large.json()["error"]["code"] == "payload_too_large"
            forced = await gw.call("echo", x_faas_force="warm")
            assert forced.status_code == 400 and "X-Faas-Force" in forced.text
            assert (await gw.call("Not_A_Name")).status_code == 404
            queued = await gw.http.post("/async-function/echo", content=b"x" * 2048)
            assert queued.status_code == 413
            assert stack.engine.calls == []  # no instance was started for any of them

            key = {"Idempotency-Key": "order-1"}
            first = await gw.http.post("/async-function/echo", content=b"a", headers=key)
            replay = await gw.http.post("/async-function/echo", content=b"a", headers=key)
            assert replay.json() == first.json()
            assert replay.headers["idempotent-replayed"] == "true"
            other = await gw.http.post("/async-function/echo", content=b"b", headers=key)
            assert other.status_code == 422
            assert other.json()["error"]["code"] == "idempotency_conflict"

    run(scenario)

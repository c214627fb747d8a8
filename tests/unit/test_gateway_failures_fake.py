"""How the gateway survives failures, end to end over the fake engine: init failures and their
back-off, timeouts, crashes, OOM kills, deaths while idle, an engine outage, and a gateway
that died without removing its instances."""

from __future__ import annotations

import asyncio
import time

from faas import keys
from faas.manifest.spec import load_manifest
from faas.pool.lifecycle import Lifecycle
from faas.registry.store import Registry, connect
from tests.unit.fake_gateway import FIXTURES, FakeGateway, Stack, run, until


def creates(stack: Stack) -> int:
    return sum(1 for operation, _ in stack.engine.calls if operation == "create")


async def gone(stack: Stack, container_id: str) -> bool:
    return not (await stack.engine.state(container_id)).exists


async def busy_instance(gw: FakeGateway, name: str, path: str) -> tuple[str, asyncio.Task]:  # type: ignore[type-arg]
    """A call in flight on a pre-started instance: (its container id, the call's task)."""
    assert await gw.pool(name, "prestart", 1) == {"ready": 1}
    [container] = await gw.container_ids(name)
    task = await gw.call_in_background(name, path)
    await gw.until_counts(name, {"busy": 1})
    return container, task


def test_an_init_failure_answers_502_and_backs_off(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway(init_backoff=0.5) as gw:
            await gw.register("bad-handler")
            failed = await gw.call("bad-handler")
            assert failed.status_code == 502
            error = failed.json()["error"]
            assert error["code"] == "init_failed" and "nope" in error["message"], error
            assert creates(stack) == 1
            started_backoff = time.monotonic()

            again = await gw.call("bad-handler")
            assert again.status_code == 502
            assert "not retried for another" in again.json()["error"]["message"]
            assert creates(stack) == 1  # no new start within the back-off

            async def retried() -> bool:
                await gw.call("bad-handler")
                return creates(stack) == 2

            await until(retried, what="a start again once the back-off is over")
            assert time.monotonic() - started_backoff >= 0.45
            assert await gw.counts("bad-handler") == {}

    run(scenario)


def test_a_timeout_answers_504_and_removes_the_instance(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            await gw.register("tricks", timeout="300ms")
            assert await gw.pool("tricks", "prestart", 1) == {"ready": 1}
            [container] = await gw.container_ids("tricks")
            late = await gw.call("tricks", "/sleep?s=5")
            assert late.status_code == 504
            assert late.json()["error"]["code"] == "timeout"
            assert await gw.counts("tricks") == {}
            await until(lambda: gone(stack, container), what="the timed-out instance removed")
            assert (await gw.call("tricks")).headers["x-faas-start"] == "cold"

    run(scenario)


def test_an_answer_over_the_limit_is_cut_with_502_and_the_instance_serves_on(
    stack: Stack,
) -> None:
    async def scenario() -> None:
        async with stack.gateway(max_response=1024 * 1024) as gw:
            await gw.register("echo")
            too_large = await gw.call("echo", "/bytes", b"x" * (2 * 1024 * 1024))
            assert too_large.status_code == 502
            error = too_large.json()["error"]
            assert error["code"] == "response_too_large"
            assert "FAAS_MAX_RESPONSE" in error["message"]
            small = await gw.call("echo", "/bytes", b"y" * 1000)
            assert small.status_code == 200 and small.content == b"y" * 1000
            assert small.headers["x-faas-start"] == "warm"  # the same instance, kept

    run(scenario)


def test_a_crash_mid_call_answers_502_at_once(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            await gw.register("tricks", timeout="10s")
            container, call = await busy_instance(gw, "tricks", "/sleep?s=8")
            crashed_at = time.monotonic()
            await stack.engine.crash(container)
            answer = await call
            assert time.monotonic() - crashed_at < 3  # not at the 10 s timeout
            assert answer.status_code == 502
            error = answer.json()["error"]
            assert error["code"] == "crashed" and "exit code 137" in error["message"], error
            assert await gw.counts("tricks") == {}

            exited = await gw.call("tricks", "/exit")  # the handler's own os._exit(3)
            assert exited.status_code == 502 and "exit code 3" in exited.text

    run(scenario)


def test_an_oom_kill_answers_502_oom(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            await gw.register("tricks", timeout="10s")
            container, call = await busy_instance(gw, "tricks", "/sleep?s=8")
            await stack.engine.oom_kill(container)
            answer = await call
            assert answer.status_code == 502
            error = answer.json()["error"]
            assert error["code"] == "oom" and "48Mi" in error["message"], error
            await until(lambda: gone(stack, container), what="the killed instance removed")

    run(scenario)


def test_an_idle_instance_that_dies_is_replaced_unseen(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            await gw.register("echo")
            assert await gw.pool("echo", "prestart", 1) == {"ready": 1}
            [container] = await gw.container_ids("echo")
            await stack.engine.crash(container)
            await gw.until_counts("echo", {})  # its `die` event took it out of the pool
            replaced = await gw.call("echo")
            assert (replaced.status_code, replaced.headers["x-faas-start"]) == (200, "cold")

            [second] = await gw.container_ids("echo")
            await stack.engine.crash(second)  # and at once: the event may come after the call
            again = await gw.call("echo")
            assert again.status_code == 200, again.text
            assert second not in await gw.container_ids("echo")

    run(scenario)


def test_an_engine_outage_fails_cold_calls_only_and_recovers(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            await gw.register("echo")
            await gw.register("tricks")
            assert (await gw.call("echo")).status_code == 200
            assert await gw.pool("tricks", "prestart", 1) == {"ready": 1}
            [idle] = await gw.container_ids("tricks")

            stack.engine.set_available(False)
            health = await gw.http.get("/healthz")
            assert health.status_code == 503
            assert health.json()["error"]["message"].startswith("docker: ")
            assert (await gw.call("echo")).headers["x-faas-start"] == "warm"
            cold = await gw.call("echo", x_faas_force="cold")
            assert cold.status_code == 503
            assert cold.json()["error"]["code"] == "docker_unavailable"
            await stack.engine.crash(idle)  # dies while nobody hears of it

            stack.engine.set_available(True)
            assert (await gw.http.get("/healthz")).status_code == 200
            await gw.until_counts("tricks", {})  # checked again once the engine is back
            recovered = await gw.call("echo", x_faas_force="cold")
            assert (recovered.status_code, recovered.headers["x-faas-start"]) == (200, "cold")

    run(scenario)


def test_instances_of_a_dead_gateway_are_removed_at_start(stack: Stack) -> None:
    async def scenario() -> None:
        settings = stack.settings()
        redis = connect(stack.redis_url)
        registry = Registry(redis)
        stack_id = await registry.stack_id()
        await registry.heartbeat("live-gw", 60)
        spec = load_manifest(FIXTURES / "echo")
        stack.engine.add_image("echo:1", FIXTURES / "echo")
        started = {}
        for owner in ("dead-gw", "live-gw"):
            lifecycle = Lifecycle(stack.engine, settings, owner, lambda: stack_id)
            started[owner] = await lifecycle.start(spec, "echo:1")
            started[owner].endpoint.close()
        orphan, kept = started["dead-gw"].container_id, started["live-gw"].container_id

        async with stack.gateway():
            assert await gone(stack, orphan)
            assert (await stack.engine.state(kept)).running
            owned = await stack.engine.list({keys.LABEL_STACK: stack_id})
            assert [c.id for c in owned] == [kept]
        await redis.aclose()

    run(scenario)

"""The generic runtime pool end to end over the fake engine: a spare specialised into a
function on its first call, and the cold start when that fails."""

from __future__ import annotations

from faas import keys
from faas.engines.fake import FakeEngine
from tests.unit.fake_gateway import BASE_ID, FIXTURES, FakeGateway, Stack, run, timings, until


async def spares(engine: FakeEngine, gw: FakeGateway) -> list[str]:
    """The gateway's generic runtime instances that run and have no function yet."""
    found = await engine.list(
        {keys.LABEL_ROLE: keys.ROLE_GENERIC, keys.LABEL_GATEWAY: gw.gateway_id}
    )
    return [c.id for c in found if c.state == "running"]


async def ready_spares(gw: FakeGateway, name: str) -> int:
    """Spares of the function's shape the gateway holds ready (started and answering)."""
    return int((await gw.describe(name))["generic"]["spares"])


def test_a_spare_is_specialised_on_the_first_call(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway(generic_pool=1) as gw:
            await gw.register("echo")
            await until(lambda: ready_spares(gw, "echo"), what="a spare started after the deploy")
            described = await gw.describe("echo")
            assert described["generic"] == {"eligible": True, "reason": None, "spares": 1}
            stack.engine.calls.clear()
            first = await gw.call("echo", "/hello")
            assert first.status_code == 200, first.text
            assert first.headers["x-faas-start"] == "prewarm"
            phases = timings(first)
            assert "load" in phases and "create" not in phases
            assert first.json()["function"] == "echo" and first.json()["greeting"] == "hi"
            assert not [op for op, _ in stack.engine.calls if op == "create"]
            assert (await gw.call("echo")).headers["x-faas-start"] == "warm"
            await gw.until_counts("echo", {"ready": 1})
            [container] = await gw.container_ids("echo")
            await until(  # renamed after RENAME_DELAY: `docker ps` shows whose it is
                lambda: ("rename", container) in stack.engine.calls, what="the rename"
            )

    run(scenario)


def test_a_spare_that_died_falls_back_to_a_cold_start(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway(generic_pool=1) as gw:
            await gw.register("echo")
            await until(lambda: ready_spares(gw, "echo"), what="a spare")
            [spare] = await spares(stack.engine, gw)
            await stack.engine.crash(spare)
            answer = await gw.call("echo")
            assert answer.status_code == 200, answer.text
            assert answer.headers["x-faas-start"] == "cold"
            assert "load" not in timings(answer)

    run(scenario)


def test_functions_with_their_own_dependencies_are_started_cold(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway(generic_pool=1) as gw:
            labels = {keys.LABEL_DEPS: "true", keys.LABEL_BASE_IMAGE: BASE_ID}
            stack.engine.add_image("echo:deps", FIXTURES / "echo", labels=labels)
            await gw.register("echo", image="echo:deps")

            async def judged() -> bool:
                reason = (await gw.describe("echo"))["generic"]["reason"]
                return bool(reason == "has its own dependencies (requirements.txt)")

            await until(judged, what="the image judged ineligible")
            answer = await gw.call("echo")
            assert (answer.status_code, answer.headers["x-faas-start"]) == (200, "cold")
            assert await spares(stack.engine, gw) == []  # no function of its shape can use one

    run(scenario)

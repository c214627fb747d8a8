"""The generic pool's bookkeeping with a fake Docker side (the real thing: test_generic.py)."""

from __future__ import annotations

import asyncio
import io
import tarfile

from faas import keys
from faas.contracts.native import NativeEndpoint
from faas.contracts.transport import Address
from faas.manifest.spec import parse_manifest
from faas.pool.generic import GenericPool
from faas.pool.hardening import Shape
from faas.pool.lifecycle import Started
from faas.pool.policy import FunctionPool
from faas.settings import Settings

BASE = "sha256:base"
NO_DEPS = {keys.LABEL_DEPS: "false", keys.LABEL_BASE_IMAGE: BASE}
WITH_DEPS = {keys.LABEL_DEPS: "true", keys.LABEL_BASE_IMAGE: BASE}


def code_tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("function/handler.py")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"x=1\n"))
    return buffer.getvalue()


class FakeLifecycle:
    gateway_id = "gw"
    stack_id = "stack"

    def __init__(self, labels: dict[str, dict[str, str]]) -> None:
        self.labels = labels
        self.started: list[str] = []
        self.removed: list[str] = []

    async def image_labels(self, image: str) -> dict[str, str] | None:
        return self.labels.get(image)

    async def read_code(self, image: str, path: str) -> bytes:
        return code_tar()

    async def start_generic(self, shape: Shape, image: str) -> Started:
        cid = f"c{len(self.started)}"
        self.started.append(cid)
        return Started(cid, NativeEndpoint(Address(path=f"/s/{cid}")), 1.0, 1.0, 1.0)

    async def remove(self, container_id: str, endpoint: object = None) -> None:
        self.removed.append(container_id)


async def no_runtime_image() -> tuple[str, str] | None:
    return None


def function(name: str, image: str, **manifest: object) -> FunctionPool:
    return FunctionPool(parse_manifest({"name": name, **manifest}), image)


async def ready_pool(
    labels: dict[str, dict[str, str]], pools: list[FunctionPool], size: int = 2
) -> tuple[GenericPool, FakeLifecycle]:
    containers = FakeLifecycle(labels)
    generic = GenericPool(containers, Settings(generic_pool=size), lambda: 0.0, no_runtime_image)  # type: ignore[arg-type]
    generic.image, generic.base_id = "faas/runtime:1", BASE
    for pool in pools:  # learns the code, then starts spares
        generic.learn(pool.spec.name, pool.spec, pool.image, lambda memory: True)
    await generic.settle()
    generic.tick(lambda memory: True)  # nothing missing: starts none
    await generic.settle()
    return generic, containers


def test_spares_are_kept_per_shape_of_eligible_functions_only() -> None:
    async def scenario() -> None:
        small = function("a", "img:a", memory="64Mi")
        same = function("b", "img:b", memory="64Mi")
        big = function("c", "img:c", memory="256Mi")
        deps = function("d", "img:d", memory="512Mi")
        labels = {"img:a": NO_DEPS, "img:b": NO_DEPS, "img:c": NO_DEPS, "img:d": WITH_DEPS}
        generic, containers = await ready_pool(labels, [small, same, big, deps])
        assert generic.count(Shape.of(small.spec)) == 2  # shared by a and b
        assert generic.count(Shape.of(big.spec)) == 2
        assert len(containers.started) == 4  # none for d's shape
        assert generic.describe(deps.spec, "img:d")["reason"] == (
            "has its own dependencies (requirements.txt)"
        )
        assert generic.take(deps.spec, "img:d") is None
        taken = generic.take(same.spec, "img:b")
        assert taken is not None and [f.path for f in taken[1]] == ["handler.py"]
        assert generic.count(Shape.of(small.spec)) == 1

    asyncio.run(scenario())


def test_spares_of_shapes_no_longer_needed_are_removed() -> None:
    async def scenario() -> None:
        a = function("a", "img:a", memory="64Mi")
        generic, containers = await ready_pool({"img:a": NO_DEPS}, [a])
        generic.forget("a")  # the function was removed
        generic.tick(lambda memory: True)
        await generic.settle()
        assert sorted(containers.removed) == ["c0", "c1"]
        assert generic.memory_in_use() == 0

    asyncio.run(scenario())


def test_spares_respect_the_memory_budget_and_give_way_first() -> None:
    async def scenario() -> None:
        a = function("a", "img:a", memory="64Mi")
        containers = FakeLifecycle({"img:a": NO_DEPS})
        generic = GenericPool(containers, Settings(generic_pool=3), lambda: 0.0, no_runtime_image)  # type: ignore[arg-type]
        generic.image, generic.base_id = "faas/runtime:1", BASE
        generic.learn("a", a.spec, a.image, lambda memory: False)  # reads the code; no room yet
        await generic.settle()
        assert generic.count(Shape.of(a.spec)) == 0
        room = iter([True, True])  # room for two more containers, of the three wanted
        generic.tick(lambda memory: next(room, False))
        await generic.settle()
        assert generic.count(Shape.of(a.spec)) == 2
        generic.shrink(64 * 2**20 + 1)  # needs two spares' worth
        await generic.settle()
        assert generic.count(Shape.of(a.spec)) == 0

    asyncio.run(scenario())


def test_a_spare_started_while_closing_is_removed() -> None:
    async def scenario() -> None:
        a = function("a", "img:a", memory="64Mi")
        containers = FakeLifecycle({"img:a": NO_DEPS})
        generic = GenericPool(containers, Settings(generic_pool=1), lambda: 0.0, no_runtime_image)  # type: ignore[arg-type]
        generic.image, generic.base_id = "faas/runtime:1", BASE
        generic.learn("a", a.spec, a.image, lambda memory: False)
        await generic.settle()
        generic.tick(lambda memory: True)  # the start is under way...
        await generic.close()  # ...when the gateway stops
        assert containers.started == containers.removed == ["c0"]

    asyncio.run(scenario())


def test_off_when_the_size_is_zero() -> None:
    generic = GenericPool(
        FakeLifecycle({}), Settings(generic_pool=0), lambda: 0.0, no_runtime_image
    )  # type: ignore[arg-type]
    spec = parse_manifest({"name": "a"})
    assert generic.describe(spec, "img:a") == {
        "eligible": False,
        "reason": "off (FAAS_GENERIC_POOL=0)",
        "spares": 0,
    }

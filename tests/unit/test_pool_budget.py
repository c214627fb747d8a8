"""The memory budget: spares give way first, then idle containers, LRU and above scale.min."""

from __future__ import annotations

import pytest

from faas.errors import Unavailable
from faas.manifest.spec import parse_manifest
from faas.pool.budget import MemoryBudget, choose_victims
from faas.pool.policy import FunctionPool, Instance

MI = 2**20


def pool(name: str, memory: str = "64Mi", **manifest: object) -> FunctionPool:
    return FunctionPool(parse_manifest({"name": name, "memory": memory, **manifest}), f"img:{name}")


def running(p: FunctionPool, last_used: float, *, busy: bool = False) -> Instance:
    instance = p.reserve(0.0)
    p.ready(instance, last_used)
    if busy:
        p.acquire(instance)
    return instance


class FakeSpares:
    def __init__(self, count: int, memory: int = 64 * MI) -> None:
        self.sizes = [memory] * count

    def memory_in_use(self) -> int:
        return sum(self.sizes)

    def shrink(self, needed: int) -> None:
        while needed > 0 and self.sizes:
            needed -= self.sizes.pop(0)


def test_fits_without_evicting() -> None:
    a = pool("a")
    running(a, 1.0)
    budget = MemoryBudget(128 * MI, lambda: [a])
    assert budget.has_room(64 * MI) and not budget.has_room(64 * MI + 1)
    assert budget.make_room(a) == []


def test_least_recently_used_idle_container_is_evicted() -> None:
    a, b = pool("a"), pool("b")
    old, new = running(a, 1.0), running(b, 2.0)
    budget = MemoryBudget(128 * MI, lambda: [a, b])
    assert budget.make_room(b) == [(a, old)]
    assert new.state.value == "ready"


def test_containers_above_scale_min_go_before_older_ones_within_it() -> None:
    kept = pool("kept", scale={"min": 1})
    other = pool("other")
    running(kept, 1.0)
    newer = running(other, 5.0)
    assert choose_victims([kept, other], 64 * MI, 128 * MI) == [newer]


def test_busy_containers_are_never_evicted() -> None:
    a = pool("a")
    running(a, 1.0, busy=True)
    budget = MemoryBudget(64 * MI, lambda: [a])
    with pytest.raises(Unavailable, match="FAAS_MEMORY_BUDGET"):
        budget.make_room(a)


def test_generic_spares_give_way_first() -> None:
    a = pool("a")
    idle = running(a, 1.0)
    spares = FakeSpares(2)
    budget = MemoryBudget(192 * MI, lambda: [a], spares)
    assert budget.in_use() == 192 * MI
    assert budget.make_room(a) == []  # one spare removed, the idle container kept
    assert spares.sizes == [64 * MI] and idle.state.value == "ready"
    spares_all = FakeSpares(3)
    budget = MemoryBudget(128 * MI, lambda: [a], spares_all)
    assert budget.make_room(pool("b", "128Mi")) == [(a, idle)]  # every spare went, then a's
    assert spares_all.sizes == []

"""The memory budget: the sum of the memory limits of live containers stays within
FAAS_MEMORY_BUDGET.

Before a container starts, room is made: generic spares give way first (losing one costs a
later call ~200 ms at most), then idle containers are evicted, least recently used first and
those above their function's scale.min before the others. Pure bookkeeping: it says which
containers to evict, the caller removes them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from faas.errors import Unavailable
from faas.pool.policy import FunctionPool, Instance


class Spares(Protocol):
    """The generic pool's side of the budget."""

    def memory_in_use(self) -> int: ...

    def shrink(self, needed: int) -> None: ...


class MemoryBudget:
    """`pools()` yields the pools that may hold containers (pools without any cost nothing)."""

    def __init__(
        self,
        limit: int,
        pools: Callable[[], Iterable[FunctionPool]],
        spares: Spares | None = None,
    ) -> None:
        self.limit = limit
        self._pools = pools
        self._spares = spares

    def in_use(self) -> int:
        """The sum of the memory limits of every live container, spares included."""
        spares = self._spares.memory_in_use() if self._spares is not None else 0
        return spares + sum(pool.memory_in_use() for pool in self._pools())

    def has_room(self, memory: int) -> bool:
        return self.in_use() + memory <= self.limit

    def make_room(self, pool: FunctionPool) -> list[tuple[FunctionPool, Instance]]:
        """Room for another container of `pool`: the idle containers to evict for it.

        Shrinks the generic spares first; raises Unavailable when even evicting every idle
        container would not make room.
        """
        limit = self.limit
        if self._spares is not None:
            self._spares.shrink(self.in_use() + pool.spec.memory - limit)
            limit -= self._spares.memory_in_use()
        pools = list(self._pools())
        victims = choose_victims(pools, pool.spec.memory, limit)
        if victims is None:
            raise Unavailable(
                f"no room for another {pool.spec.memory // 2**20}Mi container of "
                f"{pool.spec.name!r}: every container within FAAS_MEMORY_BUDGET "
                f"({self.limit // 2**20}Mi) is busy; retry later or raise it"
            )
        owners = {p.spec.name: p for p in pools}
        return [(owners[v.function], v) for v in victims if v.function in owners]


def choose_victims(
    pools: Iterable[FunctionPool], needed: int, budget: int
) -> list[Instance] | None:
    """Idle containers to evict, least recently used first, so `needed` bytes fit the budget.

    Containers above their function's scale.min go first. Returns [] when it already fits and
    None when even evicting every idle container would not make room.
    """
    pools = list(pools)
    in_use = sum(pool.memory_in_use() for pool in pools)
    if in_use + needed <= budget:
        return []
    spare: list[tuple[bool, float, int, Instance, FunctionPool]] = []
    for pool in pools:
        idle = sorted((i for i in pool.instances if i.idle), key=lambda i: i.last_used)
        above_min = pool.live_count() - pool.spec.scale.min
        for rank, instance in enumerate(idle):
            spare.append((rank >= above_min, instance.last_used, instance.seq, instance, pool))
    victims: list[Instance] = []
    for _, _, _, instance, pool in sorted(spare, key=lambda s: s[:3]):
        if in_use + needed <= budget:
            break
        victims.append(instance)
        in_use -= pool.spec.memory
    return victims if in_use + needed <= budget else None

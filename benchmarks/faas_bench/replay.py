"""What-if replay: a call trace driven through faas's own pool policy on a fake clock.

Each function of the trace gets a real `faas.pool.policy.FunctionPool`. Calls ask it `decide()`
as the invoker does, and maintenance runs on a 1 s tick as the gateway's does (`expired`,
`to_pause`, `deficit`), so the answer is what faas would do with those settings, not what a
model of it would. Compared per setup: the share of cold starts against container-seconds
spent alive but not executing (idle, or paused), after Shahrad et al., "Serverless in the
Wild" (ATC'20).

Left out: the memory budget (functions never compete for memory) and scale.max (no limit, so
no call waits). A cold start, and a pre-start, takes `cold_delay` seconds; a resume takes none.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from faas.manifest.spec import FunctionSpec, Scale
from faas.pool.policy import Create, FunctionPool, Instance, Reuse, StartKind, State
from faas.units import format_duration
from faas_bench.traces import Invocation

TICK = 1.0  # seconds between maintenance passes, as faas.pool.maintenance.TICK
NO_LIMIT = 1_000_000  # scale.max: no call ever waits


@dataclass(frozen=True)
class Setup:
    """The pool settings a replay tries: a manifest's keep_alive and scale.min, and the
    gateway's FAAS_PAUSE_AFTER (0: never pause)."""

    keep_alive: float
    scale_min: int = 0
    pause_after: float = 0.0

    def __post_init__(self) -> None:
        if not (self.keep_alive >= 0 and self.pause_after >= 0 and self.scale_min >= 0):
            raise ValueError(f"keep-alive, scale.min and pause-after must not be negative: {self}")

    @property
    def name(self) -> str:
        if not (self.keep_alive or self.scale_min):
            return "no pool (keep_alive 0s)"
        parts = [f"keep_alive {format_duration(self.keep_alive)}"]
        if self.scale_min:
            parts.append(f"scale.min {self.scale_min}")
        if self.pause_after:
            parts.append(f"pause after {format_duration(self.pause_after)}")
        return ", ".join(parts)

    def spec(self, function: str) -> FunctionSpec:
        return FunctionSpec(
            name=function, keep_alive=self.keep_alive, scale=Scale(self.scale_min, NO_LIMIT)
        )


def default_setups(
    keep_alive: float = 600.0, scale_min: int = 1, pause_after: float = 30.0
) -> list[Setup]:
    """No pool, keep-alive alone, keep-alive with pausing (faas's defaults), and that with
    `scale_min` containers kept ready."""
    return [
        Setup(0.0),
        Setup(keep_alive),
        Setup(keep_alive, pause_after=pause_after),
        Setup(keep_alive, scale_min, pause_after),
    ]


class FunctionReplay:
    """One function's pool through the trace. Events at the same instant: calls that end and
    containers that become ready first, then maintenance, then the new call."""

    def __init__(self, spec: FunctionSpec, pause_after: float, cold_delay: float) -> None:
        self.pool = FunctionPool(spec, image="what-if")
        self.pause_after = pause_after
        self.cold_delay = cold_delay
        self.now = 0.0
        self.next_tick = 0.0  # the first pass starts the scale.min containers at t = 0
        self.events: list[tuple[float, int, bool, Instance]] = []  # (when, order, ends, instance)
        self.order = itertools.count()  # ties: first scheduled, first applied
        self.starts: Counter[str] = Counter()
        self.idle = self.paused = 0.0
        self.last_end = 0.0
        self._due: float | None = None  # _next_tick's answer until the pool changes

    def call(self, at: float, duration: float) -> None:
        self.run_until(at)
        decision = self.pool.decide()
        if isinstance(decision, Reuse):
            instance, kind, busy = decision.instance, decision.kind, duration
        else:
            assert isinstance(decision, Create), "scale.max is not limited here"
            instance, kind = self.pool.reserve(at), StartKind.COLD
            self.pool.ready(instance, at)  # BUSY from here on: no other call can take it
            busy = self.cold_delay + duration
        self.pool.acquire(instance)
        self._due = None
        self.starts[kind] += 1
        self._at(at + busy, True, instance)
        self.last_end = max(self.last_end, at + busy)

    def run_until(self, until: float) -> None:
        """Apply every event and maintenance pass up to `until`, counting idle time."""
        while True:
            event = self.events[0][0] if self.events else math.inf
            tick = self._next_tick()
            if min(event, tick) > until:
                break
            self._due = None
            if event <= tick:
                when, _, ends, instance = heapq.heappop(self.events)
                self._advance(when)
                if ends:
                    self.pool.release(instance, when)
                else:
                    self.pool.ready(instance, when)
            else:
                self._advance(tick)
                self._maintain()
        self._advance(until)

    def _maintain(self) -> None:
        """What faas.pool.maintenance does on each tick, on the fake clock."""
        now, pool = self.now, self.pool
        for instance in pool.expired(now):
            pool.discard(instance)
        for instance in pool.to_pause(now, self.pause_after):
            pool.pause(instance)
        for _ in range(pool.deficit()):
            self._at(now + self.cold_delay, False, pool.reserve(now, prewarmed=True))
        self.next_tick = now + TICK

    def _next_tick(self) -> float:
        """The first tick at which maintenance would change something (inf: none)."""
        if self._due is None:
            self._due = self._first_due_tick()
        return self._due

    def _first_due_tick(self) -> float:
        pool = self.pool
        due = [self.next_tick] if pool.deficit() else []
        if pool.live_count() > pool.spec.scale.min:
            due += [i.last_used + pool.spec.keep_alive for i in pool.instances if i.idle]
        if self.pause_after > 0:
            due += [
                i.last_used + self.pause_after
                for i in pool.instances
                if i.state is State.READY and i.inflight == 0
            ]
        # Each pass at or after a due time removes or pauses a container: no endless loop.
        return max(self.next_tick, math.ceil(min(due) / TICK) * TICK) if due else math.inf

    def _at(self, when: float, ends: bool, instance: Instance) -> None:
        heapq.heappush(self.events, (when, next(self.order), ends, instance))

    def _advance(self, to: float) -> None:
        span = to - self.now
        if span > 0:
            for instance in self.pool.instances:
                if instance.inflight == 0 and instance.state is State.READY:
                    self.idle += span
                elif instance.state is State.PAUSED:
                    self.paused += span
            self.now = to


def replay(trace: Iterable[Invocation], setup: Setup, *, cold_delay: float = 0.0) -> dict[str, Any]:
    """One setup over the whole trace, until the last call ends; deterministic."""
    if not cold_delay >= 0:
        raise ValueError(f"cold delay must not be negative, got {cold_delay!r}")
    replays: dict[str, FunctionReplay] = {}
    for call in sorted(trace, key=lambda c: c.timestamp):  # stable: same-instant calls in order
        if call.function not in replays:
            replays[call.function] = FunctionReplay(
                setup.spec(call.function), setup.pause_after, cold_delay
            )
        replays[call.function].call(call.timestamp, call.duration)
    horizon = max((r.last_end for r in replays.values()), default=0.0)
    starts: Counter[str] = Counter()
    idle = paused = 0.0
    for r in replays.values():
        r.run_until(horizon)
        starts += r.starts
        idle, paused = idle + r.idle, paused + r.paused
    calls = sum(starts.values())
    return {
        "policy": setup.name,
        "invocations": calls,
        "cold_pct": 100.0 * starts[StartKind.COLD] / calls if calls else 0.0,
        **{kind.value: starts[kind] for kind in StartKind},
        "idle_seconds": idle,
        "paused_seconds": paused,
        "wasted_seconds": idle + paused,
        "horizon": horizon,
    }


def replay_table(
    trace: Sequence[Invocation],
    setups: Sequence[Setup],
    *,
    cold_delay: float = 0.0,
    source: str = "",
) -> dict[str, Any]:
    """Every setup over the trace, as JSON-ready data (`results.json`'s `replay`)."""
    rows = [replay(trace, setup, cold_delay=cold_delay) for setup in setups]
    return {
        "trace": source,
        "invocations": len(trace),
        "functions": len({call.function for call in trace}),
        "horizon": rows[0]["horizon"] if rows else 0.0,
        "cold_delay": cold_delay,
        "policies": rows,
    }

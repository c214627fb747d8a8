"""What-if replay of an invocation trace against container pool policies.

After Shahrad et al., "Serverless in the Wild" (ATC'20): for each policy, the share of cold
starts against the container time spent alive but not executing (wasted memory time).

The model, per function (functions never compete for memory or CPU):
- A container runs one call at a time. A call is served, in order of preference, by a running
  idle container (warm; the most recently loaded first), one the policy started ahead of demand
  and that has served nothing since (prewarm), a paused one (paused), else a new container
  (cold). Pauses and resumes take no time.
- A cold start occupies its container for `cold_delay + duration` (default 0: the cold start
  changes only the counts, not the timeline).
- When a call ends at e, the policy returns a Plan: the container is unloaded for
  [e, e + unload_for), alive from then on for `keep_alive` seconds (half-open, so 0 means gone
  at once), paused after `pause_after` of those. An unloaded container waiting for its pre-warm
  is taken by the next cold start, which cancels that pre-warm.
- Idle and paused seconds stop at the horizon: the end of the last call in the trace, unless
  `until` is later. Pre-started containers exist from t = 0.
"""

from __future__ import annotations

import heapq
import math
from abc import ABC, abstractmethod
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from itertools import accumulate

from faas.bench.traces import Invocation


@dataclass(frozen=True)
class Plan:
    """A container's life after its call ends; every field in seconds (see the module doc)."""

    keep_alive: float
    unload_for: float = 0.0
    pause_after: float = math.inf


class Policy(ABC):
    """One function's pool policy. `replay` calls `fresh()` once per function, so a policy
    that learns (HybridHistogram) returns a new instance and the stateless ones themselves."""

    name: str = "policy"
    prestart: int = 0  # spare never-used containers kept ready at all times

    def fresh(self) -> Policy:
        return self

    def observe_idle(self, seconds: float) -> None:
        """Called at each call after the first: time since the function last ran (0 if busy)."""
        return None  # only learning policies use it

    @abstractmethod
    def plan(self) -> Plan: ...


def _seconds(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:g}s"


def _non_negative(name: str, value: float) -> None:
    if not value >= 0:  # also rejects NaN
        raise ValueError(f"{name} must not be negative, got {value!r}")


class NoPool(Policy):
    """Remove the container as soon as its call ends: every call is cold."""

    name = "no-pool"

    def plan(self) -> Plan:
        return Plan(keep_alive=0.0)


class FixedKeepAlive(Policy):
    """Keep each container for a fixed time after its call (AWS ~10 min, Azure 20 min)."""

    def __init__(self, seconds: float = 600.0) -> None:
        _non_negative("keep-alive", seconds)
        self.seconds = seconds
        self.name = f"keep-alive {_seconds(seconds)}"

    def plan(self) -> Plan:
        return Plan(keep_alive=self.seconds)


class PrestartN(Policy):
    """`n` spare containers always ready (replaced the moment one is taken, like OpenWhisk's
    stem cells), plus a fixed keep-alive for containers after their calls."""

    def __init__(self, n: int = 1, keep_alive: float = 600.0) -> None:
        if n < 0:
            raise ValueError(f"n must not be negative, got {n}")
        _non_negative("keep-alive", keep_alive)
        self.prestart = n
        self.keep_alive = keep_alive
        self.name = f"prestart {n} + keep-alive {_seconds(keep_alive)}"

    def plan(self) -> Plan:
        return Plan(keep_alive=self.keep_alive)


class PauseAfterGrace(Policy):
    """Keep a container running for `grace`, then paused until `keep_alive` after its call."""

    def __init__(self, grace: float = 10.0, keep_alive: float = 600.0) -> None:
        _non_negative("grace", grace)
        _non_negative("keep-alive", keep_alive)
        self.grace = grace
        self.keep_alive = keep_alive
        self.name = f"pause after {_seconds(grace)}, keep-alive {_seconds(keep_alive)}"

    def plan(self) -> Plan:
        return Plan(keep_alive=self.keep_alive, pause_after=self.grace)


@dataclass(eq=False)
class HybridHistogram(Policy):
    """The paper's hybrid histogram policy, per function.

    Idle times (end of one call to the start of the next) go in a histogram of `bin`-second
    bins over `range`. Once `min_samples` are seen and the bin counts' CV reaches
    `cv_threshold` (a peaked, predictable histogram), the container is unloaded after each call
    and pre-warmed at the head percentile's bin start less `margin`, then kept until the tail
    percentile's bin end plus `margin`; a head in the first bin means no unload. Otherwise:
    a fixed keep-alive of `range`. Simplification: where the paper forecasts with ARIMA (at least
    `oob_threshold` of idle times beyond the range), this uses the last idle time as the
    forecast, pre-warming 15% before it and keeping alive until 15% after it, as the paper's
    ARIMA margins do.
    """

    range: float = 4 * 3600.0  # the paper's names
    bin: float = 60.0
    head: float = 5.0
    tail: float = 99.0
    margin: float = 0.10
    cv_threshold: float = 2.0
    min_samples: int = 10
    oob_threshold: float = 0.5

    def __post_init__(self) -> None:
        if not (self.bin > 0 and self.range >= 2 * self.bin):
            raise ValueError(f"need bin > 0 and range >= 2 bins, got {self.range}, {self.bin}")
        if not 0 <= self.head <= self.tail <= 100:
            raise ValueError(f"need 0 <= head <= tail <= 100, got {self.head}, {self.tail}")
        if not 0 <= self.margin < 1:
            raise ValueError(f"margin must be in [0, 1), got {self.margin!r}")
        self.name = f"hybrid histogram {_seconds(self.range)}/{_seconds(self.bin)}"
        self._bins = [0] * round(self.range / self.bin)
        self._in_range = 0
        self._squares = 0  # sum of squared bin counts, kept for an O(1) CV
        self._out_of_range = 0
        self._last_idle = 0.0

    def fresh(self) -> HybridHistogram:
        return replace(self)  # same settings, empty histogram

    def observe_idle(self, seconds: float) -> None:
        self._last_idle = seconds
        index = math.floor(seconds / self.bin)
        if index >= len(self._bins):
            self._out_of_range += 1
            return
        self._squares += 2 * self._bins[index] + 1
        self._bins[index] += 1
        self._in_range += 1

    def bins_cv(self) -> float:
        """Coefficient of variation of the bin counts (sample stdev over all bins)."""
        count, total = len(self._bins), self._in_range
        if total == 0:
            return 0.0
        variance = (self._squares - total * total / count) / (count - 1)
        return math.sqrt(max(variance, 0.0)) / (total / count)

    def _bin_at(self, pct: float) -> int:
        # First bin whose cumulative count reaches pct% of the in-range samples.
        cumulative = list(accumulate(self._bins))
        return min(bisect_left(cumulative, pct / 100 * self._in_range), len(self._bins) - 1)

    def plan(self) -> Plan:
        seen = self._in_range + self._out_of_range
        if seen < max(self.min_samples, 1):
            return Plan(keep_alive=self.range)
        if self._out_of_range / seen >= self.oob_threshold:
            forecast = self._last_idle
            return Plan(unload_for=forecast * 0.85, keep_alive=forecast * 0.30)
        if self.bins_cv() < self.cv_threshold:
            return Plan(keep_alive=self.range)
        prewarm = self._bin_at(self.head) * self.bin * (1 - self.margin)
        until = (self._bin_at(self.tail) + 1) * self.bin * (1 + self.margin)
        return Plan(unload_for=prewarm, keep_alive=until - prewarm)


@dataclass(frozen=True)
class PoolStats:
    invocations: int = 0
    cold_starts: int = 0
    prewarm_starts: int = 0
    paused_starts: int = 0
    warm_starts: int = 0
    idle_seconds: float = 0.0  # alive, running, not executing
    paused_seconds: float = 0.0  # alive, paused

    @property
    def cold_pct(self) -> float:
        return 100.0 * self.cold_starts / self.invocations if self.invocations else 0.0

    @property
    def wasted_seconds(self) -> float:
        """Memory held without executing: idle plus paused container-seconds."""
        return self.idle_seconds + self.paused_seconds

    def __add__(self, other: PoolStats) -> PoolStats:
        return PoolStats(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


@dataclass(frozen=True)
class ReplayResult:
    policy: str
    total: PoolStats
    functions: dict[str, PoolStats] = field(default_factory=dict)
    horizon: float = 0.0


@dataclass(eq=False)
class _Container:
    load_at: float
    expire_at: float = math.inf
    pause_at: float = math.inf
    fresh: bool = True  # started by the policy, has served nothing since
    spare: bool = False  # one of PrestartN's spares
    busy: bool = False


class _FunctionReplay:
    """One function's pool through the trace; `finish` closes the books at the horizon."""

    def __init__(self, policy: Policy, cold_delay: float) -> None:
        self.policy, self.cold_delay = policy, cold_delay
        self.pool = [_Container(0.0, spare=True) for _ in range(policy.prestart)]
        self.ends: list[tuple[float, int, _Container]] = []
        self.counts = dict.fromkeys(("cold", "prewarm", "paused", "warm"), 0)
        self.idle = self.paused = 0.0
        self.last_end: float | None = None
        self.calls = 0  # tie-break for the end-time heap

    def _close(self, c: _Container, at: float) -> None:
        stop = min(at, c.expire_at)
        self.idle += max(0.0, min(stop, c.pause_at) - c.load_at)
        self.paused += max(0.0, stop - max(c.pause_at, c.load_at))

    def _finish_calls(self, until: float) -> None:
        while self.ends and self.ends[0][0] <= until:
            end, _, c = heapq.heappop(self.ends)
            plan = self.policy.plan()
            c.busy, c.fresh = False, plan.unload_for > 0
            c.load_at = end + plan.unload_for
            c.pause_at = c.load_at + plan.pause_after
            c.expire_at = c.load_at + plan.keep_alive

    def call(self, t: float, duration: float) -> None:
        self._finish_calls(t)
        alive = []
        for c in self.pool:
            if not c.busy and c.expire_at <= t:
                self._close(c, c.expire_at)
            else:
                alive.append(c)
        self.pool = alive
        if self.last_end is not None:
            self.policy.observe_idle(max(0.0, t - self.last_end))

        def rank(c: _Container) -> tuple[int, float]:
            if t < c.load_at:
                return 3, -c.load_at  # unloaded, waiting for its pre-warm
            if t >= c.pause_at:
                return 2, -c.load_at
            return (1 if c.fresh else 0), -c.load_at

        free = [c for c in self.pool if not c.busy]
        chosen = min(free, key=rank, default=None)
        kind = "cold"
        if chosen is None:
            chosen = _Container(t)
            self.pool.append(chosen)
        else:
            kind = ("warm", "prewarm", "paused", "cold")[rank(chosen)[0]]
            self._close(chosen, t)
        if chosen.spare:
            chosen.spare = False
            self.pool.append(_Container(t, spare=True))
        self.counts[kind] += 1
        chosen.busy = True
        end = t + duration + (self.cold_delay if kind == "cold" else 0.0)
        self.calls += 1
        heapq.heappush(self.ends, (end, self.calls, chosen))
        self.last_end = end if self.last_end is None else max(self.last_end, end)

    def finish(self, horizon: float) -> PoolStats:
        self._finish_calls(horizon)
        for c in self.pool:
            self._close(c, horizon)
        n = self.counts
        total = sum(n.values())
        return PoolStats(
            total, n["cold"], n["prewarm"], n["paused"], n["warm"], self.idle, self.paused
        )


def replay(
    trace: Iterable[Invocation],
    policy: Policy,
    *,
    until: float | None = None,
    cold_delay: float = 0.0,
) -> ReplayResult:
    """Replay `trace` with a fresh copy of `policy` per function; deterministic."""
    _non_negative("cold_delay", cold_delay)
    by_function: dict[str, list[Invocation]] = {}
    for inv in trace:
        if not (inv.timestamp >= 0 and inv.duration >= 0):
            raise ValueError(f"invocation times must not be negative: {inv}")
        by_function.setdefault(inv.function, []).append(inv)
    sims: dict[str, _FunctionReplay] = {}
    for name in sorted(by_function):
        sim = sims[name] = _FunctionReplay(policy.fresh(), cold_delay)
        # Stable: calls at the same instant keep their trace order.
        for inv in sorted(by_function[name], key=lambda i: i.timestamp):
            sim.call(inv.timestamp, inv.duration)
    last_end = max((s.last_end or 0.0 for s in sims.values()), default=0.0)
    if until is not None and until < last_end:
        raise ValueError(f"until={until} is before the last call ends ({last_end})")
    horizon = last_end if until is None else until
    functions = {name: sim.finish(horizon) for name, sim in sims.items()}
    return ReplayResult(policy.name, sum(functions.values(), PoolStats()), functions, horizon)


def compare_policies(
    trace: Iterable[Invocation],
    policies: Sequence[Policy],
    *,
    until: float | None = None,
    cold_delay: float = 0.0,
) -> list[ReplayResult]:
    calls = list(trace)
    return [replay(calls, p, until=until, cold_delay=cold_delay) for p in policies]


def format_table(results: Iterable[ReplayResult]) -> str:
    """A plain-text table of the totals, one policy per line."""
    lines = [f"{'policy':<40} {'calls':>8} {'cold %':>7} {'idle s':>12} {'paused s':>12}"]
    for r in results:
        t = r.total
        lines.append(
            f"{r.policy:<40} {t.invocations:>8} {t.cold_pct:>7.2f}"
            f" {t.idle_seconds:>12.1f} {t.paused_seconds:>12.1f}"
        )
    return "\n".join(lines)

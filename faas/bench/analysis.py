"""From measurements to answers: ratios to baselines, the targets of targets.md, the cost view
and the pool what-if. Pure functions of a `BenchResult` (or a trace), no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from faas.bench import cost
from faas.bench.replay import (
    FixedKeepAlive,
    HybridHistogram,
    NoPool,
    PauseAfterGrace,
    Policy,
    PrestartN,
    compare_policies,
)
from faas.bench.results import BenchResult, Series, Throughput
from faas.bench.stats import Comparison, Summary, compare, summarize
from faas.bench.traces import Invocation

MIB = 2**20


# -- comparisons -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ratio:
    series: str
    baseline: str
    comparison: Comparison


def comparisons(result: BenchResult) -> list[Ratio]:
    """Every series against each of its baselines that has samples."""
    out: list[Ratio] = []
    for series in result.series.values():
        mine = series.summary()
        if mine is None:
            continue
        for name in series.baselines:
            other = result.series.get(name)
            theirs = other.summary() if other else None
            if theirs is not None:
                out.append(Ratio(series.name, name, compare(mine, theirs)))
    return out


def primary_ratio(result: BenchResult, series: Series) -> Ratio | None:
    for ratio in comparisons(result):
        if ratio.series == series.name:
            return ratio
    return None


def throughput_ratio(result: BenchResult, target: Throughput) -> float | None:
    mine = target.rps()
    for name in target.baselines:
        other = result.throughput.get(name)
        theirs = other.rps() if other else None
        if mine and theirs and theirs.p50 > 0:
            return mine.p50 / theirs.p50
    return None


# -- targets -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    id: str
    goal: str
    measured: str
    baseline: str
    verdict: str  # pass, fail, n/a
    detail: str = ""


def ms(value: float) -> str:
    """A latency for people: µs below 1 ms, then ms with sensible precision."""
    if not math.isfinite(value):
        return "—"
    if abs(value) < 1:
        return f"{value * 1000:.0f} µs"
    if abs(value) < 10:
        return f"{value:.2f} ms"
    if abs(value) < 100:
        return f"{value:.1f} ms"
    if abs(value) < 1000:
        return f"{value:.0f} ms"
    return f"{value / 1000:.2f} s"


def _summary(result: BenchResult, name: str) -> Summary | None:
    series = result.series.get(name)
    return series.summary() if series else None


def _verdict(ok: bool) -> str:
    return "pass" if ok else "fail"


def _na(id_: str, goal: str, why: str) -> Check:
    return Check(id_, goal, "—", "—", "n/a", why)


def evaluate(result: BenchResult) -> list[Check]:
    """The targets of targets.md that this run measured, read straight off the results."""
    checks = (_c1, _c2, _c4, _w1, _w2, _w4, _w5, _m1)
    return [check(result) for check in checks]


def _c1(r: BenchResult) -> Check:
    goal = "cold p50 ≤ B p50 + 15 ms, p95 ≤ 1.10 x B p95 (B: bare SDK, same image and network)"
    cold, base = _summary(r, "cold"), _summary(r, "sdk")
    if not cold or not base:
        return _na("C1", goal, "needs the cold mode and its bare-SDK baseline")
    ok = cold.p50 <= base.p50 + 15 and cold.p95 <= 1.10 * base.p95
    return Check(
        "C1",
        goal,
        f"p50 {ms(cold.p50)}, p95 {ms(cold.p95)}",
        f"p50 {ms(base.p50)}, p95 {ms(base.p95)}",
        _verdict(ok),
        f"p50 {cold.p50 - base.p50:+.1f} ms, p95 {cold.p95 / base.p95:.2f}x",
    )


def _c2(r: BenchResult) -> Check:
    goal = "cold p50 ≤ 0.87 x bridge-with-published-port B p50"
    cold, base = _summary(r, "cold"), _summary(r, "sdk-bridge")
    if not cold or not base:
        return _na("C2", goal, "needs the cold mode and the bridge baseline")
    ratio = cold.p50 / base.p50
    return Check(
        "C2",
        goal,
        f"p50 {ms(cold.p50)}",
        f"p50 {ms(base.p50)}",
        _verdict(ratio <= 0.87),
        f"{ratio:.2f}x",
    )


def _c4(r: BenchResult) -> Check:
    n = r.options.get("burst", 8)
    goal = f"burst 0→{n}, all answered ≤ 1.10 x {n} threads doing bare-SDK B"
    burst, base = _summary(r, "burst"), _summary(r, "sdk-burst")
    if not burst or not base:
        return _na("C4", goal, "needs the burst mode and its threaded baseline")
    ratio = burst.p50 / base.p50
    return Check(
        "C4",
        goal,
        f"p50 {ms(burst.p50)}",
        f"p50 {ms(base.p50)}",
        _verdict(ratio <= 1.10),
        f"{ratio:.2f}x (n = {burst.n})",
    )


def _w1(r: BenchResult) -> Check:
    goal = "warm, 1 connection: gateway adds ≤ 250 µs at p50 and ≤ 1 ms at p99"
    warm, base = _summary(r, "warm"), _summary(r, "direct")
    if not warm or not base:
        return _na("W1", goal, "needs the warm mode and the direct baseline")
    p50, p99 = warm.p50 - base.p50, warm.p99 - base.p99
    return Check(
        "W1",
        goal,
        f"p50 {ms(warm.p50)}, p99 {ms(warm.p99)}",
        f"p50 {ms(base.p50)}, p99 {ms(base.p99)}",
        _verdict(p50 <= 0.25 and p99 <= 1.0),
        f"adds {ms(p50)} at p50, {ms(p99)} at p99 ({warm.p50 / base.p50:.1f}x p50)",
    )


def _w2(r: BenchResult) -> Check:
    goal = "warm, many connections: ≥ 0.45 x direct req/s and ≥ 8,000 req/s"
    gw, base = r.throughput.get("concurrent"), r.throughput.get("direct-load")
    mine, theirs = (gw.rps() if gw else None), (base.rps() if base else None)
    if not mine or not theirs or gw is None:
        return _na("W2", goal, "needs the concurrent mode and its direct baseline")
    ratio = mine.p50 / theirs.p50
    return Check(
        "W2",
        goal,
        f"{mine.p50:,.0f} req/s ({gw.connections} connections, {gw.tool})",
        f"{theirs.p50:,.0f} req/s",
        _verdict(ratio >= 0.45 and mine.p50 >= 8000),
        f"{ratio:.2f}x",
    )


def _w4(r: BenchResult) -> Check:
    goal = "paused container resumed → response: p50 ≤ 20 ms"
    paused, ref = _summary(r, "paused"), _summary(r, "sdk-unpause")
    if not paused:
        return _na("W4", goal, "needs the paused mode")
    return Check(
        "W4",
        goal,
        f"p50 {ms(paused.p50)}, p95 {ms(paused.p95)}",
        f"bare SDK unpause + call p50 {ms(ref.p50)}" if ref else "—",
        _verdict(paused.p50 <= 20.0),
        f"{paused.p50 / ref.p50:.2f}x the bare unpause" if ref else "",
    )


def _w5(r: BenchResult) -> Check:
    """W5 is the generic runtime's first call (code loaded on demand) against B. The own-image
    prewarm (code already in its image) is reported alongside; it gives the verdict only when
    the generic mode was not measured, and the detail says so."""
    goal = "pre-started container's first call (code loaded on demand): p50 ≤ 0.15 x B p50"
    generic, own, base = _summary(r, "generic"), _summary(r, "prewarm"), _summary(r, "sdk")
    if not base or not (generic or own):
        return _na("W5", goal, "needs the generic (or prewarm) mode and the bare-SDK baseline")
    own_text = (
        f"own image, code preloaded: p50 {ms(own.p50)} ({own.p50 / base.p50:.3f}x)" if own else ""
    )
    if generic:
        ratio = generic.p50 / base.p50
        return Check(
            "W5",
            goal,
            f"p50 {ms(generic.p50)}, p95 {ms(generic.p95)} (generic runtime, n = {generic.n})",
            f"B p50 {ms(base.p50)}",
            _verdict(ratio <= 0.15),
            "; ".join(t for t in (f"{ratio:.3f}x", own_text) if t),
        )
    assert own is not None
    series = r.series.get("generic")
    why = (
        f"generic mode not available ({series.unavailable})"
        if series is not None and series.unavailable is not None
        else "generic mode not measured"
    )
    return Check(
        "W5",
        goal,
        f"p50 {ms(own.p50)} (own image, code preloaded)",
        f"B p50 {ms(base.p50)}",
        _verdict(own.p50 / base.p50 <= 0.15),
        f"{own.p50 / base.p50:.3f}x; {why}: verdict from the own-image prewarm",
    )


def _m1(r: BenchResult) -> Check:
    goal = "idle warm container ≤ 12 MiB (cgroup memory usage)"
    if not r.memory:
        return _na("M1", goal, "needs the warm mode and a readable cgroup")
    usage = summarize([m.usage / MIB for m in r.memory])
    rss = summarize([m.rss / MIB for m in r.memory])
    return Check(
        "M1",
        goal,
        f"{usage.p50:.1f} MiB usage (rss {rss.p50:.1f} MiB)",
        "cgroup of the gateway's warm container",
        _verdict(usage.p50 <= 12.0),
        f"n = {usage.n}, max {usage.max:.1f} MiB",
    )


# -- cost --------------------------------------------------------------------------------------

RATES = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)


@dataclass(frozen=True)
class CostView:
    duration_ms: float  # measured
    billed_ms: float
    duration_source: str
    memory_mib: float
    gb_seconds_per_call: float
    cost_per_million: float
    always_on_monthly: float
    capacity: float | None  # calls/s one always-on instance sustains (measured), if known
    rows: list[cost.CostRow]
    break_even: float | None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["rows"] = [asdict(row) | {"cheaper": row.cheaper} for row in self.rows]
        return data


def cost_view(
    result: BenchResult,
    *,
    prices: cost.Prices | None = None,
    always_on_monthly: float | None = None,
    rates: Sequence[float] = RATES,
) -> CostView | None:
    """Monthly cost across rates from the measured warm duration and the memory limit; the
    always-on price defaults to the run's `always_on_monthly` option, else $15."""
    duration, source = _billed_duration(result)
    if duration is None:
        return None
    if always_on_monthly is None:
        always_on_monthly = float(
            result.options.get("always_on_monthly") or cost.DEFAULT_ALWAYS_ON_MONTHLY
        )
    p = prices or cost.Prices()
    memory = result.memory_mib
    gw = result.throughput.get("concurrent")
    rps = gw.rps() if gw else None
    capacity = rps.p50 if rps else None
    # Billed rounded up to the granularity, and at least one unit (a 0.00 ms handler too).
    seconds = max(cost.billed_duration(duration / 1e3, p.granularity), p.granularity)
    return CostView(
        duration_ms=duration,
        billed_ms=seconds * 1e3,
        duration_source=source,
        memory_mib=memory,
        gb_seconds_per_call=cost.gb_seconds_per_call(seconds, memory, p.granularity),
        cost_per_million=cost.cost_per_call(seconds, memory, p) * 1e6,
        always_on_monthly=always_on_monthly,
        capacity=capacity,
        rows=cost.cost_curve(
            rates, seconds, memory, prices=p, monthly_price=always_on_monthly, capacity=capacity
        ),
        break_even=cost.break_even_rate(
            seconds, memory, prices=p, monthly_price=always_on_monthly, capacity=capacity
        ),
    )


def _billed_duration(result: BenchResult) -> tuple[float | None, str]:
    warm = result.series.get("warm")
    if warm is not None:
        handler = warm.part_summary("handler")
        if handler is not None:
            return handler.mean, "mean handler time of warm calls (Server-Timing)"
        summary = warm.summary()
        if summary is not None:
            return summary.mean, "mean client time of warm calls"
    for name in ("direct", "cold"):
        series = result.series.get(name)
        summary = series.summary() if series else None
        if summary is not None:
            return summary.mean, f"mean client time of {name} calls"
    return None, ""


# -- pool what-if ------------------------------------------------------------------------------


def default_policies(
    keep_alive: float = 600.0, prestart: int = 1, grace: float = 10.0
) -> list[Policy]:
    return [
        NoPool(),
        FixedKeepAlive(keep_alive),
        PrestartN(prestart, keep_alive),
        PauseAfterGrace(grace, keep_alive),
        HybridHistogram(),
    ]


def replay_table(
    trace: Sequence[Invocation],
    policies: Sequence[Policy],
    *,
    cold_delay: float = 0.0,
    source: str = "",
) -> dict[str, Any]:
    """Cold-start share vs idle container-seconds per policy, as JSON-ready data."""
    results = compare_policies(trace, policies, cold_delay=cold_delay)
    rows = []
    for r in results:
        t = r.total
        rows.append(
            {
                "policy": r.policy,
                "invocations": t.invocations,
                "cold_pct": t.cold_pct,
                "cold": t.cold_starts,
                "prewarm": t.prewarm_starts,
                "paused": t.paused_starts,
                "warm": t.warm_starts,
                "idle_seconds": t.idle_seconds,
                "paused_seconds": t.paused_seconds,
                "wasted_seconds": t.wasted_seconds,
            }
        )
    return {
        "trace": source,
        "invocations": len(trace),
        "functions": len({inv.function for inv in trace}),
        "horizon": results[0].horizon if results else 0.0,
        "cold_delay": cold_delay,
        "policies": rows,
    }

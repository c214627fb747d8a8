"""From measurements to answers: ratios to baselines, the goals of `goals.toml` and the cost
view. Pure functions of a `BenchResult`.
"""

from __future__ import annotations

import functools
import math
import tomllib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from importlib import resources
from typing import Any

from faas_bench import cost
from faas_bench.results import BenchResult, Series, Throughput
from faas_bench.stats import Comparison, Summary, compare, summarize

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


# -- goals -------------------------------------------------------------------------------------


@functools.cache
def goals() -> dict[str, dict[str, Any]]:
    """The goals of `goals.toml`, by id (C1, W1, ...)."""
    return tomllib.loads(resources.files("faas_bench").joinpath("goals.toml").read_text("utf-8"))


@dataclass(frozen=True)
class Check:
    """One goal against this run: `measured` states each bound with its numbers filled in
    (`p50 223 ms ≤ B 231 ms + 15 ms = 246 ms`); `verdict` is met, missed or n/a."""

    id: str
    what: str
    verdict: str
    measured: str
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


class _Bounds:
    """The bounds of one goal, each written out with the run's numbers: `value ≤ limit` for a
    fixed goal, `value ≤ expression = limit` for one relative to a baseline."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.ok = True

    def at_most(self, what: str, value: str, how: str, limit: str, ok: bool) -> None:
        self._add(what, value, "≤", how, limit, ok)

    def at_least(self, what: str, value: str, how: str, limit: str, ok: bool) -> None:
        self._add(what, value, "≥", how, limit, ok)

    def _add(self, what: str, value: str, op: str, how: str, limit: str, ok: bool) -> None:
        bound = f"{how} = {limit}" if how else limit
        self.texts.append(f"{what} {value} {op} {bound}".lstrip())
        self.ok = self.ok and ok

    def check(self, id_: str, detail: str = "") -> Check:
        verdict = "met" if self.ok else "missed"
        return Check(id_, goals()[id_]["what"], verdict, "; ".join(self.texts), detail)


def _summary(result: BenchResult, name: str) -> Summary | None:
    series = result.series.get(name)
    return series.summary() if series else None


def _na(id_: str, why: str) -> Check:
    return Check(id_, goals()[id_]["what"], "n/a", "—", why)


def evaluate(result: BenchResult) -> list[Check]:
    """Every goal, read straight off the results (n/a when the run did not measure it)."""
    return [check(result) for check in (_c1, _c2, _c4, _w1, _w2, _w4, _w5, _m1)]


def _times(factor: float, name: str, value: float) -> str:
    return f"{factor:g} x {name} {ms(value)}"


def _c1(r: BenchResult) -> Check:
    g = goals()["C1"]
    cold, base = _summary(r, "cold"), _summary(r, "sdk")
    if not cold or not base:
        return _na("C1", "needs the cold mode and its bare-SDK baseline B")
    b = _Bounds()
    limit = base.p50 + g["p50_over_B_ms"]
    how = f"B {ms(base.p50)} + {g['p50_over_B_ms']:g} ms"
    b.at_most("p50", ms(cold.p50), how, ms(limit), cold.p50 <= limit)
    limit = g["p95_times_B"] * base.p95
    how = _times(g["p95_times_B"], "B", base.p95)
    b.at_most("p95", ms(cold.p95), how, ms(limit), cold.p95 <= limit)
    return b.check("C1")


def _ratio_goal(id_: str, mine: Summary, factor: float, name: str, theirs: Summary) -> Check:
    b = _Bounds()
    limit = factor * theirs.p50
    b.at_most("p50", ms(mine.p50), _times(factor, name, theirs.p50), ms(limit), mine.p50 <= limit)
    return b.check(id_, f"{mine.p50 / theirs.p50:.3f}x, n = {mine.n}")


def _c2(r: BenchResult) -> Check:
    cold, base = _summary(r, "cold"), _summary(r, "sdk-bridge")
    if not cold or not base:
        return _na("C2", "needs the cold mode and the bridge baseline")
    return _ratio_goal("C2", cold, goals()["C2"]["p50_times_bridge"], "bridge", base)


def _c4(r: BenchResult) -> Check:
    burst, base = _summary(r, "burst"), _summary(r, "sdk-burst")
    if not burst or not base:
        return _na("C4", "needs the burst mode and its threaded baseline")
    name = f"{r.options.get('burst', 8)} threads"
    return _ratio_goal("C4", burst, goals()["C4"]["p50_times_threads"], name, base)


def _w1(r: BenchResult) -> Check:
    g = goals()["W1"]
    warm, base = _summary(r, "warm"), _summary(r, "direct")
    if not warm or not base:
        return _na("W1", "needs the warm mode and the direct baseline")
    b = _Bounds()
    for pct, added in (("p50", g["p50_added_ms"]), ("p99", g["p99_added_ms"])):
        mine, theirs = getattr(warm, pct), getattr(base, pct)
        how = f"direct {ms(theirs)} + {ms(added)}"
        b.at_most(pct, ms(mine), how, ms(theirs + added), mine - theirs <= added)
    return b.check("W1", f"adds {ms(warm.p50 - base.p50)} at p50, {ms(warm.p99 - base.p99)} at p99")


def _w2(r: BenchResult) -> Check:
    g = goals()["W2"]
    gw, base = r.throughput.get("concurrent"), r.throughput.get("direct-load")
    mine, theirs = (gw.rps() if gw else None), (base.rps() if base else None)
    if not mine or not theirs or gw is None:
        return _na("W2", "needs the concurrent mode and its direct baseline")
    b = _Bounds()
    limit = g["times_direct"] * theirs.p50
    how = f"{g['times_direct']:g} x direct {theirs.p50:,.0f} req/s"
    b.at_least("", f"{mine.p50:,.0f} req/s", how, f"{limit:,.0f} req/s", mine.p50 >= limit)
    floor = g["min_rps"]
    b.at_least("", f"{mine.p50:,.0f} req/s", "", f"{floor:,.0f} req/s", mine.p50 >= floor)
    detail = f"{mine.p50 / theirs.p50:.2f}x; {gw.connections} connections, {gw.tool}"
    return b.check("W2", detail)


def _w4(r: BenchResult) -> Check:
    limit = goals()["W4"]["p50_ms"]
    paused, ref = _summary(r, "paused"), _summary(r, "sdk-unpause")
    if not paused:
        return _na("W4", "needs the paused mode")
    b = _Bounds()
    b.at_most("p50", ms(paused.p50), "", ms(limit), paused.p50 <= limit)
    detail = f"bare SDK unpause + call p50 {ms(ref.p50)}" if ref else ""
    return b.check("W4", detail)


def _w5(r: BenchResult) -> Check:
    """W5 is the generic runtime's first call (code loaded on demand) against B. The own-image
    prewarm (code already in its image) is reported alongside; it gives the verdict only when
    the generic mode was not measured, and the detail says so."""
    factor = goals()["W5"]["p50_times_B"]
    generic, own, base = _summary(r, "generic"), _summary(r, "prewarm"), _summary(r, "sdk")
    if not base or not (generic or own):
        return _na("W5", "needs the generic (or prewarm) mode and the bare-SDK baseline B")
    if generic:
        check = _ratio_goal("W5", generic, factor, "B", base)
        own_text = f"own image, code preloaded: p50 {ms(own.p50)}" if own else ""
        detail = "; ".join(t for t in ("generic runtime", check.detail, own_text) if t)
        return replace(check, detail=detail)
    assert own is not None
    series = r.series.get("generic")
    why = (
        f"generic mode not available ({series.unavailable})"
        if series is not None and series.unavailable is not None
        else "generic mode not measured"
    )
    check = _ratio_goal("W5", own, factor, "B", base)
    return replace(check, detail=f"own image, code preloaded; {why}: verdict from the own image")


def _m1(r: BenchResult) -> Check:
    limit = goals()["M1"]["max_mib"]
    if not r.memory:
        return _na("M1", "needs the warm mode and a readable cgroup")
    usage = summarize([m.usage / MIB for m in r.memory])
    rss = summarize([m.rss / MIB for m in r.memory])
    b = _Bounds()
    value = f"{usage.p50:.1f} MiB"
    b.at_most("p50", value, "", f"{limit:g} MiB", usage.p50 <= limit)
    return b.check("M1", f"rss {rss.p50:.1f} MiB, n = {usage.n}, max {usage.max:.1f} MiB")


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

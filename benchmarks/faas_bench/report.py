"""The benchmark's words: a terminal table, a Markdown report and the JSON file.

Both tables come from the same rows, so the terminal and the report never disagree.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from faas_bench.analysis import (
    Check,
    CostView,
    cost_view,
    evaluate,
    ms,
    primary_ratio,
    throughput_ratio,
)
from faas_bench.environment import header_lines
from faas_bench.results import FAAS, BenchResult, Series

PHASES = ("queue", "create", "start", "ready", "load", "handler", "total")
BASE_PARTS = ("create", "start", "ready", "call", "remove", "unpause", "first")


def _ci(series: Series) -> str:
    s = series.summary()
    return f"[{ms(s.ci_low)}, {ms(s.ci_high)}]" if s else "—"


def _vs(result: BenchResult, series: Series) -> str:
    ratio = primary_ratio(result, series)
    if ratio is None:
        return ""
    c = ratio.comparison
    sign = "+" if c.p50_diff >= 0 else "-"
    return f"{c.p50_ratio:.2f}x {ratio.baseline} ({sign}{ms(abs(c.p50_diff))})"


def latency_rows(result: BenchResult) -> list[list[str]]:
    head = ["series", "start", "n", "dropped", "p50", "p95", "p99", "mean", "CV"]
    rows = [[*head, "95% CI of p50", "vs baseline"]]
    for series in result.series.values():
        s = series.summary()
        name = series.label if series.group == FAAS else f"  {series.label}"
        if series.unavailable is not None:
            rows.append([name, series.expect or "—", "0", "", "not available", *[""] * 6])
            continue
        if s is None:
            why = f"no samples ({series.errors} errors)"
            rows.append(
                [name, series.expect or "—", "0", str(series.dropped_total), why, *[""] * 6]
            )
            continue
        rows.append(
            [
                name,
                series.expect or "—",
                str(s.n),
                _dropped(series),
                ms(s.p50),
                ms(s.p95),
                ms(s.p99),
                ms(s.mean),
                f"{s.cv:.2f}" if math.isfinite(s.cv) else "—",
                _ci(series),
                _vs(result, series),
            ]
        )
    return rows


def _dropped(series: Series) -> str:
    if not series.dropped and not series.errors:
        return "0"
    parts = [f"{n} {kind}" for kind, n in sorted(series.dropped.items())]
    if series.errors:
        parts.append(f"{series.errors} errors")
    return ", ".join(parts)


def throughput_rows(result: BenchResult) -> list[list[str]]:
    head = ["series", "tool", "connections", "req/s (median)", "rounds", "p50", "p99"]
    rows = [[*head, "errors", "vs baseline"]]
    for t in result.throughput.values():
        rps = t.rps()
        name = t.label if t.group == FAAS else f"  {t.label}"
        if t.unavailable is not None or rps is None:
            why = "not available" if t.unavailable is not None else "no data"
            rows.append([name, t.tool, str(t.connections), why, *[""] * 5])
            continue
        ratio = throughput_ratio(result, t)
        p50, p99 = t.latency("p50"), t.latency("p99")
        errors = sum(run.errors + run.non_2xx for run in t.runs)
        rows.append(
            [
                name,
                t.tool,
                str(t.connections),
                f"{rps.p50:,.0f}",
                " ".join(f"{run.rps:,.0f}" for run in t.runs),
                ms(p50) if p50 is not None else "—",
                ms(p99) if p99 is not None else "—",
                str(errors),
                f"{ratio:.2f}x {t.baselines[0]}" if ratio is not None else "",
            ]
        )
    return rows


def phase_rows(result: BenchResult) -> list[list[str]]:
    """p50 of each Server-Timing phase (gateway) or step (baseline), ms."""
    names = dict.fromkeys(PHASES + BASE_PARTS)  # ordered, without repeats
    columns = [p for p in names if any(p in s.parts for s in result.series.values())]
    rows = [["series", *columns, "client - total"]]
    for series in result.series.values():
        if not series.parts:
            continue
        cells = []
        for part in columns:
            summary = series.part_summary(part)
            cells.append(ms(summary.p50) if summary else "")
        client, total = series.summary(), series.part_summary("total")
        extra = ms(client.p50 - total.p50) if client and total and series.group == FAAS else ""
        rows.append([series.label, *cells, extra])
    return rows


def goal_rows(checks: Sequence[Check]) -> list[list[str]]:
    rows = [
        ["goal", "what", "measured against the goal (baselines from this run)", "verdict", "detail"]
    ]
    for c in checks:
        rows.append([c.id, c.what, c.measured, c.verdict, c.detail])
    return rows


def cost_rows(view: CostView) -> list[list[str]]:
    rows = [["calls/s", "calls/month", "pay-per-use $/month", "always-on $/month", "cheaper"]]
    for row in view.rows:
        calls = row.rate * 730 * 3600
        rows.append(
            [
                f"{row.rate:g}",
                f"{calls:,.0f}",
                f"{row.pay_per_use_monthly:,.2f}",
                f"{row.always_on_monthly:,.2f}",
                row.cheaper,
            ]
        )
    return rows


def replay_rows(replay: dict[str, Any]) -> list[list[str]]:
    head = ["setup", "calls", "cold %", "prewarm", "paused", "warm", "idle container-s"]
    rows = [[*head, "paused container-s"]]
    for p in replay["policies"]:
        rows.append(
            [
                p["policy"],
                str(p["invocations"]),
                f"{p['cold_pct']:.2f}",
                str(p["prewarm"]),
                str(p["paused"]),
                str(p["warm"]),
                f"{p['idle_seconds']:,.0f}",
                f"{p['paused_seconds']:,.0f}",
            ]
        )
    return rows


# -- terminal ----------------------------------------------------------------------------------


def align(rows: list[list[str]], indent: str = "") -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=True)]
        lines.append(indent + "  ".join(cells).rstrip())
    return "\n".join(lines)


def terminal(result: BenchResult) -> str:
    env = dict(header_lines(result.environment))
    o = result.options
    out = [
        f"faas bench {result.function}: {o.get('rounds')} rounds, {o.get('calls')} calls per "
        f"round (start paths), {o.get('warm_calls')} (warm), payload {o.get('payload')} B",
        f"{env.get('kernel')} · Docker {result.environment.get('docker', '?')} · runc "
        f"{result.environment.get('runc', '?')} · cgroup {env.get('cgroup')} · {env.get('CPU')} · "
        f"{env.get('memory')}",
        "",
        align(latency_rows(result)),
    ]
    if result.throughput:
        out += ["", align(throughput_rows(result))]
    checks = [c for c in evaluate(result) if c.verdict != "n/a"]
    if checks:
        out += ["", "goals"]
        out += [
            f"  {c.id:3} {c.what}: {c.measured}: {c.verdict}"
            + (f" ({c.detail})" if c.detail else "")
            for c in checks
        ]
    view = cost_view(result)
    if view is not None:
        out += ["", cost_sentence(view)]
    out += [f"note: {line}" for line in notes(result)]
    return "\n".join(out)


def where_lines_cross(view: CostView) -> str:
    if view.break_even is None:
        return "Pay-per-use stays cheaper at every rate one instance can serve"
    return (
        f"The lines cross at {view.break_even:,.1f} calls/s: always-on "
        f"(${view.always_on_monthly:g}/month) is cheaper from there on"
    )


def cost_sentence(view: CostView) -> str:
    where = where_lines_cross(view)
    where = where[0].lower() + where[1:]
    return (
        f"cost: {view.duration_ms:.3f} ms measured, billed {view.billed_ms:g} ms x "
        f"{view.memory_mib:g} MiB = "
        f"{view.gb_seconds_per_call:.3g} GB-s a call, ${view.cost_per_million:.2f} per million "
        f"calls at Lambda x86 prices; {where}"
    )


def notes(result: BenchResult) -> list[str]:
    out = list(result.notes)
    for s in list(result.series.values()) + list(result.throughput.values()):
        if s.unavailable is not None:
            out.append(f"{s.name}: not available: {s.unavailable}")
        elif s.note:
            out.append(f"{s.name}: {s.note}")
        if isinstance(s, Series) and s.error_examples and s.unavailable is None:
            out.append(f"{s.name}: {s.errors} errors, e.g. {s.error_examples[0]}")
        if isinstance(s, Series) and s.dropped:
            dropped = ", ".join(f"{n} {k}" for k, n in s.dropped.items())
            out.append(f"{s.name}: dropped (wrong start kind): {dropped}")
    return out


def write_json(result: BenchResult, path: Path) -> None:
    data = result.to_json()
    view = cost_view(result)
    data["goals"] = [c.__dict__ for c in evaluate(result)]
    data["cost"] = view.to_json() if view else None
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def read_json(path: Path) -> BenchResult:
    return BenchResult.from_json(json.loads(path.read_text(encoding="utf-8")))

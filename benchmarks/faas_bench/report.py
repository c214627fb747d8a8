"""The benchmark's words: a terminal table, a Markdown report and the JSON file.

Both tables come from the same rows, so the terminal and the report never disagree.
"""

from __future__ import annotations

import json
import math
import shlex
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from faas_bench.analysis import (
    Check,
    CostView,
    comparisons,
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
    header = [
        "series",
        "start",
        "n",
        "dropped",
        "p50",
        "p95",
        "p99",
        "mean",
        "CV",
        "95% CI of p50",
        "vs baseline",
    ]
    rows = [header]
    for series in result.series.values():
        s = series.summary()
        name = series.label if series.group == FAAS else f"  {series.label}"
        if series.unavailable is not None:
            rows.append(
                [name, series.expect or "—", "0", "", "not available", "", "", "", "", "", ""]
            )
            continue
        if s is None:
            rows.append(
                [
                    name,
                    series.expect or "—",
                    "0",
                    str(series.dropped_total),
                    f"no samples ({series.errors} errors)",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                ]
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
    rows = [
        [
            "series",
            "tool",
            "connections",
            "req/s (median)",
            "rounds",
            "p50",
            "p99",
            "errors",
            "vs baseline",
        ]
    ]
    for t in result.throughput.values():
        rps = t.rps()
        name = t.label if t.group == FAAS else f"  {t.label}"
        if t.unavailable is not None or rps is None:
            rows.append(
                [
                    name,
                    t.tool,
                    str(t.connections),
                    (t.unavailable and "not available") or "no data",
                    "",
                    "",
                    "",
                    "",
                    "",
                ]
            )
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
    rows = [["goal", "what", "measured against the goal (baselines from this run)", "", "detail"]]
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
    rows = [
        [
            "setup",
            "calls",
            "cold %",
            "prewarm",
            "paused",
            "warm",
            "idle container-s",
            "paused container-s",
        ]
    ]
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


# -- Markdown ----------------------------------------------------------------------------------


def _md_table(rows: list[list[str]]) -> str:
    def cell(text: str) -> str:
        return text.strip().replace("|", "\\|") or " "

    lines = ["| " + " | ".join(cell(c) for c in rows[0]) + " |"]
    lines.append("|" + "|".join("---" for _ in rows[0]) + "|")
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def markdown(result: BenchResult, *, chart: str | None = "chart.png") -> str:
    o = result.options
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(result.started_at or time.time()))
    took = result.finished_at - result.started_at if result.finished_at else 0
    parts = [
        f"# faas bench: `{result.function}`",
        "",
        f"{when}, {took:.0f} s; image `{result.image}`; gateway {result.gateway}.",
        f"{o.get('rounds')} interleaved rounds; per round {o.get('calls')} calls on each start "
        f"path, {o.get('warm_calls')} warm calls, {o.get('duration')} s of load at "
        f"{o.get('concurrency')} connections, a burst of {o.get('burst')}; payload "
        f"{o.get('payload')} B ({o.get('method')}).",
        "",
        "```",
        shlex.join(result.command) if result.command else "faas bench",
        "```",
        "",
        "## Environment",
        "",
        _md_table([["", ""]] + [[k, v] for k, v in header_lines(result.environment)]),
        "",
        "## Goals",
        "",
        _md_table(goal_rows(evaluate(result))),
        "",
    ]
    if chart:
        parts += [f"![latency by start kind against the baselines]({chart})", ""]
    parts += [
        "## Latency",
        "",
        "Client time per call (request written → response read, keep-alive connection), in the "
        "same run; baselines indented. The 95% CI of the median is non-parametric (binomial "
        "order statistics). Gateway samples with the wrong `X-Faas-Start` are dropped and "
        "counted.",
        "",
        _md_table(latency_rows(result)),
        "",
    ]
    if any(s.parts for s in result.series.values()):
        parts += [
            "### Where the time goes (p50)",
            "",
            "Gateway series: its `Server-Timing` phases; baselines: their own steps.",
            "",
            _md_table(phase_rows(result)),
            "",
        ]
    ratios = comparisons(result)
    if ratios:
        rows = [
            [
                "series",
                "baseline",
                "p50 ratio",
                "p95 ratio",
                "p99 ratio",
                "p50 diff",
                "medians differ",
            ]
        ]
        for r in ratios:
            c = r.comparison
            rows.append(
                [
                    r.series,
                    r.baseline,
                    f"{c.p50_ratio:.3f}x",
                    f"{c.p95_ratio:.3f}x",
                    f"{c.p99_ratio:.3f}x",
                    ms(c.p50_diff),
                    "yes" if c.medians_differ else "no (CIs overlap)",
                ]
            )
        parts += ["### Every figure against its baseline", "", _md_table(rows), ""]
    if result.throughput:
        parts += ["## Throughput", "", _md_table(throughput_rows(result)), ""]
        gw = result.throughput.get("concurrent")
        if gw and gw.runs:
            starts = ", ".join(f"{k} {v}" for k, v in gw.runs[-1].starts.items())
            parts += [f"Gateway start kinds during the last measured run: {starts or '—'}.", ""]
    if result.memory:
        rows = [["container", "usage", "working set", "rss", "limit"]]
        for m in result.memory:
            limit = f"{m.limit / 2**20:.0f} MiB" if m.limit else "—"
            rows.append(
                [
                    m.container,
                    f"{m.usage / 2**20:.1f} MiB",
                    f"{m.working_set / 2**20:.1f} MiB",
                    f"{m.rss / 2**20:.1f} MiB",
                    limit,
                ]
            )
        parts += ["## Memory of an idle warm container (cgroup)", "", _md_table(rows), ""]
    view = cost_view(result)
    if view is not None:
        parts += [
            "## Cost: pay-per-use vs always-on",
            "",
            f"Duration {view.duration_ms:.3f} ms ({view.duration_source}), billed "
            f"{view.billed_ms:g} ms (rounded up to 1 ms), memory {view.memory_mib:g} MiB "
            "(the function's limit): "
            f"{view.gb_seconds_per_call:.3g} GB-s and ${view.cost_per_million:.2f} per million "
            "calls at AWS Lambda x86 prices ($0.0000166667 per GB-s, $0.20 per million "
            f"requests). Always-on: ${view.always_on_monthly:g} a month per instance"
            + (
                f", each serving up to {view.capacity:,.0f} calls/s (measured above)"
                if view.capacity
                else ""
            )
            + ".",
            "",
            f"**{where_lines_cross(view)}.**",
            "",
            _md_table(cost_rows(view)),
            "",
        ]
    if result.replay:
        trace = result.replay
        parts += [
            "## Pool policy what-if",
            "",
            f"Trace `{trace['trace']}`: {trace['invocations']} calls of {trace['functions']} "
            f"functions over {trace['horizon']:,.0f} s, driven through faas's own pool policy "
            "(maintenance on a 1 s tick) with each setup, a cold start taking "
            f"{trace['cold_delay'] * 1e3:.0f} ms.",
            "",
            _md_table(replay_rows(trace)),
            "",
        ]
    lines = notes(result)
    if lines:
        parts += ["## Notes", ""] + [f"- {line}" for line in lines] + [""]
    parts += [
        "## Reproduce",
        "",
        "```",
        "faas deploy benchmarks/functions/noop",
        shlex.join(["faas", "bench", result.function, *_repro_args(o)]),
        "```",
        "",
    ]
    return "\n".join(parts)


def _repro_args(o: dict[str, Any]) -> list[str]:
    args = ["--rounds", str(o.get("rounds")), "--calls", str(o.get("calls"))]
    args += ["--warm-calls", str(o.get("warm_calls")), "--concurrency", str(o.get("concurrency"))]
    args += ["--duration", f"{o.get('duration')}", "--burst", str(o.get("burst"))]
    if o.get("payload"):
        args += ["--payload", str(o.get("payload"))]
    return args


def write_json(result: BenchResult, path: Path) -> None:
    data = result.to_json()
    view = cost_view(result)
    data["goals"] = [c.__dict__ for c in evaluate(result)]
    data["cost"] = view.to_json() if view else None
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def read_json(path: Path) -> BenchResult:
    return BenchResult.from_json(json.loads(path.read_text(encoding="utf-8")))

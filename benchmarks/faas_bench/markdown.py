"""The benchmark's Markdown report (`report.md`): every table of `report`, with the goals, the
cost view, the pool what-if, notes and how to reproduce.
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import Any

from faas_bench.analysis import comparisons, cost_view, evaluate, ms
from faas_bench.environment import header_lines
from faas_bench.report import (
    cost_rows,
    goal_rows,
    latency_rows,
    notes,
    phase_rows,
    replay_rows,
    throughput_rows,
    where_lines_cross,
)
from faas_bench.results import BenchResult

CHECKOUT = Path(__file__).resolve().parents[2]  # faas-bench is installed from a checkout


def _md_table(rows: list[list[str]]) -> str:
    def cell(text: str) -> str:
        return text.strip().replace("|", "\\|") or " "

    lines = ["| " + " | ".join(cell(c) for c in rows[0]) + " |"]
    lines.append("|" + "|".join("---" for _ in rows[0]) + "|")
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def markdown(result: BenchResult, *, chart: str | None = "chart.svg") -> str:
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
        f"faas deploy {function_folder(result.function)}",
        shlex.join(["faas", "bench", result.function, *_repro_args(o)]),
        "```",
        "",
    ]
    return "\n".join(parts)


def function_folder(name: str) -> str:
    """Where the benchmarked function's folder is in a checkout: the benchmark's own noop, an
    example function, or (another function) the user's own folder of that name."""
    for folder in (f"benchmarks/functions/{name}", f"functions/{name}"):
        if (CHECKOUT / folder / "faas.yaml").is_file():
            return folder
    return shlex.quote(f"path/to/{name}")


def _repro_args(o: dict[str, Any]) -> list[str]:
    args = ["--rounds", str(o.get("rounds")), "--calls", str(o.get("calls"))]
    args += ["--warm-calls", str(o.get("warm_calls")), "--concurrency", str(o.get("concurrency"))]
    args += ["--duration", f"{o.get('duration')}", "--burst", str(o.get("burst"))]
    if o.get("payload"):
        args += ["--payload", str(o.get("payload"))]
    return args

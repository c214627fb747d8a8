"""The benchmark's picture: latency distributions by start kind against the baselines, with
throughput, the cost lines and the pool what-if below, as a PNG.

matplotlib comes with the optional `bench` extra and is imported only inside `write_png`, so
`faas` works without it (the HTML page in `faas.bench.page` needs nothing). `rows` is the
layout both renderers draw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from faas.bench.analysis import CostView, cost_view, ms
from faas.bench.results import FAAS, BenchResult
from faas.bench.stats import percentile

if TYPE_CHECKING:
    from matplotlib.axes import Axes

GROUPS = (
    ("cold", "cold start"),
    ("prewarm", "pre-started (own image, code preloaded)"),
    ("generic", "generic runtime (code loaded on call)"),
    ("paused", "paused → resumed"),
    ("warm", "warm, 1 connection"),
    ("burst", "burst from zero (until all answered)"),
)
COLORS = {
    "cold": "#d62728",
    "prewarm": "#ff7f0e",
    "generic": "#17becf",
    "paused": "#9467bd",
    "warm": "#2ca02c",
    "burst": "#8c564b",
}
BASELINE_COLOR = "#7f7f7f"
MAX_DOTS = 400
DENSE_RATES = tuple(10 ** (e / 10) for e in range(-30, 41))


class ChartUnavailable(Exception):
    """matplotlib is not installed."""


@dataclass(frozen=True)
class Row:
    group: str
    label: str
    color: str
    ours: bool
    samples: list[float]
    p5: float
    p25: float
    p50: float
    p75: float
    p95: float


def rows(result: BenchResult) -> list[Row]:
    """One row per series with samples, grouped by mode, gateway series first in a group."""
    out: list[Row] = []
    for mode, _ in GROUPS:
        members = [s for s in result.series.values() if s.mode == mode and s.samples]
        members.sort(key=lambda s: s.group != FAAS)
        for s in members:
            out.append(
                Row(
                    group=mode,
                    label=s.label,
                    color=COLORS[mode] if s.group == FAAS else BASELINE_COLOR,
                    ours=s.group == FAAS,
                    samples=s.samples,
                    p5=percentile(s.samples, 5),
                    p25=percentile(s.samples, 25),
                    p50=percentile(s.samples, 50),
                    p75=percentile(s.samples, 75),
                    p95=percentile(s.samples, 95),
                )
            )
    return out


def thin(samples: Sequence[float], limit: int = MAX_DOTS) -> list[float]:
    if len(samples) <= limit:
        return list(samples)
    step = len(samples) / limit
    return [samples[int(i * step)] for i in range(limit)]


def jitter(index: int) -> float:
    """Deterministic spread in [-1, 1] (golden-ratio sequence): same chart for same data."""
    return ((index * 0.6180339887) % 1.0) * 2 - 1


def bounds(values: Sequence[float]) -> tuple[float, float]:
    positive = [v for v in values if v > 0]
    if not positive:
        return 0.01, 1000.0
    low, high = min(positive), max(positive)
    return 10 ** math.floor(math.log10(low)), 10 ** math.ceil(math.log10(high * 1.001))


def group_title(mode: str) -> str:
    return dict(GROUPS)[mode]


# -- PNG -------------------------------------------------------------------------------------


def write_png(result: BenchResult, path: Path) -> None:
    """The figure as a PNG; ChartUnavailable without matplotlib (`pip install faas[bench]`)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ChartUnavailable(
            "the PNG chart needs matplotlib: pip install 'faas[bench]' (the HTML chart does not)"
        ) from None
    data = rows(result)
    view = cost_view(result, rates=DENSE_RATES)
    extras = [
        name
        for name, present in (
            ("throughput", any(t.runs for t in result.throughput.values())),
            ("cost", view is not None),
            ("replay", bool(result.replay)),
        )
        if present
    ]
    height = 1.2 + 0.32 * max(len(data), 1) + (3.2 if extras else 0)
    fig = Figure(figsize=(12, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(
        2 if extras else 1,
        max(len(extras), 1),
        height_ratios=([0.32 * max(len(data), 1) + 1.2, 3.2] if extras else None),
    )
    ax = fig.add_subplot(grid[0, :])
    _png_latency(ax, data, result)
    for column, name in enumerate(extras):
        panel = fig.add_subplot(grid[1, column])
        if name == "throughput":
            _png_throughput(panel, result)
        elif name == "cost" and view is not None:
            _png_cost(panel, view)
        elif name == "replay" and result.replay:
            _png_replay(panel, result)
    fig.savefig(str(path))


def _png_latency(ax: Axes, data: list[Row], result: BenchResult) -> None:
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import FuncFormatter

    low, high = bounds([v for r in data for v in r.samples])
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    labels = []
    for y, row in enumerate(data):
        dots = thin(row.samples)
        ax.scatter(
            dots,
            [y + 0.28 * jitter(i) for i in range(len(dots))],
            s=5,
            color=row.color,
            alpha=0.3,
            linewidths=0,
        )
        ax.plot([row.p5, row.p95], [y, y], color=row.color, linewidth=1)
        box = (row.p25, y - 0.3)  # p25..p75
        width = max(row.p75 - row.p25, 1e-9)
        ax.add_patch(
            Rectangle(box, width, 0.6, facecolor=row.color, alpha=0.35, edgecolor=row.color)
        )
        ax.plot([row.p50, row.p50], [y - 0.36, y + 0.36], color="black", linewidth=1.6)
        ax.annotate(
            ms(row.p50), (row.p95, y), xytext=(4, -3), textcoords="offset points", fontsize=7
        )
        labels.append(("" if row.ours else "   ") + row.label)
    for y in range(1, len(data)):
        if data[y].group != data[y - 1].group:
            ax.axhline(y - 0.5, color="#bbbbbb", linewidth=0.8)
    ax.set_yticks(range(len(data)), labels, fontsize=8)
    for tick, row in zip(ax.get_yticklabels(), data, strict=True):
        tick.set_color("#222222" if row.ours else "#666666")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: tick_label(value)))
    ax.invert_yaxis()
    ax.set_xlabel(
        "client time per call (log scale): dots = calls, box = p25-p75, bar = p50, "
        "whiskers = p5-p95"
    )
    ax.grid(axis="x", which="both", alpha=0.25)
    ax.set_title(
        f"faas bench {result.function}: latency by start kind against the baselines (grey)",
        fontsize=10,
    )


def _png_throughput(ax: Axes, result: BenchResult) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    items = [
        (t.label, rps.p50, t.group == FAAS)
        for t in result.throughput.values()
        if (rps := t.rps()) is not None
    ]
    ys = range(len(items))
    ax.barh(
        list(ys),
        [v for _, v, _ in items],
        color=[COLORS["warm"] if o else BASELINE_COLOR for *_, o in items],
    )
    ax.set_yticks(list(ys), [_wrap(label, 28) for label, _, _ in items], fontsize=7)
    for y, (_, value, _) in zip(ys, items, strict=True):
        ax.annotate(
            f"{value:,.0f}", (value, y), xytext=(3, -3), textcoords="offset points", fontsize=7
        )
    ax.set_xlim(0, max((v for _, v, _ in items), default=1.0) * 1.3)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value / 1000:g}k"))
    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.invert_yaxis()
    ax.set_xlabel("req/s (median of rounds)", fontsize=8)
    ax.set_title("warm throughput", fontsize=9)


def _png_cost(ax: Axes, view: CostView) -> None:
    rates = [row.rate for row in view.rows]
    ax.loglog(
        rates, [row.pay_per_use_monthly for row in view.rows], label="pay-per-use", color="#1f77b4"
    )
    ax.loglog(
        rates,
        [row.always_on_monthly for row in view.rows],
        label="always-on",
        color="#444444",
        drawstyle="steps-post",
    )
    if view.break_even is not None:
        ax.axvline(view.break_even, color="#d62728", linestyle=":", linewidth=1)
        ax.annotate(
            f"cross at {view.break_even:,.1f}/s",
            (view.break_even, view.always_on_monthly),
            xytext=(4, 6),
            textcoords="offset points",
            fontsize=7,
        )
    ax.set_xlabel("calls per second, sustained", fontsize=8)
    ax.set_ylabel("$ per month", fontsize=8)
    ax.legend(fontsize=7)
    ax.set_title(
        f"monthly cost ({view.billed_ms:g} ms billed x {view.memory_mib:g} MiB a call)", fontsize=9
    )


def _png_replay(ax: Axes, result: BenchResult) -> None:
    assert result.replay
    markers = "osD^v<>p"
    for i, p in enumerate(result.replay["policies"]):
        ax.scatter(
            [p["wasted_seconds"]], [p["cold_pct"]], marker=markers[i % len(markers)], s=28,
            label=p["policy"],
        )  # fmt: skip
    ax.legend(fontsize=6, loc="upper right")
    ax.set_xlabel("idle + paused container-seconds", fontsize=8)
    ax.set_ylabel("cold starts, %", fontsize=8)
    name = Path(str(result.replay.get("trace", ""))).name
    ax.set_title(f"pool policy what-if ({name})" if name else "pool policy what-if", fontsize=9)


def _wrap(text: str, width: int) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])


def tick_label(value: float) -> str:
    if value < 1:
        return f"{value * 1000:g} µs"
    if value < 1000:
        return f"{value:g} ms"
    return f"{value / 1000:g} s"

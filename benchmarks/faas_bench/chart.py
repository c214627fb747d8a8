"""The benchmark's figures as SVG drawn here (no plotting library), and the self-contained HTML
page that holds them with the report's tables: no JavaScript, no external CSS or fonts, so it
opens anywhere offline and can be attached to an issue as one file. `chart.svg` (the latency
figure alone) is what the Markdown report shows.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from faas_bench.analysis import CostView, cost_view, evaluate, ms
from faas_bench.environment import header_lines
from faas_bench.report import goal_rows, latency_rows, phase_rows, replay_rows, throughput_rows
from faas_bench.results import FAAS, BenchResult
from faas_bench.stats import percentile

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
DENSE_RATES = tuple(10 ** (e / 10) for e in range(-30, 41))


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


def thin(samples: Sequence[float], limit: int) -> list[float]:
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


def tick_label(value: float) -> str:
    if value < 1:
        return f"{value * 1000:g} µs"
    if value < 1000:
        return f"{value:g} ms"
    return f"{value / 1000:g} s"


Attr = str | float | int


def el(tag: str, text: str | None = None, **attrs: Attr) -> str:
    """One SVG/HTML element; attribute names use _ for - (stroke_width → stroke-width)."""
    parts = [tag]
    for key, value in attrs.items():
        if isinstance(value, float):
            value = f"{value:.1f}"
        parts.append(f'{key.rstrip("_").replace("_", "-")}="{html.escape(str(value))}"')
    head = " ".join(parts)
    if text is None:
        return f"<{head}/>"
    return f"<{head}>{html.escape(text)}</{tag}>"


def svg(width: float, height: float, body: list[str], label: str = "") -> str:
    head = el(
        "svg",
        None,
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {width:.0f} {height:.0f}",
        width=f"{width:.0f}",
        height=f"{height:.0f}",
        font_family="sans-serif",
        font_size=11,
        role="img",
        aria_label=label,
    )[:-2]
    return "\n".join([head + ">", *body, "</svg>"])


def log_x(value: float, low: float, high: float, x0: float, x1: float) -> float:
    span = math.log10(high) - math.log10(low)
    return x0 + (math.log10(max(value, low)) - math.log10(low)) / span * (x1 - x0)


def latency_svg(result: BenchResult, width: int = 1000) -> str:
    data = rows(result)
    if not data:
        return svg(width, 40, [el("text", "no latency samples", x=10, y=24)], "no latency samples")
    low, high = bounds([v for r in data for v in r.samples])
    left, right, top, row_h, gap = 330.0, width - 70.0, 24.0, 24.0, 30.0
    ys: list[float] = []
    y, previous = top, ""
    for row in data:
        if row.group != previous:
            y += gap
            previous = row.group
        ys.append(y)
        y += row_h
    bottom, height = y, y + 45

    def x(value: float) -> float:
        return log_x(value, low, high, left, right)

    body: list[str] = []
    decade = low
    while decade <= high * 1.0001:
        for step in (1, 2, 5):
            tick = decade * step
            if tick > high * 1.0001:
                break
            major = step == 1
            body.append(
                el("line", x1=x(tick), y1=top, x2=x(tick), y2=bottom + 4, stroke="#ddd",
                   stroke_width=1 if major else 0.5)
            )  # fmt: skip
            if major or high / low <= 1000:
                body.append(
                    el("text", tick_label(tick), x=x(tick), y=bottom + 18, text_anchor="middle",
                       fill="#555")
                )  # fmt: skip
        decade *= 10
    previous = ""
    for row, cy in zip(data, ys, strict=True):
        if row.group != previous:
            title = group_title(row.group)
            body.append(el("text", title, x=6, y=cy - 16, font_weight="bold"))
            previous = row.group
        body.append(
            el("text", row.label, x=left - 8, y=cy + 4, text_anchor="end",
               fill="#222" if row.ours else "#666", font_weight=600 if row.ours else 400)
        )  # fmt: skip
        for i, value in enumerate(thin(row.samples, 250)):
            body.append(
                el("circle", cx=x(value), cy=cy + 7 * jitter(i), r=1.6, fill=row.color,
                   fill_opacity=0.3)
            )  # fmt: skip
        body += [
            el("line", x1=x(row.p5), y1=cy, x2=x(row.p95), y2=cy, stroke=row.color),
            el("rect", x=x(row.p25), y=cy - 7, width=max(x(row.p75) - x(row.p25), 1.0),
               height=14, fill=row.color, fill_opacity=0.3, stroke=row.color),
            el("line", x1=x(row.p50), y1=cy - 9, x2=x(row.p50), y2=cy + 9, stroke="#000",
               stroke_width=2),
            el("text", ms(row.p50), x=x(row.p95) + 5, y=cy + 4, fill="#222"),
        ]  # fmt: skip
    caption = (
        "client time per call (log scale): dots = calls, box = p25-p75, black bar = p50, "
        "whiskers = p5-p95; grey = baselines"
    )
    body.append(
        el("text", caption, x=(left + right) / 2, y=height - 8, text_anchor="middle", fill="#555")
    )
    return svg(width, height, body, "latency by start kind against the baselines")


def bars_svg(items: Sequence[tuple[str, float, str]], unit: str, width: int = 720) -> str:
    if not items:
        return ""
    left, right, row_h = 330.0, width - 100.0, 26.0
    top = max(v for _, v, _ in items) or 1.0
    body: list[str] = []
    for i, (label, value, color) in enumerate(items):
        y = 10 + i * row_h
        w = (right - left) * value / top
        body += [
            el("text", label, x=left - 8, y=y + 14, text_anchor="end"),
            el("rect", x=left, y=y + 3, width=w, height=16, fill=color, fill_opacity=0.75),
            el("text", f"{value:,.0f} {unit}", x=left + w + 5, y=y + 15),
        ]
    return svg(width, 20 + row_h * len(items), body, "throughput")


def cost_svg(view: CostView, width: int = 720, height: int = 300) -> str:
    left, right, top, bottom = 70.0, width - 20.0, 20.0, height - 45.0
    xlo, xhi = bounds([row.rate for row in view.rows])
    ylo, yhi = bounds(
        [v for r in view.rows for v in (r.pay_per_use_monthly, r.always_on_monthly) if v > 0]
    )

    def px(rate: float) -> float:
        return log_x(rate, xlo, xhi, left, right)

    def py(value: float) -> float:
        return bottom - log_x(value, ylo, yhi, 0.0, bottom - top)

    body: list[str] = []
    decade = ylo
    while decade <= yhi * 1.0001:
        body.append(el("line", x1=left, y1=py(decade), x2=right, y2=py(decade), stroke="#ddd"))
        body.append(el("text", f"${decade:g}", x=left - 6, y=py(decade) + 4, text_anchor="end"))
        decade *= 10
    decade = xlo
    while decade <= xhi * 1.0001:
        body.append(el("line", x1=px(decade), y1=top, x2=px(decade), y2=bottom, stroke="#eee"))
        body.append(el("text", f"{decade:g}", x=px(decade), y=bottom + 16, text_anchor="middle"))
        decade *= 10
    ppu = [f"{px(r.rate):.1f},{py(max(r.pay_per_use_monthly, ylo)):.1f}" for r in view.rows]
    steps: list[str] = []
    for i, r in enumerate(view.rows):
        if i:
            steps.append(f"{px(r.rate):.1f},{py(view.rows[i - 1].always_on_monthly):.1f}")
        steps.append(f"{px(r.rate):.1f},{py(r.always_on_monthly):.1f}")
    body += [
        el("polyline", points=" ".join(ppu), fill="none", stroke="#1f77b4", stroke_width=2),
        el("polyline", points=" ".join(steps), fill="none", stroke="#444", stroke_width=2),
        el("text", "pay-per-use", x=right - 4, y=bottom - 8, text_anchor="end", fill="#1f77b4"),
        el("text", "always-on", x=left + 6, y=py(view.always_on_monthly) - 6, fill="#444"),
    ]
    if view.break_even is not None:
        x = px(view.break_even)
        body += [
            el("line", x1=x, y1=top, x2=x, y2=bottom, stroke="#d62728", stroke_dasharray="3,3"),
            el("text", f"lines cross at {view.break_even:,.1f} calls/s", x=x + 4, y=top + 12,
               fill="#d62728"),
        ]  # fmt: skip
    caption = (
        f"calls per second, sustained all month ({view.billed_ms:g} ms billed x "
        f"{view.memory_mib:g} MiB a call); $ per month"
    )
    body.append(el("text", caption, x=(left + right) / 2, y=height - 6, text_anchor="middle"))
    return svg(width, height, body, "monthly cost")


def table(rows_: list[list[str]], classes: dict[str, str] | None = None) -> str:
    """An HTML table; a cell whose text is a key of `classes` gets that class."""
    classes = classes or {}
    head = "".join(el("th", c) for c in rows_[0])
    body = []
    for row in rows_[1:]:
        cells = []
        for c in row:
            text = c.strip()
            cells.append(
                el("td", text, class_=classes[text]) if text in classes else el("td", text)
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


STYLE = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1040px;color:#222;padding:0 12px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}svg{max-width:100%;height:auto}
table{border-collapse:collapse;font-size:12px;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f4f4f4}.met{color:#1a7f37;font-weight:bold}.missed{color:#cf222e;font-weight:bold}
code{background:#f4f4f4;padding:1px 4px}
"""


def write_html(result: BenchResult, path: Path) -> None:
    e = html.escape
    verdicts = {"met": "met", "missed": "missed"}
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>faas bench {e(result.function)}</title><style>{STYLE}</style></head><body>",
        f"<h1>faas bench <code>{e(result.function)}</code></h1>",
        f"<p>Image <code>{e(result.image)}</code>, {e(str(result.options.get('rounds')))} "
        "interleaved rounds, baselines measured in the same run.</p>",
        table([["", ""]] + [[k, v] for k, v in header_lines(result.environment)]),
        "<h2>Latency by start kind against the baselines</h2>",
        latency_svg(result),
        "<h2>Goals</h2>",
        table(goal_rows(evaluate(result)), verdicts),
        "<h2>Latency</h2>",
        table(latency_rows(result)),
    ]
    phases = phase_rows(result)
    if len(phases) > 1:
        parts += ["<h2>Where the time goes (p50)</h2>", table(phases)]
    if result.throughput:
        items = [
            (t.label, s.p50, COLORS["warm"] if t.group == FAAS else BASELINE_COLOR)
            for t in result.throughput.values()
            if (s := t.rps()) is not None
        ]
        parts += ["<h2>Throughput</h2>", bars_svg(items, "req/s"), table(throughput_rows(result))]
    view = cost_view(result, rates=DENSE_RATES)
    if view is not None:
        parts += ["<h2>Cost: pay-per-use vs always-on</h2>", cost_svg(view)]
    if result.replay:
        parts += ["<h2>Pool policy what-if</h2>", table(replay_rows(result.replay))]
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")


def write_svg(result: BenchResult, path: Path) -> None:
    """The latency figure alone, for the Markdown report (and a README)."""
    path.write_text(latency_svg(result) + "\n", encoding="utf-8")

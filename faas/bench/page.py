"""The benchmark as one self-contained HTML page: inline SVG charts drawn here, the report's
tables, no JavaScript, no external CSS or fonts. It opens anywhere, offline, and can be
attached to an issue as a single file.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path

from faas.bench.analysis import CostView, cost_view, evaluate, ms
from faas.bench.chart import (
    BASELINE_COLOR,
    COLORS,
    DENSE_RATES,
    bounds,
    group_title,
    jitter,
    rows,
    thin,
    tick_label,
)
from faas.bench.environment import header_lines
from faas.bench.report import (
    latency_rows,
    phase_rows,
    replay_rows,
    target_rows,
    throughput_rows,
)
from faas.bench.results import FAAS, BenchResult

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
        return "<p>No latency samples.</p>"
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
th{background:#f4f4f4}.pass{color:#1a7f37;font-weight:bold}.fail{color:#cf222e;font-weight:bold}
code{background:#f4f4f4;padding:1px 4px}
"""


def write_html(result: BenchResult, path: Path) -> None:
    e = html.escape
    verdicts = {"PASS": "pass", "FAIL": "fail"}
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>faas bench {e(result.function)}</title><style>{STYLE}</style></head><body>",
        f"<h1>faas bench <code>{e(result.function)}</code></h1>",
        f"<p>Image <code>{e(result.image)}</code>, {e(str(result.options.get('rounds')))} "
        "interleaved rounds, baselines measured in the same run.</p>",
        table([["", ""]] + [[k, v] for k, v in header_lines(result.environment)]),
        "<h2>Latency by start kind against the baselines</h2>",
        latency_svg(result),
        "<h2>Targets</h2>",
        table(target_rows(evaluate(result)), verdicts),
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

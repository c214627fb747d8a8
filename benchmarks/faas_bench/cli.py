"""`faas bench`: the benchmark's command line (parse, call, print).

faas bench NAME [options]          cold vs warm benchmark with baselines (= `bench run`)
faas bench render RESULTS.json     the report, chart and page again from saved results
faas bench replay TRACE.csv        what-if: a call trace through faas's pool policy
faas bench trace KIND -o FILE      write a synthetic trace (steady, bursty, periodic, diurnal)
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from faas.errors import BadRequest
from faas.settings import Settings
from faas.units import parse_duration, parse_size
from faas_bench import replay as what_if
from faas_bench import traces
from faas_bench.results import MODES, BenchResult

FC = TypeVar("FC", bound=Callable[..., Any])


class _BenchGroup(click.Group):
    """`faas bench NAME ...` runs the benchmark; a known word selects a subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _settings() -> Settings:
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    settings = getattr(obj, "settings", None)
    return settings if isinstance(settings, Settings) else Settings.from_env()


@click.group(cls=_BenchGroup, invoke_without_command=False)
def bench() -> None:
    """Cold vs warm benchmark with same-run baselines, report and chart.

    \b
    faas bench NAME [options]        benchmark a deployed function (same as `bench run NAME`)
    faas bench render RESULTS.json   rebuild report.md, chart.svg and chart.html from results
    faas bench replay TRACE.csv      replay a trace through faas's pool policy, several settings
    faas bench trace KIND -o FILE    generate a synthetic trace
    """


# -- run ---------------------------------------------------------------------------------------


def _payload(value: str) -> bytes:
    if not value:
        return b""
    if value.startswith("@"):
        try:
            return Path(value[1:]).read_bytes()
        except OSError as exc:
            raise BadRequest(f"--payload {value}: cannot read the file: {exc.strerror}") from None
    text = value[:-1] if value.endswith("iB") else value
    try:
        return b"x" * parse_size(text)
    except ValueError as exc:
        raise BadRequest(f"--payload {value!r}: {exc} (or @FILE)") from None


def _count(flag: str, default: int, text: str, *more: str) -> Callable[[FC], FC]:
    """A positive count option, its default shown."""
    return click.option(
        flag, *more, default=default, show_default=True, type=click.IntRange(1), help=text
    )


@bench.command("run")
@click.argument("name")
@click.option(
    "-m",
    "--mode",
    "modes",
    multiple=True,
    type=click.Choice(MODES),
    help="Mode to run (repeatable) [default: all].",
)
@_count("--rounds", 3, "Interleaved rounds.")
@_count("--calls", 10, "Calls per round on each start path and its baselines.")
@_count("--warm-calls", 500, "Sequential warm calls per round (gateway and direct).")
@_count("-c", 32, "Connections for the concurrent mode.", "--concurrency")
@click.option(
    "--duration",
    default="5s",
    show_default=True,
    help="Load time per round (concurrent).",
)
@_count("--burst", 8, "Containers to start at once in the burst mode.")
@click.option(
    "--payload", default="", help="Request body: a size (1KiB) or @FILE [default: empty]."
)
@click.option("-X", "--method", default="POST", show_default=True)
@click.option("--path", default="", help="Path after /function/NAME.")
@click.option("--baselines/--no-baselines", default=True, help="Measure the same-run baselines.")
@click.option("--docker-run/--no-docker-run", default=True, help="The `docker run` baseline.")
@click.option(
    "--load-client",
    type=click.Choice(["auto", "wrk", "python"]),
    default="auto",
    show_default=True,
    help="Load generator for the concurrent mode.",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output directory [default: bench-results/NAME-TIME].",
)
@click.option(
    "--trace",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Also replay this trace CSV through the pool policy (see `faas bench replay`).",
)
@click.option(
    "--always-on",
    default=15.0,
    show_default=True,
    help="Always-on instance price, $ per month, for the cost view.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def run(
    name: str,
    modes: tuple[str, ...],
    rounds: int,
    calls: int,
    warm_calls: int,
    concurrency: int,
    duration: str,
    burst: int,
    payload: str,
    method: str,
    path: str,
    baselines: bool,
    docker_run: bool,
    load_client: str,
    out: Path | None,
    trace: Path | None,
    always_on: float,
    quiet: bool,
) -> None:
    """Benchmark function NAME: every start kind against same-run baselines."""
    from faas_bench.runner import Options, Runner

    settings = _settings()
    try:
        options = Options(
            modes=tuple(m for m in MODES if m in modes) if modes else MODES,
            baselines=baselines,
            rounds=rounds,
            calls=calls,
            warm_calls=warm_calls,
            concurrency=concurrency,
            duration=parse_duration(duration),
            burst=burst,
            payload=_payload(payload),
            method=method.upper(),
            path="/" + path.lstrip("/") if path else "",
            docker_run=docker_run,
            load_client=load_client,
        )
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    out = out or Path("bench-results") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        if quiet:
            click.echo(line, err=True)

    runner = Runner(settings.gateway_url, name, options, log=log)
    total = runner.total_steps()
    if quiet:
        result = runner.run()
    else:
        with click.progressbar(
            length=total, label="faas bench", file=sys.stderr, show_pos=True, width=30
        ) as bar:

            def progress(steps: int, label: str) -> None:
                bar.label = label.ljust(28)
                bar.update(steps)

            runner.progress = progress
            result = runner.run()
        for line in lines:
            click.echo(line, err=True)
    result.options["always_on_monthly"] = always_on
    if trace is not None:
        cold = result.series.get("cold")
        summary = cold.summary() if cold else None
        result.replay = what_if.replay_table(
            traces.read_trace(trace),
            what_if.default_setups(),
            cold_delay=summary.p50 / 1e3 if summary else 0.0,
            source=str(trace),
        )
    written = write_outputs(result, out)
    from faas_bench.report import terminal

    click.echo(terminal(result))
    click.echo("")
    for file in written:
        click.echo(f"wrote {file}")


def write_outputs(result: BenchResult, out: Path) -> list[Path]:
    """results.json, report.md, chart.svg and chart.html in `out`."""
    from faas_bench import chart, markdown, report

    out.mkdir(parents=True, exist_ok=True)
    json_file, text, svg, page = (
        out / name for name in ("results.json", "report.md", "chart.svg", "chart.html")
    )
    report.write_json(result, json_file)
    chart.write_svg(result, svg)
    text.write_text(markdown.markdown(result, chart=svg.name), encoding="utf-8")
    chart.write_html(result, page)
    return [json_file, text, svg, page]


# -- render ------------------------------------------------------------------------------------


@bench.command()
@click.argument("results", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output directory [default: the results file's].",
)
def render(results: Path, out: Path | None) -> None:
    """Rebuild the report, chart and page from a results.json."""
    from faas_bench.report import read_json, terminal

    try:
        result = read_json(results)
    except (ValueError, KeyError) as exc:
        raise BadRequest(f"{results}: not a faas bench results file ({exc})") from None
    written = write_outputs(result, out or results.parent)
    click.echo(terminal(result))
    for file in written:
        click.echo(f"wrote {file}")


# -- replay ------------------------------------------------------------------------------------


@bench.command()
@click.argument("trace", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--keep-alive", default="10m", show_default=True, help="keep_alive of the pooled setups."
)
@click.option(
    "--min",
    "scale_min",
    default=1,
    show_default=True,
    type=click.IntRange(0),
    help="scale.min of the last setup.",
)
@click.option(
    "--pause-after",
    default="30s",
    show_default=True,
    help="FAAS_PAUSE_AFTER of the setups that pause.",
)
@click.option(
    "--cold-delay",
    default="0s",
    show_default=True,
    help="How long a cold start occupies its container (e.g. 300ms).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def replay(
    trace: Path, keep_alive: str, scale_min: int, pause_after: str, cold_delay: str, as_json: bool
) -> None:
    """Replay a trace (CSV: timestamp,function,duration) through faas's pool policy with a few
    settings: cold-start percentage vs idle and paused container-seconds."""
    try:
        calls = traces.read_trace(trace)
        setups = what_if.default_setups(
            parse_duration(keep_alive), scale_min, parse_duration(pause_after)
        )
        table = what_if.replay_table(
            calls, setups, cold_delay=parse_duration(cold_delay), source=str(trace)
        )
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    if as_json:
        click.echo(json.dumps(table, indent=1))
        return
    from faas_bench.report import align, replay_rows

    click.echo(
        f"{table['invocations']} calls of {table['functions']} functions over "
        f"{table['horizon']:,.0f} s"
    )
    click.echo(align(replay_rows(table)))


# -- trace -------------------------------------------------------------------------------------


@bench.command("trace")
@click.argument("kind", type=click.Choice(["steady", "bursty", "periodic", "diurnal"]))
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="CSV file to write.",
)
@click.option("--seconds", default="1h", show_default=True, help="Length of the trace.")
@click.option(
    "--rate",
    default=1.0,
    show_default=True,
    help="Calls per second (peak rate for diurnal, rate within bursts for bursty).",
)
@click.option(
    "--duration",
    "call_duration",
    default="100ms",
    show_default=True,
    help="Execution time of each call.",
)
@click.option("--function", default="f", show_default=True, help="Function name in the trace.")
@click.option("--seed", default=0, show_default=True, help="Random seed (same seed, same trace).")
@click.option("--on", default="10s", show_default=True, help="bursty: burst length.")
@click.option("--off", default="50s", show_default=True, help="bursty: silence between bursts.")
@click.option(
    "--period",
    default=None,
    help="periodic: time between calls [60s]; diurnal: cycle length [24h].",
)
@click.option(
    "--jitter", default="0s", show_default=True, help="periodic: random delay up to this."
)
@click.option("--trough", default=0.0, show_default=True, help="diurnal: lowest rate.")
def trace_(
    kind: str,
    out: Path,
    seconds: str,
    rate: float,
    call_duration: str,
    function: str,
    seed: int,
    on: str,
    off: str,
    period: str | None,
    jitter: str,
    trough: float,
) -> None:
    """Write a synthetic invocation trace: steady, bursty, periodic or diurnal."""
    try:
        length, each = parse_duration(seconds), parse_duration(call_duration)
        common: dict[str, Any] = {"function": function, "duration": each, "seed": seed}
        if kind == "steady":
            calls = traces.steady(rate, length, **common)
        elif kind == "bursty":
            calls = traces.bursty(
                rate, length, on=parse_duration(on), off=parse_duration(off), **common
            )
        elif kind == "periodic":
            calls = traces.periodic(
                parse_duration(period or "60s"), parse_duration(jitter), length, **common
            )
        else:
            calls = traces.diurnal(
                rate, length, parse_duration(period or "24h"), trough_rate=trough, **common
            )
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    traces.write_trace(out, calls)
    click.echo(f"wrote {len(calls)} calls over {length:g} s to {out}")

"""faas bench's report pipeline without Docker: results JSON, targets, cost view, report,
chart and page, the environment header, wrk parsing and the CLI's offline commands."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from faas.cli.main import cli
from faas_bench import analysis, chart, cost, environment, loadgen, markdown, replay, report
from faas_bench.results import (
    BASELINE,
    FAAS,
    BenchResult,
    LoadRun,
    MemorySample,
    Series,
    Throughput,
)
from faas_bench.stats import summarize

MIB = 2**20


def series(name: str, samples: list[float], **kw: object) -> Series:
    group = str(kw.pop("group", FAAS))
    mode = str(kw.pop("mode", name))
    s = Series(name, f"label of {name}", group, mode, **kw)  # type: ignore[arg-type]
    s.new_round()
    for value in samples:
        s.add(value)
    return s


def load(rps: float, seconds: float = 2.0) -> LoadRun:
    return LoadRun(
        requests=round(rps * seconds), seconds=seconds, latency_ms={"p50": 1.0, "p99": 3.0}
    )


def make_result(**overrides: object) -> BenchResult:
    """A run whose figures are chosen so every target's verdict is known in advance."""
    cold = series("cold", [300.0, 310.0, 320.0], expect="cold", baselines=["sdk", "sdk-bridge"])
    cold.parts = {"create": [10.0, 11.0, 12.0], "total": [299.0, 309.0, 319.0]}
    cold.dropped = {"warm": 1}
    sdk = series("sdk", [295.0, 300.0, 305.0], group=BASELINE, mode="cold")
    bridge = series("sdk-bridge", [400.0, 400.0, 400.0], group=BASELINE, mode="cold")
    warm = series("warm", [0.30, 0.35, 0.40, 0.35], expect="warm", baselines=["direct"])
    warm.parts = {"handler": [0.004, 0.004, 0.004, 0.004], "total": [0.1, 0.1, 0.1, 0.1]}
    direct = series("direct", [0.10, 0.15, 0.20, 0.15], group=BASELINE, mode="warm")
    prewarm = series("prewarm", [20.0, 30.0, 40.0], expect="prewarm", baselines=["sdk"])
    paused = series("paused", [15.0, 18.0, 21.0], expect="paused", baselines=["sdk-unpause"])
    unpause = series("sdk-unpause", [14.0, 15.0, 16.0], group=BASELINE, mode="paused")
    burst = series("burst", [1200.0, 1300.0, 1400.0], expect="cold", baselines=["sdk-burst"])
    sdk_burst = series("sdk-burst", [1000.0, 1100.0, 1200.0], group=BASELINE, mode="burst")
    gw = Throughput("concurrent", "gateway, 32", FAAS, "wrk", 32, ["direct-load"])
    gw.runs = [load(9000), load(10000), load(11000)]
    dl = Throughput("direct-load", "direct, 32", BASELINE, "wrk", 32)
    dl.runs = [load(20000), load(20000), load(20000)]
    result = BenchResult(
        function="noop",
        image="faas/noop:abc",
        gateway="http://127.0.0.1:1",
        config={"memory": "128Mi"},
        command=["faas", "bench", "noop"],
        started_at=1000.0,
        finished_at=1060.0,
        environment={"kernel": "6.1", "docker": "20.10", "cgroup_version": "1"},
        options={"rounds": 3, "calls": 1, "burst": 8, "payload": 0, "method": "POST"},
        series={
            s.name: s
            for s in (cold, sdk, bridge, prewarm, paused, unpause, warm, direct, burst, sdk_burst)
        },
        throughput={"concurrent": gw, "direct-load": dl},
        memory=[MemorySample("abc", 9 * MIB, 8 * MIB, 7 * MIB, 128 * MIB)] * 3,
    )
    for key, value in overrides.items():
        setattr(result, key, value)
    return result


def verdicts(result: BenchResult) -> dict[str, str]:
    return {check.id: check.verdict for check in analysis.evaluate(result)}


# -- results JSON ------------------------------------------------------------------------------


def test_results_round_trip_through_json_keeps_samples_and_parts() -> None:
    result = make_result()
    data = json.loads(json.dumps(result.to_json()))
    again = BenchResult.from_json(data)
    assert again.series["cold"].samples == [300.0, 310.0, 320.0]
    assert again.series["cold"].parts["create"] == [10.0, 11.0, 12.0]
    assert again.series["cold"].dropped == {"warm": 1}
    assert again.throughput["concurrent"].runs[1].rps == pytest.approx(10000)
    assert again.memory[0].usage == 9 * MIB
    assert data["series"]["cold"]["summary"]["p50"] == 310.0
    assert again.to_json() == result.to_json()


def test_results_json_has_no_infinities() -> None:
    s = series("warm", [0.0, 0.0], expect="warm")  # mean 0: CV is inf in memory
    data = json.dumps(s.to_json(), allow_nan=False)  # raises on inf/nan
    assert json.loads(data)["summary"]["cv"] == 0.0


def test_wrong_schema_is_refused_with_a_message() -> None:
    with pytest.raises(ValueError, match="schema"):
        BenchResult.from_json({"schema": 99})


def test_series_counts_samples_per_round_and_drops() -> None:
    s = Series("cold", "cold", FAAS, "cold", expect="cold")
    s.new_round()
    s.add(1.0, {"create": 0.5})
    s.drop("warm")
    s.new_round()
    s.add(2.0)
    s.add(3.0)
    s.error("HTTP 429")
    s.error("HTTP 429")
    assert s.per_round == [1, 2]
    assert s.dropped_total == 1
    assert s.errors == 2 and s.error_examples == ["HTTP 429"]
    assert s.parts == {"create": [0.5]}


def test_memory_limit_comes_from_the_manifest() -> None:
    assert make_result(config={"memory": "64Mi"}).memory_mib == 64
    assert make_result(config={"memory": "1Gi"}).memory_mib == 1024


# -- goals -------------------------------------------------------------------------------------


def test_every_goal_is_read_off_the_results() -> None:
    got = verdicts(make_result())
    # C1: p50 310 vs 300 (+10 ms <= 15), p95 319 vs 304.5 (1.05x <= 1.10): met.
    # C2: 310 / 400 = 0.775 <= 0.87: met. C4: 1300 / 1100 = 1.18 > 1.10: missed.
    # W1: +200 µs at p50 (0.35 - 0.15), p99 +0.2 ms: met. W2: 10000 / 20000 = 0.5, >= 8000: met.
    # W4: 18 ms <= 20: met. W5: 30 / 300 = 0.1 <= 0.15: met. M1: 9 MiB <= 12: met.
    assert got == {
        "C1": "met",
        "C2": "met",
        "C4": "missed",
        "W1": "met",
        "W2": "met",
        "W4": "met",
        "W5": "met",
        "M1": "met",
    }


def test_c1_boundaries_p50_plus_15_ms_and_p95_ratio() -> None:
    result = make_result()
    result.series["cold"] = series("cold", [315.0, 315.0, 315.0], expect="cold")
    result.series["sdk"] = series("sdk", [300.0, 300.0, 300.0], group=BASELINE, mode="cold")
    assert verdicts(result)["C1"] == "met"  # exactly B + 15 ms, p95 1.05x
    result.series["cold"] = series("cold", [315.1, 315.1, 315.1], expect="cold")
    check = {c.id: c for c in analysis.evaluate(result)}["C1"]
    assert check.verdict == "missed"
    assert check.what == "cold start"
    assert check.measured == (
        "p50 315 ms ≤ B 300 ms + 15 ms = 315 ms; p95 315 ms ≤ 1.1 x B 300 ms = 330 ms"
    )


def test_goals_come_from_the_data_file(monkeypatch: pytest.MonkeyPatch) -> None:
    data = {k: dict(v) for k, v in analysis.goals().items()}
    data["W4"]["p50_ms"] = 10.0
    monkeypatch.setattr(analysis, "goals", lambda: data)
    check = {c.id: c for c in analysis.evaluate(make_result())}["W4"]
    assert (check.verdict, check.measured) == ("missed", "p50 18.0 ms ≤ 10.0 ms")


def with_generic(result: BenchResult, samples: list[float]) -> BenchResult:
    generic = series("generic", samples, expect="prewarm", baselines=["sdk"])
    generic.parts = {"load": [3.0] * len(samples), "total": [s - 0.5 for s in samples]}
    result.series["generic"] = generic
    return result


def test_w5_is_the_generic_runtime_against_b_with_the_own_image_alongside() -> None:
    # B p50 300 ms; generic p50 40 ms: 0.133x <= 0.15 pass, though the own-image prewarm
    # (30 ms, 0.1x) is quicker; generic p50 50 ms: 0.167x fails, prewarm or not.
    result = with_generic(make_result(), [35.0, 40.0, 45.0])
    check = {c.id: c for c in analysis.evaluate(result)}["W5"]
    assert check.verdict == "met"
    assert check.measured == "p50 40.0 ms ≤ 0.15 x B 300 ms = 45.0 ms"
    assert check.detail.startswith("generic runtime; 0.133x, n = 3")
    assert "own image, code preloaded: p50 30.0 ms" in check.detail
    assert "code loaded on the call" in check.what
    result = with_generic(make_result(), [45.0, 50.0, 55.0])
    assert verdicts(result)["W5"] == "missed"


def test_w5_falls_back_to_the_own_image_prewarm_and_says_why() -> None:
    check = {c.id: c for c in analysis.evaluate(make_result())}["W5"]
    assert check.verdict == "met"  # 30 / 300 = 0.1
    assert check.measured == "p50 30.0 ms ≤ 0.15 x B 300 ms = 45.0 ms"
    assert "own image" in check.detail and "generic mode not measured" in check.detail
    result = make_result()
    off = Series("generic", "generic", FAAS, "generic", expect="prewarm", baselines=["sdk"])
    off.unavailable = "no generic runtime for 'noop': off (FAAS_GENERIC_POOL=0)"
    result.series["generic"] = off
    check = {c.id: c for c in analysis.evaluate(result)}["W5"]
    assert "generic mode not available (no generic runtime" in check.detail
    result.series["prewarm"] = series("prewarm", [60.0] * 3, expect="prewarm")
    assert verdicts(result)["W5"] == "missed"  # 0.2x
    del result.series["sdk"]
    assert verdicts(result)["W5"] == "n/a"


def test_generic_series_in_every_output(tmp_path: Path) -> None:
    from faas_bench import chart

    result = with_generic(make_result(), [35.0, 40.0, 45.0])
    result.series["generic"].dropped = {"prewarm without load": 1}
    text = report.terminal(result)
    assert "label of generic" in text and "1 prewarm without load" in text
    assert "0.13x sdk" in text
    phases = report.phase_rows(result)
    assert "load" in phases[0]
    groups = [r.group for r in chart.rows(result)]
    assert groups.index("generic") == groups.index("prewarm") + 1
    row = next(r for r in chart.rows(result) if r.group == "generic")
    assert row.color == chart.COLORS["generic"] and row.ours
    assert chart.group_title("generic") == "generic runtime (code loaded on call)"
    assert "generic runtime (code loaded on call)" in chart.latency_svg(result)
    path = tmp_path / "results.json"
    report.write_json(result, path)
    data = json.loads(path.read_text())
    assert data["series"]["generic"]["parts_summary"]["load"]["p50"] == 3.0
    w5 = next(t for t in data["goals"] if t["id"] == "W5")
    assert w5["verdict"] == "met" and "generic" in w5["detail"]
    assert report.read_json(path).series["generic"].samples == [35.0, 40.0, 45.0]


def test_w1_fails_on_the_tail_alone() -> None:
    result = make_result()
    warm = [0.3] * 98 + [2.5, 2.5]  # p50 +0.15 ms, p99 ~ +2.3 ms
    result.series["warm"] = series("warm", warm, expect="warm", baselines=["direct"])
    result.series["direct"] = series("direct", [0.15] * 100, group=BASELINE, mode="warm")
    check = {c.id: c for c in analysis.evaluate(result)}["W1"]
    assert check.verdict == "missed"
    assert "150 µs at p50" in check.detail


def test_w2_needs_both_the_ratio_and_8000_requests_per_second() -> None:
    result = make_result()
    result.throughput["concurrent"].runs = [load(7000)] * 3
    result.throughput["direct-load"].runs = [load(10000)] * 3
    assert verdicts(result)["W2"] == "missed"  # 0.7x but under 8,000 req/s


def test_missing_modes_are_not_applicable_not_failed() -> None:
    result = make_result(series={}, throughput={}, memory=[])
    assert set(verdicts(result).values()) == {"n/a"}


def test_comparisons_cover_every_baseline_with_samples() -> None:
    ratios = {(r.series, r.baseline): r.comparison for r in analysis.comparisons(make_result())}
    assert set(ratios) == {
        ("cold", "sdk"),
        ("cold", "sdk-bridge"),
        ("prewarm", "sdk"),
        ("paused", "sdk-unpause"),
        ("warm", "direct"),
        ("burst", "sdk-burst"),
    }
    assert ratios[("cold", "sdk")].p50_ratio == pytest.approx(310 / 300)
    assert ratios[("cold", "sdk")].p50_diff == pytest.approx(10.0)
    assert ratios[("cold", "sdk-bridge")].medians_differ


# -- cost --------------------------------------------------------------------------------------


def test_cost_view_bills_at_least_one_ms_and_uses_measured_capacity() -> None:
    view = analysis.cost_view(make_result(), rates=[1.0, 100.0])
    assert view is not None
    assert view.duration_ms == pytest.approx(0.004)  # the warm handler phase
    assert view.billed_ms == pytest.approx(1.0)
    assert view.gb_seconds_per_call == pytest.approx(0.001 * 128 / 1024)
    assert view.capacity == pytest.approx(10000)
    per_call = 0.001 * 0.125 * cost.LAMBDA_X86_GB_SECOND + 0.2e-6
    assert view.break_even == pytest.approx(15.0 / (cost.SECONDS_PER_MONTH * per_call))
    assert [row.cheaper for row in view.rows] == ["pay-per-use", "always-on"]


def test_cost_view_uses_the_runs_always_on_price() -> None:
    result = make_result()
    result.options["always_on_monthly"] = 30.0
    view = analysis.cost_view(result)
    assert view is not None and view.always_on_monthly == 30.0


def test_cost_view_needs_a_measured_duration() -> None:
    assert analysis.cost_view(make_result(series={})) is None


# -- report, chart, page -----------------------------------------------------------------------


def test_terminal_table_shows_every_series_and_the_goals() -> None:
    text = report.terminal(make_result())
    for name in ("label of cold", "  label of sdk", "label of warm", "gateway, 32"):
        assert name in text
    assert "C1  cold start: p50 310 ms ≤ B 300 ms + 15 ms = 315 ms;" in text
    assert "C4  burst from zero, until all answered: p50 1.30 s ≤ 1.1 x 8 threads" in text
    assert ": met" in text and "= 1.21 s: missed (1.182x, n = 3)" in text
    assert ".md" not in text and ".toml" not in text  # no file a user would not have
    assert "1.03x sdk (+10.0 ms)" in text  # the cold row against its primary baseline
    assert "1 warm" in text  # the dropped sample is shown, not hidden


def test_markdown_report_has_every_section() -> None:
    result = make_result()
    result.replay = replay.replay_table([], replay.default_setups(), source="empty.csv")
    text = markdown.markdown(result, chart="chart.svg")
    for heading in (
        "## Environment",
        "## Goals",
        "## Latency",
        "### Where the time goes (p50)",
        "### Every figure against its baseline",
        "## Throughput",
        "## Memory of an idle warm container (cgroup)",
        "## Cost: pay-per-use vs always-on",
        "## Pool policy what-if",
        "## Reproduce",
    ):
        assert heading in text
    assert "![latency by start kind against the baselines](chart.svg)" in text
    assert "| C1 | cold start | p50 310 ms ≤ B 300 ms + 15 ms = 315 ms;" in text
    assert "| met |" in text


def test_reproduce_deploys_the_function_that_was_benchmarked() -> None:
    result = make_result()
    for function, folder in (
        ("noop", "benchmarks/functions/noop"),
        ("hello", "functions/hello"),
        ("mine", "path/to/mine"),
    ):
        result.function = function
        reproduce = markdown.markdown(result, chart="c.svg").split("## Reproduce")[1]
        assert f"faas deploy {folder}\nfaas bench {function} " in reproduce


def test_latency_rows_mark_unavailable_series() -> None:
    result = make_result()
    result.series["prewarm"].unavailable = "this gateway has no pool control"
    rows = {row[0]: row for row in report.latency_rows(result)}
    assert rows["label of prewarm"][4] == "not available"
    assert any("no pool control" in line for line in report.notes(result))


def test_html_page_is_self_contained(tmp_path: Path) -> None:
    path = tmp_path / "chart.html"
    chart.write_html(make_result(), path)
    text = path.read_text()
    assert text.count("<svg") >= 3  # latency, throughput, cost
    assert "<script" not in text
    assert "https://" not in text
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
        "http://127.0.0.1:1", ""
    )
    assert "label of cold" in text and 'class="met"' in text


def test_latency_figure_alone_is_an_svg_file(tmp_path: Path) -> None:
    path = tmp_path / "chart.svg"
    chart.write_svg(make_result(), path)
    text = path.read_text()
    assert text.startswith('<svg xmlns="http://www.w3.org/2000/svg"') and "label of cold" in text
    chart.write_svg(make_result(series={}), path)
    assert "no latency samples" in path.read_text()


def test_chart_rows_group_by_mode_gateway_first() -> None:
    rows = chart.rows(make_result())
    assert [r.group for r in rows][:4] == ["cold", "cold", "cold", "prewarm"]
    assert rows[0].ours and not rows[1].ours
    assert rows[0].p50 == 310.0


def test_svg_scale_is_logarithmic() -> None:
    assert chart.log_x(1.0, 1.0, 100.0, 0.0, 200.0) == 0.0
    assert chart.log_x(10.0, 1.0, 100.0, 0.0, 200.0) == pytest.approx(100.0)
    assert chart.log_x(0.001, 1.0, 100.0, 0.0, 200.0) == 0.0  # clamped


def test_element_escapes_text_and_attributes() -> None:
    assert (
        chart.el("text", "a<b", x=1.25, font_size=11)
        == '<text x="1.2" font-size="11">a&lt;b</text>'
    )
    assert chart.el("td", "x", class_="met") == '<td class="met">x</td>'


# -- environment, wrk ----------------------------------------------------------------------------


def test_environment_parsers() -> None:
    assert environment.cpu_model("processor: 0\nmodel name\t: AMD EPYC\n") == "AMD EPYC"
    assert environment.mem_total_bytes("MemTotal:       24684084 kB\n") == 24684084 * 1024
    assert environment.os_name('NAME="Debian"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n') == (
        "Debian GNU/Linux 12 (bookworm)"
    )


def test_environment_from_docker_info_and_version() -> None:
    info = {"CgroupVersion": "1", "CgroupDriver": "cgroupfs", "Driver": "overlay2", "NCPU": 2}
    version = {
        "Version": "20.10.24",
        "ApiVersion": "1.41",
        "Components": [
            {"Name": "runc", "Version": "1.1.5"},
            {"Name": "containerd", "Version": "1.6.20"},
        ],
    }
    env = environment.from_docker(info, version)
    assert env["runc"] == "1.1.5" and env["containerd"] == "1.6.20"
    assert env["cgroup_version"] == "1" and env["docker"] == "20.10.24"


def test_environment_survives_a_docker_failure() -> None:
    def broken() -> tuple[dict[str, object], dict[str, object]]:
        raise RuntimeError("no engine")

    env = environment.collect(broken)  # type: ignore[arg-type]
    assert env["docker_error"] == "no engine"
    assert env["kernel"]


WRK_RESULT = {
    "requests": 40000,
    "duration_us": 2000000,
    "connect": 0,
    "read": 1,
    "write": 0,
    "status": 3,
    "timeout": 2,
    "mean_us": 1500.5,
    "stdev_us": 300.0,
    "min_us": 100,
    "max_us": 9000,
    "p50_us": 1200,
    "p99_us": 4000,
    "p99.9_us": 8000,
}
WRK_OUTPUT = (
    "Running 2s test @ http://127.0.0.1:1/\n  1 threads and 32 connections\n"
    f"FAAS_BENCH_WRK {json.dumps(WRK_RESULT)}\n"
)


def test_parse_wrk_result_line() -> None:
    run = loadgen.parse_wrk(WRK_OUTPUT)
    assert run.rps == pytest.approx(20000)
    assert run.errors == 3 and run.non_2xx == 3
    assert run.latency_ms["p50"] == pytest.approx(1.2)
    assert run.latency_ms["p99.9"] == pytest.approx(8.0)
    with pytest.raises(ValueError, match="no result line"):
        loadgen.parse_wrk("Running 2s test\n")


def test_wrk_script_sends_the_payload_file(tmp_path: Path) -> None:
    script = loadgen.wrk_script("POST", tmp_path / "body", {"X-A": "b"})
    assert f'io.open("{tmp_path / "body"}", "rb")' in script
    assert 'wrk.method = "POST"' in script and 'wrk.headers["X-A"] = "b"' in script


# -- CLI (offline commands) ------------------------------------------------------------------


def test_cli_trace_then_replay(tmp_path: Path) -> None:
    runner = CliRunner()
    trace = tmp_path / "steady.csv"
    done = runner.invoke(cli, ["bench", "trace", "steady", "-o", str(trace), "--seconds", "10m"])
    assert done.exit_code == 0, done.output
    assert trace.read_text().startswith("timestamp,function,duration\n")
    done = runner.invoke(cli, ["bench", "replay", str(trace), "--keep-alive", "1m", "--json"])
    assert done.exit_code == 0, done.output
    table = json.loads(done.output)
    policies = {p["policy"]: p for p in table["policies"]}
    assert set(policies) == {
        "no pool (keep_alive 0s)",
        "keep_alive 1m",
        "keep_alive 1m, pause after 30s",
        "keep_alive 1m, scale.min 1, pause after 30s",
    }
    # About one call a second: without a pool most are cold (some land before the next tick).
    assert policies["no pool (keep_alive 0s)"]["cold_pct"] > 50
    assert policies["keep_alive 1m"]["cold_pct"] < 5
    done = runner.invoke(cli, ["bench", "replay", str(trace)])
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[1].split() == ["setup", "calls", "cold", "%", "prewarm",
        "paused", "warm", "idle", "container-s", "paused", "container-s"]  # fmt: skip


def test_cli_render_rebuilds_every_output(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    report.write_json(make_result(), results)
    done = CliRunner().invoke(cli, ["bench", "render", str(results)])
    assert done.exit_code == 0, done.output
    for name in ("report.md", "chart.svg", "chart.html"):
        assert (tmp_path / name).stat().st_size > 0
    saved = json.loads(results.read_text())
    assert {t["id"] for t in saved["goals"]} >= {"C1", "W1", "W2", "W4", "W5"}
    assert saved["cost"]["break_even"] > 0


def test_bench_name_runs_the_benchmark_and_says_when_no_gateway_answers(tmp_path: Path) -> None:
    import socket

    from faas.errors import StackError

    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = CliRunner().invoke(
        cli, ["--gateway", f"http://127.0.0.1:{port}", "bench", "noop", "-o", str(tmp_path)]
    )
    assert isinstance(done.exception, StackError)
    assert "does not answer" in done.exception.message


def test_bad_payload_is_a_clear_error() -> None:
    from faas.errors import BadRequest
    from faas_bench.cli import _payload

    assert _payload("1KiB") == b"x" * 1024
    assert _payload("") == b""
    with pytest.raises(BadRequest, match="--payload"):
        _payload("lots")


def test_summaries_match_the_stats_module() -> None:
    s = make_result().series["cold"]
    assert s.summary() == summarize([300.0, 310.0, 320.0])
    assert math.isclose(s.summary().p50, 310.0)  # type: ignore[union-attr]


def test_faas_without_faas_bench_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from faas.cli import group

    monkeypatch.setattr(group, "_add_ons", dict)  # as if faas-bench were not installed
    done = CliRunner().invoke(cli, ["bench", "noop", "--rounds", "3"])
    assert done.exit_code == 1
    assert done.output.strip().splitlines() == [
        "Error: `faas bench` is not installed: pip install -e ./benchmarks "
        "(the faas-bench package of a faas checkout)"
    ]
    assert "bench" in CliRunner().invoke(cli, ["--help"]).output


def test_faas_imports_neither_faas_bench_nor_matplotlib() -> None:
    import subprocess
    import sys

    code = (
        "import sys, faas.cli.main, gateway.app; "
        "print(sorted({'faas_bench', 'matplotlib'} & {m.split('.')[0] for m in sys.modules}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"

"""`faas bench` end to end: a short real run (real gateway, real Docker) produces every output."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from faas import keys
from faas.cli.main import cli
from faas.engines.docker import DockerBackend
from faas_bench.baselines import ROLE_BENCH
from tests.conftest import REPO, Gateway, wait_until

NOOP = REPO / "benchmarks" / "functions" / "noop"

Deploy = Callable[[Gateway, Path], dict[str, object]]


def spares(gateway: Gateway) -> int:
    generic = gateway.http.get("/system/function/noop").json()["generic"] or {}
    return int(generic.get("spares") or 0)


def test_one_command_gives_the_table_json_markdown_and_charts(
    make_gateway: Callable[..., Gateway],
    deploy: Deploy,
    docker_backend: DockerBackend,
    tmp_path: Path,
) -> None:
    gateway = make_gateway(FAAS_GENERIC_POOL="2")  # the generic mode needs spares (W5)
    deploy(gateway, NOOP)
    # A new gateway starts its first spares some seconds after it starts: not the bench's time.
    wait_until(lambda: spares(gateway) >= 1, 60, 0.05)
    trace = tmp_path / "trace.csv"
    assert CliRunner().invoke(cli, ["bench", "trace", "bursty", "-o", str(trace)]).exit_code == 0
    out = tmp_path / "out"
    args = ["--rounds", "3", "--calls", "1", "--warm-calls", "30", "--duration", "1s"]
    args += ["--burst", "2", "-c", "4", "--trace", str(trace), "-q", "-o", str(out)]

    started = time.monotonic()
    done = CliRunner(env=gateway.cli_env()).invoke(
        cli, ["--gateway", gateway.url, "bench", "noop", *args]
    )
    took = time.monotonic() - started

    assert done.exit_code == 0, f"{done.output}\n{done.exception!r}"
    assert took < 60, f"the short run took {took:.0f} s"
    for name in ("results.json", "report.md", "chart.svg", "chart.html"):
        assert (out / name).stat().st_size > 0, name
    assert "\ngoals\n  C1  cold start: p50 " in done.output  # the terminal table

    data = json.loads((out / "results.json").read_text())
    series = data["series"]
    for name in ("cold", "sdk", "sdk-bridge", "docker-run", "warm", "direct", "burst"):
        assert (series[name]["summary"] or {}).get("n", 0) >= 3, (name, series[name])
        assert series[name]["per_round"] == [1, 1, 1] or name in ("warm", "direct")
    for name in ("prewarm", "paused", "sdk-unpause", "sdk-burst"):
        assert series[name]["summary"] or series[name]["unavailable"], name
    assert {"create", "start", "ready", "total"} <= set(series["cold"]["parts"])
    generic = series["generic"]  # prewarm replies with a load phase, no container started
    assert generic["unavailable"] is None and generic["errors"] == 0, generic
    assert generic["summary"]["n"] >= 3 and generic["per_round"] == [1, 1, 1], generic
    assert generic["dropped"] == {}, generic
    assert generic["expect"] == "prewarm"
    assert len(generic["parts"]["load"]) == generic["summary"]["n"]
    assert not {"create", "start", "ready"} & set(generic["parts"])
    assert "load" not in series["prewarm"]["parts"]  # own image: code already loaded
    assert series["warm"]["per_round"] == [30, 30, 30]
    assert all(run["requests"] > 0 for run in data["throughput"]["concurrent"]["runs"])
    assert all(run["requests"] > 0 for run in data["throughput"]["direct-load"]["runs"])
    assert data["environment"]["kernel"] and data["environment"]["cgroup_version"]
    verdicts = {t["id"]: t["verdict"] for t in data["goals"]}
    for goal in ("C1", "C2", "C4", "W1", "W2", "W5", "M1"):
        assert verdicts[goal] in ("met", "missed"), (goal, data["goals"])
    w5 = next(t for t in data["goals"] if t["id"] == "W5")
    assert "x B" in w5["measured"] and "generic runtime" in w5["detail"], w5
    assert "own image" in w5["detail"], w5
    assert data["cost"]["break_even"] > 0
    assert data["replay"]["policies"][0]["policy"] == "no pool (keep_alive 0s)"

    markdown = (out / "report.md").read_text()
    assert "## Goals" in markdown and "![latency by start kind" in markdown
    assert (out / "chart.svg").read_text().startswith("<svg")
    assert "<svg" in (out / "chart.html").read_text()

    run = {keys.LABEL_ROLE: ROLE_BENCH, keys.LABEL_GATEWAY: f"bench-{data['run_id']}"}
    assert len(data["run_id"]) == 8  # other runs on this engine are not this test's business
    left = docker_backend.list_managed(run)
    assert not left, f"baseline containers left behind: {[c.id[:12] for c in left]}"


def test_generic_mode_without_a_generic_pool_is_not_available_and_w5_says_so(
    gateway: Gateway, deploy: Deploy, tmp_path: Path
) -> None:
    deploy(gateway, NOOP)  # conftest's gateway runs with FAAS_GENERIC_POOL=0
    out = tmp_path / "out"
    args = ["-m", "generic", "-m", "prewarm", "--rounds", "1", "--calls", "2", "-q", "-o", str(out)]

    done = CliRunner(env=gateway.cli_env()).invoke(
        cli, ["--gateway", gateway.url, "bench", "noop", *args]
    )

    assert done.exit_code == 0, f"{done.output}\n{done.exception!r}"
    data = json.loads((out / "results.json").read_text())
    assert set(data["series"]) == {"sdk", "prewarm", "generic"}
    assert "FAAS_GENERIC_POOL=0" in data["series"]["generic"]["unavailable"]
    assert data["series"]["prewarm"]["summary"]["n"] == 2
    w5 = next(t for t in data["goals"] if t["id"] == "W5")
    assert w5["verdict"] in ("met", "missed") and "own image" in w5["detail"], w5
    assert "generic mode not available" in w5["detail"], w5
    assert "generic: not available" in done.output

"""`faas bench` end to end: a short real run (real gateway, real Docker) produces every output."""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from faas import keys
from faas.bench.baselines import ROLE_BENCH
from faas.cli import cli
from faas.docker_backend import DockerBackend
from tests.conftest import REPO, Gateway

NOOP = REPO / "benchmarks" / "functions" / "noop"

Deploy = Callable[[Gateway, Path], dict[str, object]]


def test_one_command_gives_the_table_json_markdown_and_charts(
    gateway: Gateway, deploy: Deploy, docker_backend: DockerBackend, tmp_path: Path
) -> None:
    deploy(gateway, NOOP)
    trace = tmp_path / "trace.csv"
    assert CliRunner().invoke(cli, ["bench", "trace", "bursty", "-o", str(trace)]).exit_code == 0
    out = tmp_path / "out"
    args = ["--rounds", "3", "--calls", "1", "--warm-calls", "30", "--duration", "1s"]
    args += ["--burst", "2", "-c", "4", "--trace", str(trace), "-q", "-o", str(out)]

    started = time.monotonic()
    done = CliRunner().invoke(cli, ["--gateway", gateway.url, "bench", "noop", *args])
    took = time.monotonic() - started

    assert done.exit_code == 0, f"{done.output}\n{done.exception!r}"
    assert took < 60, f"the short run took {took:.0f} s"
    outputs = ["results.json", "report.md", "chart.html"]
    if importlib.util.find_spec("matplotlib"):  # the `bench` extra (in `dev`)
        outputs.append("chart.png")
    for name in outputs:
        assert (out / name).stat().st_size > 0, name
    assert "targets (targets.md)" in done.output  # the terminal table

    data = json.loads((out / "results.json").read_text())
    series = data["series"]
    for name in ("cold", "sdk", "sdk-bridge", "docker-run", "warm", "direct", "burst"):
        assert (series[name]["summary"] or {}).get("n", 0) >= 3, (name, series[name])
        assert series[name]["per_round"] == [1, 1, 1] or name in ("warm", "direct")
    for name in ("prewarm", "paused", "sdk-unpause", "sdk-burst"):
        assert series[name]["summary"] or series[name]["unavailable"], name
    assert {"create", "start", "ready", "total"} <= set(series["cold"]["parts"])
    assert series["warm"]["per_round"] == [30, 30, 30]
    assert all(run["requests"] > 0 for run in data["throughput"]["concurrent"]["runs"])
    assert all(run["requests"] > 0 for run in data["throughput"]["direct-load"]["runs"])
    assert data["environment"]["kernel"] and data["environment"]["cgroup_version"]
    verdicts = {t["id"]: t["verdict"] for t in data["targets"]}
    for target in ("C1", "C2", "C4", "W1", "W2", "M1"):
        assert verdicts[target] in ("pass", "fail"), (target, data["targets"])
    assert data["cost"]["break_even"] > 0
    assert data["replay"]["policies"][0]["policy"] == "no-pool"

    markdown = (out / "report.md").read_text()
    assert "## Targets" in markdown and "![latency" in markdown
    assert "<svg" in (out / "chart.html").read_text()

    left = docker_backend.list_managed({keys.LABEL_ROLE: ROLE_BENCH})
    assert not left, f"baseline containers left behind: {[c.id[:12] for c in left]}"

"""R1: the same start paths measured on two checkouts of faas in one run, rounds interleaved.

    python benchmarks/compare_releases.py --old ../faas-previous [--rounds 3]

Each checkout needs its own `.venv` with faas (and faas-bench) installed. Every round runs, for
each checkout in turn (the order alternates between rounds), a stack of its own (own FAAS_HOME
and ports), deploys benchmarks/functions/noop, runs `faas bench noop -m cold -m generic
-m paused -m warm` for one round, and stops the stack. Figures are pooled over the rounds:
C1 cold p50/p95, W1 the gateway's warm p50/p99 minus the direct call's, W4 paused p50, W5
generic p50. The verdict is the target of R1: within 5% or 30 µs of the old checkout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from faas_bench.local import free_port

NEW = Path(__file__).resolve().parents[1]
MODES = ("cold", "generic", "paused", "warm")


def run_side(checkout: Path, out: Path, args: argparse.Namespace) -> Path:
    """One round of `faas bench` on `checkout`'s own stack; returns its results.json."""
    faas = str(checkout / ".venv" / "bin" / "faas")
    home = Path(tempfile.mkdtemp(prefix="faas-r1-"))
    env = {
        **os.environ,
        "FAAS_HOME": str(home),
        "FAAS_GATEWAY": f"http://127.0.0.1:{free_port()}",
        "FAAS_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "FAAS_GENERIC_POOL": "2",
    }

    def faas_cmd(*words: str) -> None:
        subprocess.run([faas, *words], cwd=checkout, env=env, check=True)

    try:
        faas_cmd("up")
        faas_cmd("deploy", "-q", "benchmarks/functions/noop")
        modes = [word for mode in args.modes.split(",") for word in ("-m", mode)]
        faas_cmd(
            "bench",
            "noop",
            *modes,
            "--rounds",
            "1",
            "--calls",
            str(args.calls),
            "--warm-calls",
            str(args.warm_calls),
            "--no-docker-run",
            "-q",
            "-o",
            str(out),
        )
    finally:
        subprocess.run([faas, "down"], cwd=checkout, env=env, check=False)
        shutil.rmtree(home, ignore_errors=True)
    return out / "results.json"


def samples(results: list[Path], name: str) -> list[float]:
    """Every sample of one series (cold, generic, paused, warm through the gateway; direct)."""
    found: list[float] = []
    for path in results:
        series = json.loads(path.read_text())["series"].get(name)
        found.extend(series["samples"] if series else [])
    return found


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def figures(results: list[Path]) -> dict[str, float]:
    """The R1 figures of the modes that ran."""
    found: dict[str, float] = {}
    cold, warm, direct = (samples(results, name) for name in ("cold", "warm", "direct"))
    if cold:
        found["C1 cold p50 (ms)"] = statistics.median(cold)
        found["C1 cold p95 (ms)"] = quantile(cold, 0.95)
        sdk = samples(results, "sdk")
        found["C1 bare SDK B p50 (ms)"] = statistics.median(sdk) if sdk else math.nan
    if warm and direct:
        found["W1 added p50 (µs)"] = (statistics.median(warm) - statistics.median(direct)) * 1e3
        found["W1 added p99 (µs)"] = (quantile(warm, 0.99) - quantile(direct, 0.99)) * 1e3
    for name, figure in (("paused", "W4 paused p50 (ms)"), ("generic", "W5 generic p50 (ms)")):
        if series := samples(results, name):
            found[figure] = statistics.median(series)
    return found


def verdict(name: str, old: float, new: float) -> str:
    slack = 30.0 if "(µs)" in name else 0.030  # 30 µs, in the figure's unit
    ok = new <= old * 1.05 or new - old <= slack
    return "met" if ok else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", type=Path, required=True, help="checkout of the old release")
    parser.add_argument("--new", type=Path, default=NEW, help="checkout of the new release")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated bench modes")
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--warm-calls", type=int, default=1000)
    parser.add_argument("-o", "--out", type=Path, default=NEW / "benchmarks" / "results" / "r1")
    args = parser.parse_args()
    sides = {"old": args.old.resolve(), "new": args.new.resolve()}
    results: dict[str, list[Path]] = {"old": [], "new": []}
    for index in range(args.rounds):
        order = ["old", "new"] if index % 2 == 0 else ["new", "old"]
        for side in order:
            print(f"round {index + 1}/{args.rounds}: {side} ({sides[side]})", file=sys.stderr)
            out = args.out / side / f"round-{index + 1}"
            results[side].append(run_side(sides[side], out, args))
    old, new = figures(results["old"]), figures(results["new"])
    rows = [("figure", "old", "new", "R1 (≤ 5% or 30 µs worse)")]
    rows += [(k, f"{old[k]:.3f}", f"{new[k]:.3f}", verdict(k, old[k], new[k])) for k in old]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    (args.out / "r1.json").write_text(json.dumps({"old": old, "new": new}, indent=2))


if __name__ == "__main__":
    main()

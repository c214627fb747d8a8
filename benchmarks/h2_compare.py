"""H2 on two checkouts in one run: a stack of each up at once, the series interleaved by rounds.

    python benchmarks/h2_compare.py --old ../faas-previous [--rounds 10] [--warm 300]

Each checkout needs its own `.venv` with faas installed; its gateway runs its own code. Both
gateways serve the same HTTP image (tests/fixtures/images/http_echo); every round calls, in a
rotating order, each gateway and each gateway's container directly, with two clients: the small
blocking client `faas bench` uses for W1 (`faas_bench.wire`) and httpx (as image_bench.py's H2).
H2 is the gateway's p50 (p95) minus the direct call's, per checkout and client.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import httpx

import image_bench
from faas_bench import wire
from faas_bench.stats import summarize

NEW = Path(__file__).resolve().parents[1]
SERIES = ("wire gateway", "wire direct", "httpx gateway", "httpx direct")


def start_side(repo: Path, image: str) -> dict[str, Any]:
    """A stack running `repo`'s gateway with its venv, the echo function deployed and warm."""
    image_bench.REPO = repo
    python, sys.executable = sys.executable, str(repo / ".venv" / "bin" / "python")
    work = Path(tempfile.mkdtemp(prefix="faas-h2-compare-"))
    stack = image_bench.Stack(work, None)
    try:
        gateway = stack.start()
    finally:
        sys.executable = python
    side: dict[str, Any] = {"stack": stack, "work": work, "gateway": gateway}
    manifest = {"name": "echo", "image": image, "keep_alive": "1h", "timeout": "30s"}
    gateway.post("/system/functions", json={"manifest": manifest, "image": image})
    gateway.get("/function/echo/").raise_for_status()
    address = gateway.get("/system/function/echo").json()["instances"][0]["address"]
    direct = httpx.Client(base_url=f"http://{address}", timeout=30, trust_env=False)
    direct.get("/").raise_for_status()
    to_gateway = wire.Connection(wire.address_from_url(stack.url))
    to_container = wire.Connection(wire.parse_address(address))
    to_gateway.open()
    to_container.open()
    side["calls"] = {
        "wire gateway": lambda: _wire(to_gateway, wire.request_bytes("GET", "/function/echo/")),
        "wire direct": lambda: _wire(to_container, wire.request_bytes("GET", "/")),
        "httpx gateway": lambda: _httpx(gateway, "/function/echo/"),
        "httpx direct": lambda: _httpx(direct, "/"),
    }
    side["samples"] = {name: [] for name in SERIES}
    return side


def _wire(conn: wire.Connection, request: bytes) -> None:
    assert conn.exchange(request).status == 200


def _httpx(client: httpx.Client, path: str) -> None:
    assert client.get(path).status_code == 200


def timed(call: Callable[[], None], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        out.append((time.perf_counter() - t0) * 1e6)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", type=Path, required=True, help="checkout of the old release")
    parser.add_argument("--new", type=Path, default=NEW, help="checkout of the new release")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warm", type=int, default=300, help="calls per series per round")
    args = parser.parse_args()
    base = os.environ.get("FAAS_BASE_IMAGE") or "faas-python:bookworm"
    client = docker.from_env()
    image = image_bench.build(client, "http_echo", base)
    sides: dict[str, dict[str, Any]] = {}
    try:
        for name, repo in (("old", args.old.resolve()), ("new", args.new.resolve())):
            sides[name] = start_side(repo, image)
        order = [(name, series) for name in sides for series in SERIES]
        load = os.getloadavg()[0]
        for round_ in range(args.rounds):
            shift = round_ % len(order)
            for name, series in order[shift:] + order[:shift]:
                side = sides[name]
                side["samples"][series] += timed(side["calls"][series], args.warm)
        print(f"load (1 min) {load:.1f} before, {os.getloadavg()[0]:.1f} after; "
              f"{args.rounds} rounds x {args.warm} calls per series")  # fmt: skip
        for name, side in sides.items():
            s = {series: summarize(values) for series, values in side["samples"].items()}
            for client_name in ("wire", "httpx"):
                gw, direct = s[f"{client_name} gateway"], s[f"{client_name} direct"]
                print(
                    f"{name} {client_name:5}: gateway p50 {gw.p50:5.0f} p95 {gw.p95:6.0f} | "
                    f"direct p50 {direct.p50:5.0f} p95 {direct.p95:6.0f} | "
                    f"H2 +{gw.p50 - direct.p50:.0f} us p50, +{gw.p95 - direct.p95:.0f} us p95"
                )
    finally:
        for side in sides.values():
            side["gateway"].delete("/system/function/echo")
            side["stack"].stop()
            shutil.rmtree(side["work"], ignore_errors=True)
        client.images.remove(image, force=True)


if __name__ == "__main__":
    main()

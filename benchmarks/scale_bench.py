"""Scale benchmark: what registered but idle functions cost a gateway.

With 10, 500 and 2,000 functions registered (through the API, all on one shared image of
`functions/noop`; only the first is ever called), in one run and one gateway:

    idle CPU     the gateway's CPU time over --idle seconds without a call, from /proc/PID/stat,
                 as a share of one core
    warm calls   sequential no-op calls to one warm function for --calls-for seconds:
                 p50, p99 and the longest single call (a stall of the event loop shows here)
    listing      GET /system/functions: p50 and max over --lists requests

Target after the redesign: at 2,000 functions the idle gateway under 2% of a core and no warm
call over 5 ms. It starts its own redis-server and gateway (free ports, own FAAS_HOME), prints
a table and writes JSON. Needs Docker, redis-server and a base image (FAAS_BASE_IMAGE).

    FAAS_BASE_IMAGE=faas-python:bookworm python benchmarks/scale_bench.py [--counts 10,500,2000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import redis

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from faas import keys  # noqa: E402
from faas.build.images import build_function_image  # noqa: E402
from faas.credentials import ADMIN_USER, basic_authorization  # noqa: E402
from faas.engines.docker import DockerBackend  # noqa: E402
from faas.manifest.spec import load_manifest  # noqa: E402
from faas_bench.local import free_port, wait  # noqa: E402
from faas_bench.wire import Connection, address_from_url, parse_address, request_bytes  # noqa: E402

NOOP = REPO / "benchmarks" / "functions" / "noop"
CALLED = "scale-0000"
PASSWORD = "scale-bench"  # the control plane's password of the benchmark's own gateway
CONTROL = {"Authorization": basic_authorization(PASSWORD)}
TICK = os.sysconf("SC_CLK_TCK")


def answers(url: str, path: str) -> bool:
    try:
        return httpx.get(url + path, trust_env=False).status_code == 200
    except httpx.TransportError:
        return False


class Stack:
    """Its own redis-server and one gateway, in a temporary FAAS_HOME."""

    def __init__(self, work: Path, extra_env: dict[str, str]) -> None:
        self.work = work
        self.sockets = Path(tempfile.mkdtemp(prefix="faas-sb-", dir="/tmp"))  # short sun_path
        self.redis_port = free_port()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = extra_env
        self.redis: subprocess.Popen[bytes] | None = None
        self.gateway: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.redis = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.redis_port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(self.work)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        log = open(self.work / "gateway.log", "ab")  # noqa: SIM115
        self.gateway = subprocess.Popen(
            [sys.executable, "-m", "gateway"],
            cwd=REPO,
            env={
                **os.environ,
                "FAAS_PORT": str(self.port),
                "FAAS_BIND": "127.0.0.1",
                "FAAS_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
                "FAAS_HOME": str(self.work),
                "FAAS_SOCKET_DIR": str(self.sockets),
                "FAAS_LOG_LEVEL": "warning",
                "FAAS_ADMIN_PASSWORD": PASSWORD,
                **self.extra_env,
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait(lambda: answers(self.url, "/healthz"), 60, "the gateway")

    def cpu_seconds(self) -> float:
        assert self.gateway is not None
        stat = Path(f"/proc/{self.gateway.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime

    def stop(self) -> None:
        """Stop the gateway (it removes its containers on SIGTERM), then Redis.

        A gateway that does not stop in 2 minutes is killed and its stack's containers removed
        here (the stack id is read from Redis first)."""
        gateway, redis_server = self.gateway, self.redis
        if gateway is not None and gateway.poll() is None:
            gateway.terminate()
            try:
                gateway.wait(120)
            except subprocess.TimeoutExpired:
                print("the gateway did not stop within 120 s of SIGTERM: killed")
                gateway.kill()
                gateway.wait()
                self._remove_containers()
        if redis_server is not None and redis_server.poll() is None:
            redis_server.terminate()
            redis_server.wait(30)
        shutil.rmtree(self.sockets, ignore_errors=True)

    def _remove_containers(self) -> None:
        client = redis.Redis(port=self.redis_port, decode_responses=True)
        stack = client.get(keys.STACK_ID)
        client.close()
        if not stack:
            return
        backend = DockerBackend()
        for container in backend.list_managed({keys.LABEL_STACK: str(stack)}):
            backend.remove(container.id)


def register(url: str, manifest: dict[str, Any], image: str, code_hash: str, names: range) -> int:
    """Register `scale-NNNN` for every index in `names`, all on the one image.

    Returns how many registrations got a 503 and were retried (a gateway too busy to answer
    Redis in time says so)."""
    auth = (ADMIN_USER, PASSWORD)
    with httpx.Client(base_url=url, timeout=120, trust_env=False, auth=auth) as client:

        def one(index: int) -> int:
            body = {"manifest": {**manifest, "name": f"scale-{index:04d}"}, "image": image}
            for attempt in range(10):
                response = client.post("/system/functions", json={**body, "code_hash": code_hash})
                if response.status_code in (200, 201):
                    return attempt
                if response.status_code != 503:
                    break
            raise SystemExit(f"register failed: {response.status_code} {response.text}")

        with ThreadPoolExecutor(4) as pool:
            return sum(pool.map(one, names))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def timed_calls(
    conn: Connection, request: bytes, seconds: float
) -> tuple[list[float], dict[str, int]]:
    """Back-to-back calls for `seconds`: each one's latency (ms) and how they were served."""
    for _ in range(20):  # make sure the container is warm (started, not paused)
        conn.exchange(request)
    latencies: list[float] = []
    kinds: dict[str, int] = {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        reply = conn.exchange(request)
        if reply.status != 200:
            raise SystemExit(f"call failed: {reply.status} {reply.body[:300]!r}")
        latencies.append(reply.elapsed_ms)
        kind = reply.headers.get("x-faas-start", "direct")
        kinds[kind] = kinds.get(kind, 0) + 1
    return latencies, kinds


def measure(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    time.sleep(args.settle)  # the registrations' own after-effects, before idling
    cpu0, t0 = stack.cpu_seconds(), time.monotonic()
    time.sleep(args.idle)
    idle_cpu = (stack.cpu_seconds() - cpu0) / (time.monotonic() - t0)

    with Connection(address_from_url(stack.url)) as conn:
        call = request_bytes("POST", f"/function/{CALLED}", b"{}")
        latencies, kinds = timed_calls(conn, call, args.calls_for)
        described = json.loads(
            conn.exchange(request_bytes("GET", f"/system/function/{CALLED}", headers=CONTROL)).body
        )
        # The same container without the gateway, as long, at once (before the pool pauses
        # it): what the machine alone adds to the tail.
        address = next(i["address"] for i in described["instances"] if i["address"])
        with Connection(parse_address(address)) as direct_conn:
            call = request_bytes("POST", "/call/", b"{}")
            direct, _ = timed_calls(direct_conn, call, args.calls_for)
        listing = [
            conn.exchange(request_bytes("GET", "/system/functions", headers=CONTROL)).elapsed_ms
            for _ in range(args.lists)
        ]
    return {
        "load_average": os.getloadavg()[0],  # other work on the machine shows in the stalls
        "idle_cpu_share": idle_cpu,
        "calls": len(latencies),
        "start_kinds": kinds,
        "warm_p50_ms": statistics.median(latencies),
        "warm_p99_ms": pct(latencies, 99),
        "warm_max_ms": max(latencies),
        "stalls_over_5ms": sum(1 for x in latencies if x > 5.0),
        "list_p50_ms": statistics.median(listing),
        "list_max_ms": max(listing),
        "direct_p99_ms": pct(direct, 99),
        "direct_max_ms": max(direct),
        "direct_over_5ms": sum(1 for x in direct if x > 5.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="10,500,2000", help="registered functions per step")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU sampling")
    parser.add_argument("--calls-for", type=float, default=10.0, help="seconds of warm calls")
    parser.add_argument("--lists", type=int, default=10, help="GET /system/functions requests")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds before idling")
    parser.add_argument("--json", type=Path, help="default benchmarks/results/scale-<time>.json")
    args = parser.parse_args()
    counts = [int(n) for n in args.counts.split(",")]
    base_image = os.environ.get("FAAS_BASE_IMAGE", "faas-python:bookworm")

    spec = load_manifest(NOOP)
    built = build_function_image(DockerBackend(), NOOP, spec.name, base_image=base_image)
    manifest = spec.to_manifest()
    work = Path(tempfile.mkdtemp(prefix="faas-scale-"))
    stack = Stack(work, {"FAAS_BASE_IMAGE": base_image})
    rows: list[dict[str, Any]] = []
    try:
        stack.start()
        registered = 0
        for count in counts:
            t0 = time.monotonic()
            new = range(registered, count)
            retried = register(stack.url, manifest, built.tag, built.code_hash, new)
            took = time.monotonic() - t0
            print(f"registered {len(new)} functions ({count} in all) in {took:.1f}s")
            registered = count
            row = {
                "functions": count,
                "register_s": took,
                "register_503_retries": retried,
                **measure(stack, args),
            }
            rows.append(row)
            print(f"  {json.dumps(row)}")
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)

    print()
    print("| functions | idle CPU (% core) | warm p50 ms | warm p99 ms | max stall ms "
          "| calls > 5 ms | list p50 ms | list max ms | direct p99 / max ms | load |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['functions']} | {100 * r['idle_cpu_share']:.1f} | {r['warm_p50_ms']:.2f} "
            f"| {r['warm_p99_ms']:.2f} | {r['warm_max_ms']:.1f} | {r['stalls_over_5ms']} "
            f"| {r['list_p50_ms']:.1f} | {r['list_max_ms']:.1f} "
            f"| {r['direct_p99_ms']:.2f} / {r['direct_max_ms']:.1f} | {r['load_average']:.1f} |"
        )
    out = (
        args.json
        or REPO / "benchmarks" / "results" / f"scale-{time.strftime('%Y%m%d-%H%M%S')}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = {k: v for k, v in vars(args).items() if k != "json"}
    out.write_text(json.dumps({"base_image": base_image, "args": settings, "rows": rows}, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()

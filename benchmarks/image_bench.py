"""Image functions against their bare-Docker baselines, in the same run, interleaved by rounds.

H1  cold start of an HTTP image (`contract: http`) through the gateway, request to answer,
    vs the Docker SDK creating and starting the same image (same limits and hardening) and
    polling its port until it answers.                                  target: <= B + 15 ms
H2  warm call through the gateway vs a direct keep-alive call to the container's port.
                                                                        target: <= B + 300 us
T1  one call of a task image (`contract: task`, one container per call) vs `docker run --rm`
    of the same image with the same arguments (`--hardened-run`: with the limits and hardening
    faas gives it: 0.5 CPU, 128 MiB, read-only, uid 10001, ...).       target: <= 0.9 x B

The images are tests/fixtures/images/{http_echo,task_echo} built on FAAS_BASE_IMAGE. The script
starts its own redis-server and gateway (FAAS_HOME in a temp folder) and removes what it made.

    python benchmarks/image_bench.py [--rounds 5] [--cold 4] [--warm 200] [--tasks 5] [--out F]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import docker
import httpx

from faas import credentials
from faas.client import ControlPlaneAuth
from faas.settings import Settings
from faas_bench.local import free_port, healthy, start_redis, stop, wait
from faas_bench.stats import Summary, interleave, summarize

REPO = Path(__file__).resolve().parent.parent
IMAGES = REPO / "tests" / "fixtures" / "images"
HARDENING: dict[str, Any] = {
    "user": "10001:10001",
    "read_only": True,
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
    "pids_limit": 128,
    "mem_limit": 128 * 2**20,
    "nano_cpus": 500_000_000,
    "tmpfs": {"/tmp": "rw,size=64m,mode=1777"},
}


class Stack:
    """A redis-server and one gateway of the script's own."""

    def __init__(self, work: Path, port: int | None) -> None:
        self.work = work
        self.redis_port = free_port()
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sockets = Path(tempfile.mkdtemp(prefix="faas-ib-", dir="/tmp"))
        self.procs: list[subprocess.Popen[bytes]] = []
        self.settings = Settings(home=work)

    def start(self) -> httpx.Client:
        self.procs.append(start_redis(self.redis_port, self.work))
        env = {
            **os.environ,
            "FAAS_PORT": str(self.port),
            "FAAS_BIND": "127.0.0.1",
            "FAAS_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "FAAS_HOME": str(self.work),
            "FAAS_SOCKET_DIR": str(self.sockets),
            "FAAS_GENERIC_POOL": "0",
            "FAAS_LOG_LEVEL": "warning",
        }
        log = open(self.work / "gateway.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway"], cwd=REPO, env=env, stdout=log, stderr=log
        )
        self.procs.append(proc)
        wait(lambda: healthy(self.url), 30, "the gateway")
        auth = ControlPlaneAuth(credentials.ensure(self.settings), self.url)
        return httpx.Client(base_url=self.url, auth=auth, timeout=60, trust_env=False)

    def stop(self) -> None:
        stop(self.procs, self.sockets)


def build(client: docker.DockerClient, folder: str, base: str) -> str:
    tag = f"faas-bench-{folder.replace('_', '-')}:{uuid.uuid4().hex[:8]}"
    labels = {"faas.managed": "true"}
    client.images.build(
        path=str(IMAGES / folder), tag=tag, buildargs={"BASE": base}, labels=labels, rm=True
    )
    return tag


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# -- H1 ---------------------------------------------------------------------------------------


def faas_cold(gw: httpx.Client, client: docker.DockerClient) -> float:
    gw.post("/system/function/echo/pool", json={"action": "drain"}).raise_for_status()
    wait(lambda: not gw.get("/system/function/echo").json()["instances"], 30, "the drain")
    # The drained container is removed in the background: let Docker finish, as the baseline
    # does (its removal is synchronous), so both start on an idle engine.
    gateway = gw.get("/healthz").json()["gateway"]
    ours = {"label": ["faas.function=echo", f"faas.gateway={gateway}"]}
    wait(lambda: not client.containers.list(all=True, filters=ours), 30, "the removal")
    t0 = time.perf_counter()
    response = gw.get("/function/echo/")
    elapsed = time.perf_counter() - t0
    assert response.status_code == 200 and response.headers["x-faas-start"] == "cold", response.text
    return elapsed


def sdk_cold(client: docker.DockerClient, image: str, network: str) -> float:
    t0 = time.perf_counter()
    container = client.containers.create(image, network=network, labels=LABELS, **HARDENING)
    try:
        container.start()
        container.reload()
        ip = container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]
        delay = 0.001
        while True:
            try:
                if httpx.get(f"http://{ip}:8080/", timeout=1, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(delay)
            delay = min(delay * 1.5, 0.01)
        return time.perf_counter() - t0
    finally:
        container.remove(force=True)


# -- H2 ---------------------------------------------------------------------------------------


def warm_series(client: httpx.Client, url: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        response = client.get(url)
        out.append(time.perf_counter() - t0)
        assert response.status_code == 200, response.text
    return out


# -- T1 ---------------------------------------------------------------------------------------


def faas_task(gw: httpx.Client, phases: list[dict[str, float]]) -> float:
    t0 = time.perf_counter()
    response = gw.post("/function/vote", json=["voter-1", "yes"])
    elapsed = time.perf_counter() - t0
    assert response.status_code == 200, response.text
    phases.append(_server_timing(response.headers.get("server-timing", "")))
    return elapsed


# The limits and hardening faas gives the task's container (faas.pool.hardening's defaults).
HARDENED_RUN = [
    "--user", "10001:10001", "--read-only", "--tmpfs", "/tmp:rw,size=64m,mode=1777",
    "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--pids-limit", "128",
    "--memory", "128m", "--cpus", "0.5",
]  # fmt: skip


def docker_run(image: str, hardened: bool = False) -> float:
    flags = HARDENED_RUN if hardened else []
    argv = ["docker", "run", "--rm", "--network", "none", *flags, image, "voter-1", "yes"]
    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    assert done.returncode == 0 and "voter-1" in done.stdout, done.stderr
    return elapsed


def _server_timing(header: str) -> dict[str, float]:
    out = {}
    for part in header.split(","):
        name, _, rest = part.strip().partition(";dur=")
        if rest:
            out[name] = float(rest)
    return out


LABELS = {"faas.managed": "true", "faas.role": "bench-baseline"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cold", type=int, default=4, help="H1 samples per side per round")
    parser.add_argument("--warm", type=int, default=200, help="H2 samples per side per round")
    parser.add_argument("--tasks", type=int, default=5, help="T1 samples per side per round")
    parser.add_argument(
        "--hardened-run", action="store_true", help="T1 baseline: docker run with faas's limits too"
    )
    parser.add_argument("--port", type=int, default=0, help="the gateway's port (default: free)")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()

    base = os.environ.get("FAAS_BASE_IMAGE") or "faas-python:bookworm"
    client = docker.from_env()
    work = Path(tempfile.mkdtemp(prefix="faas-image-bench-"))
    stack = Stack(work, args.port or None)
    images = [build(client, "http_echo", base), build(client, "task_echo", base)]
    http_image, task_image = images
    gw = stack.start()
    try:
        for manifest in (
            {"name": "echo", "image": http_image, "keep_alive": "1h", "timeout": "30s"},
            {"name": "vote", "image": task_image, "contract": "task", "scale": {"max": 4}},
        ):
            response = gw.post(
                "/system/functions", json={"manifest": manifest, "image": manifest["image"]}
            )
            response.raise_for_status()
        network = stack.settings.function_network
        samples: dict[str, list[float]] = {
            k: [] for k in ("H1", "H1-B", "H2", "H2-B", "T1", "T1-B")
        }
        phases: list[dict[str, float]] = []
        direct = httpx.Client(timeout=30, trust_env=False)
        gw.get("/function/echo/")  # warm-up: the network exists, the image is in page cache
        docker_run(task_image)
        faas_task(gw, [])
        load = os.getloadavg()
        for order in interleave(["H1", "H1-B", "H2", "H2-B", "T1", "T1-B"], args.rounds):
            for series in order:
                if series == "H1":
                    samples[series] += [faas_cold(gw, client) for _ in range(args.cold)]
                elif series == "H1-B":
                    samples[series] += [
                        sdk_cold(client, http_image, network) for _ in range(args.cold)
                    ]
                elif series == "H2":
                    gw.get("/function/echo/")  # a running container (after H1's drains)
                    samples[series] += warm_series(gw, "/function/echo/", args.warm)
                elif series == "H2-B":
                    gw.get("/function/echo/")
                    address = gw.get("/system/function/echo").json()["instances"][0]["address"]
                    direct.get(f"http://{address}/")  # its connection is open before timing
                    samples[series] += warm_series(direct, f"http://{address}/", args.warm)
                elif series == "T1":
                    samples[series] += [faas_task(gw, phases) for _ in range(args.tasks)]
                else:
                    samples[series] += [
                        docker_run(task_image, args.hardened_run) for _ in range(args.tasks)
                    ]
        report(samples, phases, load, os.getloadavg(), args)
    finally:
        gw.delete("/system/function/echo")
        gw.delete("/system/function/vote")
        stack.stop()
        for container in client.containers.list(
            all=True, filters={"label": "faas.role=bench-baseline"}
        ):
            container.remove(force=True)
        for image in images:
            client.images.remove(image, force=True)
        shutil.rmtree(work, ignore_errors=True)


def report(
    samples: dict[str, list[float]],
    phases: list[dict[str, float]],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
    args: argparse.Namespace,
) -> None:
    s = {name: summarize([v * 1e3 for v in values]) for name, values in samples.items()}

    def row(name: str, summary: Summary) -> str:
        return (
            f"  {name:5} n={summary.n:4}  p50 {summary.p50:8.3f}  "
            f"p95 {summary.p95:8.3f}  p99 {summary.p99:8.3f} ms"
        )

    print(
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min); "
        f"{os.cpu_count()} CPUs"
    )
    for name in s:
        print(row(name, s[name]))
    h1 = s["H1"].p50 - s["H1-B"].p50
    h2 = (s["H2"].p50 - s["H2-B"].p50) * 1e3
    t1 = s["T1"].p50 / s["T1-B"].p50
    print(f"H1 cold: faas p50 - SDK p50 = {h1:+.1f} ms (target <= +15 ms)")
    print(f"H2 warm: faas p50 - direct p50 = {h2:+.0f} us (target <= +300 us)")
    what = "docker run --rm with faas's limits" if args.hardened_run else "docker run --rm"
    print(f"T1 task: faas p50 / {what} p50 = {t1:.2f}x (target <= 0.9x)")
    create = sorted(p.get("create", 0.0) for p in phases)
    if create:
        print(f"T1 create phase p50 {create[len(create) // 2]:.1f} ms of the task call")
    if args.out:
        out: dict[str, Any] = {name: asdict(summary) for name, summary in s.items()}
        out["derived"] = {"H1_ms": h1, "H2_us": h2, "T1_ratio": t1}
        out["load"] = {"before": load_before, "after": load_after}
        args.out.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

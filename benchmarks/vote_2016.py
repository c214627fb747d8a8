"""The 2016 design against the pool, recording the same votes.

Docker's 2016 serverless voting app recorded each vote by starting a container for it
(`client.run(image, [voter_id, vote], detach=True)`). Here that design runs the very same
record-vote image and handler once per vote in a fresh container (same network, same Redis),
and faas records the same number of votes through its async API (enqueue, pool, Redis), and
through synchronous calls. Both sides are measured in the same run, interleaved by rounds.

Needs the demo deployed (`faas demo`). Usage:

    python -m benchmarks.vote_2016 [--votes 100] [--rounds 3] [--parallel 4] [--out DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from faas import credentials, keys
from faas.client import ControlPlaneAuth
from faas.engines.base import ContainerConfig
from faas.engines.docker import DockerBackend
from faas.registry.access import platform_client
from faas.registry.bindings import binding_url
from faas.registry.store import Registry
from faas.settings import Settings
from faas_bench.stats import Summary, summarize

ONE_SHOT = (
    "import json, sys; sys.path[:0] = ['/opt/faas/function', '/opt/faas/deps']\n"
    "import handler\n"
    "class Event:\n"
    "    method = 'POST'; path = '/'; query = {}; headers = {}\n"
    "    body = sys.argv[1].encode()\n"
    "    def json(self): return json.loads(self.body)\n"
    "    def text(self): return self.body.decode()\n"
    "class Context:\n"
    "    function_name = 'record-vote'; call_id = 'one-shot'; cold = True\n"
    "    def remaining_ms(self): return 30000.0\n"
    "print(handler.handle(Event(), Context()))\n"
)


def vote_body(n: int) -> str:
    return json.dumps(
        {"voter_id": f"bench{n:05d}", "vote": "ab"[n % 2], "ts": time.time_ns() // 10**6}
    )


def docker_run_once(
    backend: DockerBackend, image: str, network: str, redis_url: str, body: str
) -> float:
    """The 2016 design: a fresh container records one vote (Docker SDK, as the original
    `client.run`); ms from create until it has exited. The container is removed after."""
    cfg = ContainerConfig(
        image=image,
        name=f"faas-bench-2016-{uuid.uuid4().hex[:12]}",
        labels={
            keys.LABEL_MANAGED: "true",
            keys.LABEL_ROLE: "bench",
            keys.LABEL_FUNCTION: "record-vote",
        },
        environment={"FAAS_REDIS_URL": redis_url},
        command=("python3", "-c", ONE_SHOT, body),
        memory=64 * 2**20,
        network=network,
    )
    t0 = time.perf_counter()
    container_id = backend.run_container(cfg)
    try:
        while (state := backend.state(container_id)).running:
            time.sleep(0.002)
        elapsed = (time.perf_counter() - t0) * 1e3
        if state.exit_code != 0:
            raise RuntimeError(b"".join(backend.logs(container_id)).decode()[-500:])
        return elapsed
    finally:
        backend.remove(container_id)


def async_once(client: httpx.Client, body: str) -> float:
    """faas: enqueue record-vote, follow it until it has run; ms from enqueue to done."""
    t0 = time.perf_counter()
    response = client.post("/async-function/record-vote", content=body,
                           headers={"Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
    response.raise_for_status()
    call_id = response.json()["call_id"]
    while True:
        record = client.get(f"/system/calls/{call_id}").json()
        if record.get("status") in ("succeeded", "failed", "dead"):
            assert record["status"] == "succeeded", record
            return (time.perf_counter() - t0) * 1e3
        time.sleep(0.002)


def sync_once(client: httpx.Client, body: str) -> float:
    t0 = time.perf_counter()
    client.post("/function/record-vote", content=body).raise_for_status()
    return (time.perf_counter() - t0) * 1e3


def run_batch(fn: Any, votes: int, parallel: int) -> tuple[list[float], float]:
    """`votes` recordings, `parallel` at a time; (latencies, votes per second)."""
    start = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        latencies = list(pool.map(fn, [vote_body(n) for n in range(votes)]))
    return latencies, votes / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    gateway = os.environ.get("FAAS_GATEWAY", "http://127.0.0.1:8080")
    password = credentials.find(Settings.from_env())  # what `faas up` created
    auth = ControlPlaneAuth(password, gateway) if password else None
    local = threading.local()

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=gateway, timeout=60, trust_env=False, auth=auth)
        return local.client  # type: ignore[no-any-return]

    image = client().get("/system/function/record-vote", timeout=10).json()["image"]
    backend = DockerBackend()
    network = os.environ.get("FAAS_FUNCTION_NETWORK", "faas")
    reachable = os.environ.get("FAAS_FUNCTION_REDIS_URL") or _function_redis_url(backend, network)
    redis_url = asyncio.run(_bound_url(reachable))
    designs = {
        "2016: a container per vote": lambda body: docker_run_once(
            backend, image, network, redis_url, body
        ),
        "faas: async call (queue + pool)": lambda body: async_once(client(), body),
        "faas: sync call (pool)": lambda body: sync_once(client(), body),
    }
    latencies: dict[str, list[float]] = {name: [] for name in designs}
    rates: dict[str, list[float]] = {name: [] for name in designs}
    names = list(designs)
    for round_ in range(args.rounds):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            lat, rate = run_batch(designs[name], args.votes, args.parallel)
            latencies[name] += lat
            rates[name].append(rate)
            print(f"round {round_ + 1}: {name}: {rate:,.1f} votes/s", flush=True)
    rows = []
    base = summarize(latencies[names[0]])
    for name in names:
        s: Summary = summarize(latencies[name])
        rate = sorted(rates[name])[len(rates[name]) // 2]
        rows.append({"design": name, "votes_per_s": rate, "p50_ms": s.p50, "p95_ms": s.p95,
                     "p99_ms": s.p99, "speedup_p50": base.p50 / s.p50})  # fmt: skip
    table = [
        "| design | votes/s (median of rounds) | p50 ms | p95 ms | p99 ms | p50 vs 2016 |",
        "|---|---|---|---|---|---|",
    ] + [
        f"| {r['design']} | {r['votes_per_s']:,.1f} | {r['p50_ms']:,.1f} | {r['p95_ms']:,.1f} "
        f"| {r['p99_ms']:,.1f} | "
        + ("baseline |" if r is rows[0] else f"{r['speedup_p50']:,.1f}x faster |")
        for r in rows
    ]
    print(f"\n{args.votes} votes x {args.rounds} rounds, {args.parallel} at a time\n")
    print("\n".join(table))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "vote_2016.json").write_text(json.dumps(rows, indent=2))
    (args.out / "vote_2016.md").write_text("\n".join(table) + "\n")


async def _bound_url(reachable: str) -> str:
    """record-vote's own Redis URL (its data binding's user), as its containers get it: the
    one-shot containers of the 2016 design use the same, never the platform's password."""
    client = platform_client(Settings.from_env())
    try:
        registry = Registry(client)
        record = await registry.get("record-vote")
        granted = await registry.bindings.grant(record.spec) if record else None
        if granted is None:
            raise SystemExit("record-vote is not deployed with a Redis binding: run `faas demo`")
        return binding_url(reachable, *granted)
    finally:
        await client.aclose()


def _function_redis_url(backend: DockerBackend, network: str) -> str:
    """Where containers on `network` reach the stack's Redis under `faas up`."""
    redis_url = os.environ.get("FAAS_REDIS_URL", "redis://127.0.0.1:16379/0")
    port = urlsplit(redis_url).port or 6379
    return f"redis://{backend.ensure_network(network)}:{port}/0"


if __name__ == "__main__":
    main()

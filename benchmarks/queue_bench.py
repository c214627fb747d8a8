"""Queue benchmark: Q1, Q2 and Q3 (the README's queue table), each against its baseline, same run.

    Q1  async enqueue (POST /async-function -> 202 after the XADD) at 32 connections (wrk)
        vs W2: sync warm calls of the same no-op function through the same gateway
    Q2  enqueue -> picked up by a consumer, one call at a time (from the call records: Redis
        TIME at XADD to the consumer's clock when XREADGROUP returned; same machine clock)
        vs a Redis PING round trip (raw socket)
    Q3  no-op async calls completed per second by one gateway process, queue preloaded
        vs arq and RQ doing no-op jobs (enqueued first, one burst worker; arq with a 10 ms
        poll delay, faster than its 0.5 s default; RQ's default forking Worker), installed as
        benchmark-only dependencies in their own venv

Rounds are interleaved (Q1/W2, Q2/PING, Q3/arq/RQ in every round, order rotated). Redis runs
as under `faas up` (appendonly, appendfsync everysec). Needs Docker, redis-server, wrk and a
base image (FAAS_BASE_IMAGE).

    python benchmarks/queue_bench.py [--rounds 3] [--baseline-python /path/to/venv/bin/python]

The baseline venv: `python -m venv /tmp/faas-baselines && /tmp/faas-baselines/bin/pip install
'.[bench-queue]'` (arq pins redis<6, so it stays out of the project's own venv).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import redis

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from faas import keys  # noqa: E402
from faas.build.images import build_function_image  # noqa: E402
from faas.client import GatewayClient  # noqa: E402
from faas.engines.docker import DockerBackend  # noqa: E402
from faas.manifest.spec import load_manifest  # noqa: E402
from faas.queue.records import Message  # noqa: E402
from faas.settings import DEFAULT_BASE_IMAGE, Settings  # noqa: E402
from faas_bench.local import free_port, healthy, start_redis, stop, wait  # noqa: E402

NOOP = REPO / "benchmarks" / "functions" / "noop"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


class Stack:
    """redis-server (as under `faas up`) and gateway processes."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.redis_port = free_port()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.sockets = Path(tempfile.mkdtemp(prefix="faas-qb-", dir="/tmp"))

    def start_redis(self) -> None:
        options = ("--appendonly", "yes", "--appendfsync", "everysec")
        self.procs.append(start_redis(self.redis_port, self.work, *options))

    def gateway(self, **env: str) -> str:
        port = free_port()
        log = open(self.work / f"gateway-{port}.log", "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway"],
            cwd=REPO,
            env={
                **os.environ,
                "FAAS_PORT": str(port),
                "FAAS_BIND": "127.0.0.1",
                "FAAS_REDIS_URL": self.redis_url,
                "FAAS_HOME": str(self.work),
                "FAAS_SOCKET_DIR": str(self.sockets),
                "FAAS_LOG_LEVEL": "warning",
                **env,
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        wait(lambda: healthy(url), 30, "the gateway")
        return url

    def stop(self) -> None:
        stop(self.procs, self.sockets)


def wrk(url: str, seconds: int, post: bool) -> dict[str, float]:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text('wrk.method = "POST"\nwrk.body = "{}"\n' if post else "")
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    script.unlink()
    result = {"rps": float(out.split("Requests/sec:")[1].split()[0])}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("50%", "99%"):
            value = parts[1]
            scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
            unit = next(u for u in ("us", "ms", "s") if value.endswith(u))
            result["p" + parts[0][:-1]] = float(value[: -len(unit)]) * scale[unit]
    errors = [line for line in out.splitlines() if "Non-2xx" in line or "Socket errors" in line]
    if errors:
        result["errors"] = 1.0
        print("   wrk:", "; ".join(errors))
    return result


def ping_rtts(port: int, n: int = 2000) -> list[float]:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            sock.sendall(b"PING\r\n")
            sock.recv(16)
            out.append((time.perf_counter() - t0) * 1e3)
    return out


def pickups(url: str, db: redis.Redis, n: int = 300) -> list[float]:
    """Enqueue one call at a time; ms from its XADD to a consumer's XREADGROUP return."""
    ids = []
    with httpx.Client(base_url=url, trust_env=False) as http:
        for _ in range(n):
            ids.append(http.post("/async-function/noop", content=b"{}").json()["call_id"])
            time.sleep(0.005)  # low load: one call in the system at a time
    wait(lambda: db.xlen(keys.CALLS) == 0, 30, "the calls to be picked up")
    out = []
    for call_id in ids:
        wait(lambda cid=call_id: db.hget(keys.call_record(cid), "picked_at"), 10, "a record")
        created, picked = db.hmget(keys.call_record(call_id), "created", "picked_at")
        out.append((float(picked) - float(created)) * 1e3)  # type: ignore[arg-type]
    return out


def consume_rate(db: redis.Redis, n: int) -> float:
    """Preload n no-op calls in one pipeline; calls completed per second by the consumer."""
    ids = [str(uuid.uuid4()) for _ in range(n)]
    pipe = db.pipeline(transaction=False)
    now = repr(time.time())
    for call_id in ids:
        fields = Message(call_id=call_id, function="noop", body=b"{}").fields(with_created=False)
        pipe.xadd(keys.CALLS, {**fields, "c": now})
        pipe.hset(keys.call_record(call_id), mapping={"status": "queued", "function": "noop"})
    pipe.execute()

    def done() -> bool:
        return db.xlen(keys.CALLS) == 0 and not db.xpending(keys.CALLS, keys.CALLS_GROUP)["pending"]

    wait(done, 300, "the preloaded calls")
    pipe = db.pipeline(transaction=False)
    for call_id in ids:
        pipe.hmget(keys.call_record(call_id), "status", "picked_at", "finished_at")
    rows = pipe.execute()
    bad = sum(status != b"succeeded" for status, _, _ in rows)
    if bad:
        print(f"   {bad} of {n} calls did not succeed")
    first = min(float(p) for _, p, _ in rows)
    last = max(float(f) for _, _, f in rows)
    return n / (last - first)


BASELINE = textwrap.dedent(
    """
    import asyncio, sys, time
    kind, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])

    async def noop(ctx):
        return None

    if kind == "arq":
        from arq import Worker, create_pool
        from arq.connections import RedisSettings

        async def main():
            settings = RedisSettings.from_dsn(url)
            pool = await create_pool(settings)
            await pool.flushdb()
            for _ in range(n):
                await pool.enqueue_job("noop")
            worker = Worker(functions=[noop], redis_settings=settings, burst=True,
                            poll_delay=0.01, handle_signals=False)
            t0 = time.perf_counter()
            await worker.main()
            took = time.perf_counter() - t0
            await worker.close()
            print(n / took)

        asyncio.run(main())
    else:
        import redis
        from rq import Queue, Worker
        conn = redis.Redis.from_url(url)
        conn.flushdb()
        queue = Queue("bench", connection=conn)
        for _ in range(n):
            queue.enqueue("rq_jobs.noop")
        worker = Worker([queue], connection=conn)
        t0 = time.perf_counter()
        worker.work(burst=True, logging_level="WARNING")
        print(n / (time.perf_counter() - t0))
    """
)


def baseline(python: str, kind: str, url: str, n: int, work: Path) -> float:
    (work / "rq_jobs.py").write_text("def noop():\n    return None\n")
    script = work / "baseline.py"
    script.write_text(BASELINE)
    out = subprocess.run(
        [python, str(script), kind, url, str(n)],
        capture_output=True,
        text=True,
        cwd=work,
        env={**os.environ, "PYTHONPATH": str(work)},
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{kind} baseline failed:\n{out.stderr[-2000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def deploy(url: str, home: Path, base_image: str) -> None:
    """Register the no-op function with the credentials the gateways created in `home`."""
    spec = load_manifest(NOOP)
    built = build_function_image(DockerBackend(), NOOP, spec.name, base_image=base_image)
    with GatewayClient(url, settings=Settings(home=home)) as client:
        client.register(spec.to_manifest(), built.tag, built.code_hash)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per series")
    parser.add_argument("--calls", type=int, default=20_000, help="Q3 preloaded calls")
    parser.add_argument("--baseline-python", default="/tmp/faas-baselines/bin/python")
    parser.add_argument("--arq-jobs", type=int, default=3000)
    parser.add_argument("--rq-jobs", type=int, default=600)
    parser.add_argument("--json", type=Path, help="write the raw figures here")
    args = parser.parse_args()
    base_image = os.environ.get("FAAS_BASE_IMAGE") or DEFAULT_BASE_IMAGE

    work = Path(tempfile.mkdtemp(prefix="faas-queue-bench-"))
    stack = Stack(work)
    figures: dict[str, list[Any]] = {k: [] for k in ("w2", "q1", "q2", "ping", "q3", "arq", "rq")}
    try:
        stack.start_redis()
        db = redis.Redis(port=stack.redis_port)
        front = stack.gateway(FAAS_ASYNC_WORKERS="0")  # W2 and Q1: no consumer competing
        deploy(front, work, base_image)
        consumer = stack.gateway()
        for _ in range(20):
            httpx.post(front + "/function/noop", trust_env=False)
        baseline_url = f"redis://127.0.0.1:{stack.redis_port}"
        for round_no in range(args.rounds):
            print(f"round {round_no + 1}/{args.rounds}")
            series = ["w2", "q1", "q2", "q3", "arq", "rq"]
            shift = round_no % len(series)
            for name in series[shift:] + series[:shift]:
                if name == "w2":
                    figures["w2"].append(wrk(front + "/function/noop", args.seconds, True))
                elif name == "q1":
                    figures["q1"].append(wrk(front + "/async-function/noop", args.seconds, True))
                    wait(lambda: db.xlen(keys.CALLS) == 0, 300, "Q1's calls to drain")
                elif name == "q2":
                    figures["q2"] += pickups(front, db)
                    figures["ping"] += ping_rtts(stack.redis_port)
                elif name == "q3":
                    figures["q3"].append(consume_rate(db, args.calls))
                elif name == "arq":
                    figures["arq"].append(
                        baseline(
                            args.baseline_python, "arq", baseline_url + "/1", args.arq_jobs, work
                        )
                    )
                else:
                    figures["rq"].append(
                        baseline(
                            args.baseline_python, "rq", baseline_url + "/2", args.rq_jobs, work
                        )
                    )
        del consumer
    finally:
        stack.stop()
    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures))
    shutil.rmtree(work, ignore_errors=True)


def report(f: dict[str, list[Any]]) -> None:
    med = statistics.median
    w2 = med(r["rps"] for r in f["w2"])
    q1 = med(r["rps"] for r in f["q1"])
    q1_p99 = med(r["p99"] for r in f["q1"])
    q2, ping = f["q2"], f["ping"]
    q3, arq, rq = med(f["q3"]), med(f["arq"]), med(f["rq"])
    rows = [
        ("Q1", f"enqueue {q1:,.0f} req/s (p50 {med(r['p50'] for r in f['q1']):.2f} ms, "
               f"p99 {q1_p99:.2f} ms)",
         f"W2 sync warm {w2:,.0f} req/s", f"{q1 / w2:.2f}x (target >= 0.8x, p99 <= 10 ms)"),
        ("Q2", f"pickup p50 {pct(q2, 50):.3f} ms, p95 {pct(q2, 95):.3f}, p99 {pct(q2, 99):.3f}",
         f"PING p50 {pct(ping, 50):.3f} ms, p99 {pct(ping, 99):.3f}",
         "target p50 <= 0.5 ms, p99 <= 2 ms"),
        ("Q3", f"{q3:,.0f} calls/s (rounds: {', '.join(f'{x:,.0f}' for x in f['q3'])})",
         f"arq {arq:,.0f} jobs/s, RQ {rq:,.0f} jobs/s",
         f"{q3 / arq:.1f}x arq (>= 20x), {q3 / rq:.1f}x RQ (>= 60x)"),
    ]  # fmt: skip
    print("\n| id | faas | baseline (same run) | ratio / target |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    w2_p50, w2_p99 = med(r["p50"] for r in f["w2"]), med(r["p99"] for r in f["w2"])
    print(f"\nW2 p50 {w2_p50:.2f} ms, p99 {w2_p99:.2f} ms; {len(f['q1'])} rounds; Q2 n={len(q2)}")


if __name__ == "__main__":
    main()

"""Fixed-connection load: `wrk` when installed (C, one thread), else Python threads.

wrk is the load generator the perf anchors used, so the ratios stay comparable with them; a
small Lua script makes it send the benchmark's payload and print its latency distribution as
one JSON line. Both generators give the same `LoadRun`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from faas.contracts.transport import Address
from faas_bench.results import LoadRun
from faas_bench.stats import mean, percentile, stdev
from faas_bench.wire import Connection, WireError

MARKER = "FAAS_BENCH_WRK "
PERCENTILES = (50.0, 75.0, 90.0, 95.0, 99.0, 99.9)

_LUA = """\
wrk.method = "{method}"
local f = io.open("{body}", "rb")
wrk.body = f:read("*a")
f:close()
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{marker}{{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"mean_us":%f,"stdev_us":%f,"min_us":%d,"max_us":%d',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency.min, latency.max))
  for _, p in ipairs({{{percentiles}}}) do
    io.write(string.format(',"p%s_us":%d', tostring(p), latency:percentile(p)))
  end
  io.write("}}\\n")
end
"""


def wrk_path() -> str | None:
    return shutil.which("wrk")


def wrk_script(method: str, body_file: Path, headers: dict[str, str]) -> str:
    lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items())
    return _LUA.format(
        method=method,
        body=str(body_file),
        headers=lines,
        marker=MARKER,
        percentiles=", ".join(f"{p:g}" for p in PERCENTILES),
    )


def parse_wrk(output: str) -> LoadRun:
    """The LoadRun from wrk's output with our script's JSON line; ValueError without it."""
    for line in output.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER) :])
            break
    else:
        raise ValueError(f"wrk printed no result line:\n{output[-2000:]}")
    latency = {
        "mean": data["mean_us"] / 1e3,
        "stdev": data["stdev_us"] / 1e3,
        "min": data["min_us"] / 1e3,
        "max": data["max_us"] / 1e3,
    }
    for p in PERCENTILES:
        key = f"p{p:g}"
        # Lua's tostring(50.0) is "50.0" in Lua 5.3, "50" in LuaJIT: accept both.
        raw = data.get(f"p{p:g}_us", data.get(f"p{p}_us"))
        if raw is not None:
            latency[key] = raw / 1e3
    errors = data["connect"] + data["read"] + data["write"] + data["timeout"]
    return LoadRun(
        requests=int(data["requests"]),
        seconds=data["duration_us"] / 1e6,
        errors=int(errors),
        non_2xx=int(data["status"]),
        latency_ms=latency,
    )


def run_wrk(
    url: str,
    *,
    connections: int,
    seconds: float,
    method: str = "GET",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    threads: int = 1,
) -> LoadRun:
    exe = wrk_path()
    if exe is None:
        raise FileNotFoundError("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory(prefix="faas-wrk-") as tmp:
        body_file = Path(tmp) / "body"
        body_file.write_bytes(body)
        script = Path(tmp) / "bench.lua"
        script.write_text(wrk_script(method, body_file, headers or {}))
        argv = [
            exe,
            f"-t{max(1, min(threads, connections))}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            url,
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return parse_wrk(done.stdout)


# -- Python fallback ---------------------------------------------------------------------------


def run_python(address: Address, request: bytes, *, connections: int, seconds: float) -> LoadRun:
    """`connections` threads, each sending back to back on its own keep-alive connection (the
    benchmark's one HTTP client, `wire`). Slower than wrk; the report names the tool."""
    latencies: list[list[float]] = [[] for _ in range(connections)]
    failures = [[0, 0] for _ in range(connections)]  # per thread: broken connection, non-2xx
    stop = time.monotonic() + seconds

    def send(index: int) -> None:
        with Connection(address) as conn:
            try:
                while time.monotonic() < stop:
                    reply = conn.exchange(request)
                    latencies[index].append(reply.elapsed_ms)
                    failures[index][1] += not 200 <= reply.status < 400
            except WireError:
                failures[index][0] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=send, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    samples = [value for values in latencies for value in values]
    stats: dict[str, float] = {}
    if samples:
        stats = {"mean": mean(samples), "stdev": stdev(samples)}
        stats["min"], stats["max"] = min(samples), max(samples)
        for p in PERCENTILES:
            stats[f"p{p:g}"] = percentile(samples, p)
    return LoadRun(
        requests=len(samples),
        seconds=elapsed,
        errors=sum(f[0] for f in failures),
        non_2xx=sum(f[1] for f in failures),
        latency_ms=stats,
    )

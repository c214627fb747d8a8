"""`faas dev`: how long from saving an edit to the gateway serving it, against the same edit
put into service by `faas deploy` (an image build and a registration), in the same run.

D1  edit -> served under `faas dev` (code pushed to a generic runtime)     target: p50 < 1 s
D1-B  edit -> served by `faas deploy PATH` of the same folder (the baseline)

An edit is a new handler.py written in place; "served" is the first call (polled every 5 ms)
that answers with the new text. Between edits the script waits until the gateway holds a spare
generic runtime again, as it does when a developer pauses between saves (a save right after the
previous one is served by a generic container started for it: a cold start, reported apart).
The script starts its own redis-server and gateway (FAAS_HOME in a temp folder) and removes
what it made.

    python benchmarks/dev_bench.py [--edits 10] [--deploys 3] [--out F]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import redis

from faas import credentials
from faas.client import ControlPlaneAuth
from faas.settings import Settings
from faas_bench.local import free_port, wait
from faas_bench.stats import summarize

REPO = Path(__file__).resolve().parent.parent
HANDLER = 'def handle(event, context):\n    return "{word}"\n'


class Stack:
    """A redis-server and one gateway with generic runtimes on, of the script's own."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.redis_port, self.port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sockets = Path(tempfile.mkdtemp(prefix="faas-db-", dir="/tmp"))
        self.procs: list[subprocess.Popen[bytes]] = []
        self.env = {
            **os.environ,
            "FAAS_PORT": str(self.port),
            "FAAS_BIND": "127.0.0.1",
            "FAAS_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "FAAS_HOME": str(work),
            "FAAS_SOCKET_DIR": str(self.sockets),
            "FAAS_GATEWAY": self.url,
            "FAAS_GENERIC_POOL": "1",
            "FAAS_LOG_LEVEL": "warning",
        }

    def start(self) -> httpx.Client:
        exe = shutil.which("redis-server") or "redis-server"
        self.procs.append(
            subprocess.Popen(
                [exe, "--port", str(self.redis_port), "--bind", "127.0.0.1",
                 "--save", "", "--dir", str(self.work)],
                stdout=subprocess.DEVNULL,
            )
        )  # fmt: skip
        wait(lambda: _pings(redis.Redis(port=self.redis_port)), 10, "redis")
        log = open(self.work / "gateway.log", "ab")  # noqa: SIM115
        self.procs.append(
            subprocess.Popen([sys.executable, "-m", "gateway"], cwd=REPO, env=self.env,
                             stdout=log, stderr=log)
        )  # fmt: skip
        wait(lambda: _healthy(self.url), 30, "the gateway")
        auth = ControlPlaneAuth(credentials.ensure(Settings(home=self.work)), self.url)
        return httpx.Client(base_url=self.url, auth=auth, timeout=60, trust_env=False)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            proc.wait(60)
        shutil.rmtree(self.sockets, ignore_errors=True)


def _pings(db: redis.Redis) -> bool:
    try:
        return bool(db.ping())
    except redis.ConnectionError:
        return False


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", trust_env=False).status_code == 200
    except httpx.TransportError:
        return False


def served_after(
    gw: httpx.Client,
    folder: Path,
    word: str,
    then: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> float:
    """Write the edit, run `then` (a command) if given, and time until a call answers `word`."""
    (folder / "handler.py").write_text(HANDLER.format(word=word))
    t0 = time.perf_counter()
    if then is not None:
        subprocess.run(then, cwd=REPO, env=env, check=True, capture_output=True)
    deadline = t0 + 120
    while time.perf_counter() < deadline:
        if gw.post("/function/devbench").text == word:
            return time.perf_counter() - t0
        time.sleep(0.005)
    raise SystemExit(f"edit {word!r} not served within 120 s")


def spare_ready(gw: httpx.Client) -> bool:
    generic = gw.get("/system/function/devbench").json().get("generic") or {}
    return int(generic.get("spares", 0)) > 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=10, help="D1 samples")
    parser.add_argument("--deploys", type=int, default=3, help="D1-B samples (image builds)")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="faas-dev-bench-"))
    folder = work / "devbench"
    folder.mkdir()
    (folder / "faas.yaml").write_text("name: devbench\nmemory: 64Mi\n")
    (folder / "handler.py").write_text(HANDLER.format(word="start"))
    stack = Stack(work)
    gw = stack.start()
    faas = [sys.executable, "-m", "faas"]
    load_before = os.getloadavg()
    samples: dict[str, list[float]] = {"D1": [], "D1-B": [], "D1-no-spare": []}
    try:
        # The baseline first: `faas deploy` of each edit (the folder is not watched yet).
        for i in range(args.deploys):
            deploy = [*faas, "deploy", "-q", str(folder)]
            samples["D1-B"].append(served_after(gw, folder, f"deployed {i}", deploy, stack.env))
        dev = subprocess.Popen(
            [*faas, "dev", str(folder)], cwd=REPO, env=stack.env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        printed: list[str] = []
        assert dev.stdout is not None
        reader = threading.Thread(target=lambda: printed.extend(dev.stdout or ()), daemon=True)
        reader.start()
        try:
            wait(lambda: any("watching" in line for line in printed), 300, "faas dev to start")
            for i in range(args.edits):
                wait(lambda: spare_ready(gw), 60, "a spare generic runtime")
                samples["D1"].append(served_after(gw, folder, f"edit {i}"))
            samples["D1-no-spare"].append(served_after(gw, folder, "right after"))
        finally:
            dev.send_signal(signal.SIGINT)
            dev.wait(120)
        load_after = os.getloadavg()
        report(samples, load_before, load_after, args.out)
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)


def report(
    samples: dict[str, list[float]],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
    out: Path | None,
) -> None:
    print(
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min); "
        f"{os.cpu_count()} CPUs"
    )
    figures = {}
    for name, values in samples.items():
        s = summarize([v * 1e3 for v in values])
        figures[name] = {"n": s.n, "p50_ms": s.p50, "p95_ms": s.p95}
        print(f"  {name:12} n={s.n:3}  p50 {s.p50:9.1f}  p95 {s.p95:9.1f} ms")
    d1, base = figures["D1"]["p50_ms"], figures["D1-B"]["p50_ms"]
    verdict = "PASS" if d1 < 1000 else "FAIL"
    print(f"D1 edit -> served: faas dev p50 {d1:.0f} ms (goal < 1000 ms) {verdict}; "
          f"`faas deploy` p50 {base:.0f} ms ({base / d1:.0f}x)")  # fmt: skip
    if out is not None:
        out.write_text(json.dumps({"figures": figures, "samples": samples}, indent=2))


if __name__ == "__main__":
    main()

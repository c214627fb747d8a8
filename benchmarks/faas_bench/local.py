"""For benchmark scripts that start services of their own: a free loopback port, a bounded
wait for a condition (a script gives up with its reason instead of hanging), a redis-server of
their own, whether a gateway is healthy, and stopping what they started."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Poll `condition` until it is true; exit the script naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise SystemExit(f"timed out waiting for {what}")


def start_redis(port: int, work: Path, *options: str) -> subprocess.Popen[bytes]:
    """A redis-server on 127.0.0.1:`port` keeping its files in `work`, once it answers."""
    server = shutil.which("redis-server") or "redis-server"
    argv = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", *options]
    proc = subprocess.Popen([*argv, "--dir", str(work)], stdout=subprocess.DEVNULL)
    db = redis.Redis(port=port)
    wait(lambda: _pings(db), 10, "redis")
    return proc


def healthy(url: str) -> bool:
    """Whether the gateway at `url` says it is healthy."""
    try:
        return httpx.get(url + "/healthz", trust_env=False).status_code == 200
    except httpx.TransportError:
        return False


def stop(procs: list[subprocess.Popen[bytes]], sockets: Path) -> None:
    """Stop the processes, last started first, and remove their socket folder."""
    for proc in reversed(procs):
        proc.terminate()
        proc.wait(60)
    shutil.rmtree(sockets, ignore_errors=True)


def _pings(db: redis.Redis) -> bool:
    try:
        return bool(db.ping())
    except redis.ConnectionError:
        return False

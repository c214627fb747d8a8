"""For benchmark scripts that start services of their own: a free loopback port, and a bounded
wait for a condition (a script gives up with its reason instead of hanging)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable


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

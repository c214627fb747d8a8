"""A Redis restart costs no failed call: the gateway's pooled connections to the old process
are broken, and the first command on each is retried on a new connection (issue 11, item 7)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from tests.conftest import FIXTURES, Gateway, wait_until
from tests.integration.test_queue import Deploy
from tests.integration.test_queue_reliability import AofRedis, aof_redis

__all__ = ["aof_redis"]  # the fixture, re-used


def test_calls_right_after_a_redis_restart_get_no_503(
    aof_redis: AofRedis, deploy: Deploy, docker_backend: object, tmp_path: Path
) -> None:
    sockets = Path(tempfile.mkdtemp(prefix="faas-", dir="/tmp"))
    gateway = Gateway(aof_redis.url, tmp_path, sockets, {}).start()
    try:
        deploy(gateway, FIXTURES / "echo")
        # Several pooled connections, all to the Redis that is about to go.
        first = [gateway.http.post("/async-function/echo", content=b"x") for _ in range(5)]
        assert all(r.status_code == 202 for r in first)
        aof_redis.stop()
        aof_redis.start()  # same port, same append-only data
        after = [gateway.http.post("/async-function/echo", content=b"y") for _ in range(20)]
        assert [r.status_code for r in after] == [202] * 20, [r.text for r in after]
        for response in first + after:
            call_id = response.json()["call_id"]
            wait_until(
                lambda c=call_id: (
                    gateway.http.get(f"/system/calls/{c}").json()["status"] == "succeeded"
                ),
                60,
                0.1,
            )
        assert gateway.http.get("/healthz").status_code == 200
        assert gateway.http.get("/system/functions").status_code == 200
    finally:
        gateway.stop()
        gateway.http.close()
        shutil.rmtree(sockets, ignore_errors=True)

"""Nothing lost: gateways killed mid-call or between enqueue and reply, Redis restarted, and
10,000 calls over two gateways, with real processes, Docker and Redis."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from faas import keys
from faas.engines.docker import DockerBackend
from tests.conftest import FIXTURES, Gateway, RedisServer, wait_until
from tests.integration.test_queue import Deploy, call, db, finished, queue, settled

__all__ = ["db"]  # the fixture, re-used

SLOW = FIXTURES / "slow"
NOOP = FIXTURES / "noop"
QUICK_TAKEOVER = {"FAAS_ASYNC_VISIBILITY_TIMEOUT": "2s"}


def gateway_id(gateway: Gateway) -> str:
    return str(gateway.http.get("/healthz").json()["gateway"])


def test_a_gateway_killed_mid_call_leaves_the_call_to_another_which_completes_it_once(
    make_gateway: Callable[..., Gateway], deploy: Deploy, db: redis.Redis
) -> None:
    first, second = make_gateway(**QUICK_TAKEOVER), make_gateway(**QUICK_TAKEOVER)
    deploy(first, SLOW)
    by_id = {gateway_id(first): first, gateway_id(second): second}
    call_id = queue(first, "slow", params={"s": "3"})
    wait_until(lambda: call(first, call_id)["status"] == "running", 30)
    running_on = by_id[call(first, call_id)["gateway"]]
    survivor = second if running_on is first else first
    killed = call(first, call_id)["gateway"]
    running_on.stop(signal.SIGKILL)

    record = finished(survivor, call_id, timeout=40)
    assert record["status"] == "succeeded"
    assert record["gateway"] == gateway_id(survivor)
    assert record["executions"] == 2  # started on the killed gateway, run again on the other
    raw = db.hgetall(keys.call_record(call_id))
    assert raw[b"completions"] == b"1"  # completed once
    settled(db)
    # The killed gateway's container: the survivor reclaims it after the heartbeat TTL
    # (tested in test_calls); remove it now rather than wait.
    backend = DockerBackend()
    for container in backend.list_managed({keys.LABEL_GATEWAY: killed}):
        backend.remove(container.id)


def test_a_stopping_gateway_hands_unfinished_calls_back_at_once(
    make_gateway: Callable[..., Gateway], deploy: Deploy, db: redis.Redis
) -> None:
    # The visibility timeout stays at 30 s: only the hand-back makes the take-over this quick.
    first, second = (make_gateway(FAAS_ASYNC_SHUTDOWN_GRACE="200ms") for _ in range(2))
    deploy(first, SLOW)
    by_id = {gateway_id(first): first, gateway_id(second): second}
    call_id = queue(first, "slow", params={"s": "3"})
    wait_until(lambda: call(first, call_id)["status"] == "running", 30)
    running_on = by_id[call(first, call_id)["gateway"]]
    survivor = second if running_on is first else first
    running_on.stop()  # graceful: the call cannot finish within the grace period

    record = finished(survivor, call_id, timeout=15)
    assert (record["status"], record["executions"]) == ("succeeded", 2)
    assert record["gateway"] == gateway_id(survivor)
    settled(db)


def test_a_client_retrying_after_a_gateway_died_before_replying_gets_one_execution(
    make_gateway: Callable[..., Gateway], deploy: Deploy, db: redis.Redis
) -> None:
    front = make_gateway(FAAS_ASYNC_WORKERS="0")
    deploy(front, NOOP)
    body = b'{"order": 42}'
    request = (
        b"POST /async-function/noop HTTP/1.1\r\nHost: x\r\nIdempotency-Key: order-42\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    with socket.create_connection(("127.0.0.1", front.port)) as sock:
        sock.sendall(request)
        wait_until(lambda: db.xlen(keys.CALLS) == 1, 10)  # enqueued...
        front.stop(signal.SIGKILL)  # ...and the gateway dies before the client reads a reply

    consumer = make_gateway()
    retry = consumer.http.post(
        "/async-function/noop", content=body, headers={"Idempotency-Key": "order-42"}
    )
    assert retry.status_code == 202
    assert retry.headers["idempotent-replayed"] == "true"
    record = finished(consumer, retry.json()["call_id"])
    assert (record["status"], record["executions"]) == ("succeeded", 1)
    assert db.xinfo_stream(keys.CALLS)["entries-added"] == 1
    settled(db)


class AofRedis(RedisServer):
    """A Redis of its own, appendonly with fsync on every write, that can be killed."""

    def start(self) -> None:
        exe = shutil.which("redis-server")
        assert exe is not None
        self.process = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--requirepass", self.password,
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(self.answers, 10)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def aof_redis(redis_server: RedisServer, tmp_path: Path) -> Iterator[AofRedis]:
    server = AofRedis(tmp_path / "aof")
    server.workdir.mkdir()
    server.start()
    yield server
    server.stop()


def test_redis_killed_and_restarted_with_aof_loses_nothing(
    aof_redis: AofRedis, deploy: Deploy, docker_backend: object, tmp_path: Path
) -> None:
    sockets = Path(tempfile.mkdtemp(prefix="faas-", dir="/tmp"))
    gateway = Gateway(aof_redis.url, tmp_path, sockets, {"FAAS_ASYNC_RETRY_BASE": "50ms"}).start()

    def retrying(method: str, url: str, **kwargs: Any) -> httpx.Response:
        """A client that honours 503 + Retry-After (shortened here), as the API asks."""
        for _ in range(5):
            response = gateway.http.request(method, url, **kwargs)
            if response.status_code != 503:
                return response
            assert response.headers["retry-after"]
            time.sleep(0.1)
        return response

    def submit(n: int) -> str:
        key = {"Idempotency-Key": f"call-{n}"}  # a retried POST is queued once
        response = retrying("POST", "/async-function/slow?s=0.05", headers=key)
        assert response.status_code == 202, response.text
        return str(response.json()["call_id"])

    try:
        deploy(gateway, SLOW)
        accepted = [submit(n) for n in range(40)]
        aof_redis.kill()  # mid-stream: calls queued, running and finished
        refused = gateway.http.post("/async-function/slow")
        assert refused.status_code == 503
        assert refused.headers["retry-after"]
        assert refused.json()["error"]["code"] == "redis_unavailable"
        aof_redis.start()
        accepted += [submit(n) for n in range(40, 50)]

        def status(call_id: str) -> str:
            response = retrying("GET", f"/system/calls/{call_id}")
            assert response.status_code == 200, response.text
            return str(response.json()["status"])

        for call_id in accepted:
            wait_until(lambda call_id=call_id: status(call_id) == "succeeded", 60, 0.1)  # type: ignore[misc]
        client = redis.Redis.from_url(aof_redis.url)
        settled(client)
        client.close()
    finally:
        gateway.stop()
        gateway.http.close()
        shutil.rmtree(sockets, ignore_errors=True)


def test_ten_thousand_async_calls_over_two_gateways_are_all_accounted_for(
    make_gateway: Callable[..., Gateway], deploy: Deploy, db: redis.Redis
) -> None:
    gateways = [make_gateway(), make_gateway()]
    deploy(gateways[0], NOOP)
    total = 10_000

    async def enqueue() -> list[str]:
        ids: list[str] = []

        async def connection(port: int, count: int) -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            request = (
                b"POST /async-function/noop HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
            )
            for _ in range(count):
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 202"), head
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                ids.append(json.loads(await reader.readexactly(length))["call_id"])
            writer.close()

        per = total // 64
        await asyncio.gather(
            *(connection(gateways[n % 2].port, per + (n < total % 64)) for n in range(64))
        )
        return ids

    ids = asyncio.run(enqueue())
    assert len(set(ids)) == total

    def statuses() -> list[bytes | None]:
        pipe = db.pipeline(transaction=False)
        for call_id in ids:
            pipe.hget(keys.call_record(call_id), "status")
        return list(pipe.execute())

    wait_until(lambda: statuses().count(b"succeeded") == total, 60, 0.5)
    pipe = db.pipeline(transaction=False)
    for call_id in ids:
        pipe.hmget(keys.call_record(call_id), "executions", "completions", "gateway")
    rows = pipe.execute()
    assert {(e, c) for e, c, _ in rows} == {(b"1", b"1")}  # each ran and completed once
    assert len({g for _, _, g in rows}) == 2  # both gateways consumed
    settled(db)
    assert db.xlen(keys.DEAD_LETTERS) == 0

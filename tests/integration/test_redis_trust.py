"""The platform's Redis belongs to the gateways (issue 11, items 3 and 7), on a real `faas up`
stack: a password in a 0600 file (never on a command line), protected mode, not root, memory
bounded; functions reach Redis only through a declared binding, as their own ACL user; the
stack's id outlives a Redis that lost its data, so its containers are still reclaimed."""

from __future__ import annotations

import os
import shutil
import signal
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from faas import keys
from faas.engines.docker import DockerBackend
from tests.conftest import FIXTURES, free_port, wait_until
from tests.integration.test_cli import faas

PROBE = FIXTURES / "redis-probe"
# What a bound function must not do: each refused, while its own keyspace works.
ATTACKS = [
    ["FLUSHALL"],
    ["CONFIG", "SET", "maxmemory", "1"],
    ["XADD", keys.CALLS, "*", "m", "{}"],
    ["GET", keys.FUNCTIONS],
    ["HGETALL", keys.FUNCTIONS],
    ["HGETALL", keys.BINDING_PASSWORDS],
    ["KEYS", "*"],
    ["SCAN", "0"],
    ["ACL", "LIST"],
    ["EVAL", "return redis.call('HGETALL', KEYS[1])", "1", keys.FUNCTIONS],
    ["EVAL", "return redis.call('DEL', 'faas:functions')", "0"],
]


class Stack:
    def __init__(self, home: Path, base_image: str) -> None:
        self.home = home
        self.port = free_port()
        self.redis_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            "FAAS_HOME": str(home),
            "FAAS_GATEWAY": self.url,
            "FAAS_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",  # loopback: faas runs it
            "FAAS_SOCKET_DIR": f"/tmp/faas-rt-{self.port}",
            "FAAS_BASE_IMAGE": base_image,
            "FAAS_GENERIC_POOL": "0",
        }
        self.password = ""

    def admin_redis(self) -> redis.Redis:
        return redis.Redis(port=self.redis_port, password=self.password)

    def http(self) -> httpx.Client:
        secret = (self.home / "admin-password").read_text().strip()
        return httpx.Client(base_url=self.url, auth=("admin", secret), timeout=60, trust_env=False)

    def call(self, name: str, **body: Any) -> Any:
        with self.http() as client:
            response = client.post(f"/function/{name}", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def containers(self) -> list[Any]:
        stack_id = (self.home / "stack-id").read_text().strip()
        return DockerBackend().list_managed({keys.LABEL_STACK: stack_id})


@pytest.fixture
def stack(tmp_path: Path, base_image: str, docker_backend: DockerBackend) -> Iterator[Stack]:
    running = Stack(tmp_path / "home", base_image)
    up = faas("up", env=running.env)
    assert up.returncode == 0, up.stdout + up.stderr
    running.password = (running.home / "redis-password").read_text().strip()
    try:
        yield running
    finally:
        down = faas("down", env=running.env)
        assert down.returncode == 0, down.stderr
        shutil.rmtree(running.env["FAAS_SOCKET_DIR"], ignore_errors=True)


def test_embedded_redis_has_a_password_protected_mode_bounded_memory_and_no_root(
    stack: Stack,
) -> None:
    secret_file = stack.home / "redis-password"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    pid = int((stack.home / "redis" / "redis.pid").read_text())
    assert stack.password.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
    uid = int(Path(f"/proc/{pid}/status").read_text().split("Uid:")[1].split()[0])
    assert uid != 0 or os.geteuid() != 0
    with redis.Redis(port=stack.redis_port) as anonymous, pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    with stack.admin_redis() as admin:
        config = admin.config_get("*")
    assert config["protected-mode"] == "yes"
    assert config["maxmemory"] == str(256 * 2**20) and config["maxmemory-policy"] == "noeviction"
    status = faas("status", env=stack.env)
    assert status.returncode == 0 and stack.password not in status.stdout + status.stderr
    log = (stack.home / "gateway.log").read_text()
    assert stack.password not in log


def test_functions_reach_redis_only_through_their_binding(stack: Stack, tmp_path: Path) -> None:
    unbound = tmp_path / "redis-open"
    shutil.copytree(PROBE, unbound)
    (unbound / "faas.yaml").write_text("name: redis-open\nnetwork: true\nmemory: 64Mi\n")
    for folder in (PROBE, unbound):
        deployed = faas("deploy", "-q", str(folder), env=stack.env)
        assert deployed.returncode == 0, deployed.stderr
    bridge = DockerBackend().ensure_network("faas")
    where = {"host": bridge, "port": stack.redis_port}

    # No binding: no credentials, so nothing at all (the address is no secret).
    tried = [["PING"], ["FLUSHALL"], ["GET", keys.FUNCTIONS], ["CONFIG", "GET", "*"]]
    refused = stack.call("redis-open", commands=tried, **where)
    assert refused["bound"] is False and refused["prefix"] is None
    assert all(str(reply).startswith("-NOAUTH") for reply in refused["replies"]), refused

    # Bound: its own keyspace, and nothing else.
    probe = stack.call(
        "redis-probe", commands=[["SET", "votes:x", "1"], *ATTACKS, ["GET", "votes:x"]]
    )
    assert probe["bound"] is True and probe["prefix"] == "votes:"
    replies = probe["replies"]
    assert replies[0] == "+OK" and replies[-1] == "1"
    for command, reply in zip(ATTACKS, replies[1:-1], strict=True):
        assert str(reply).startswith(("-NOPERM", "-ERR")), (command, reply)
    with stack.admin_redis() as admin:
        assert admin.hlen(keys.FUNCTIONS) == 2 and admin.xlen(keys.CALLS) == 0
        assert admin.config_get("maxmemory")["maxmemory"] == str(256 * 2**20)
        assert keys.binding_user("redis-probe") in admin.acl_users()
        # A Redis restart loses ACL users (no ACL file): the next container start restores it.
        admin.acl_deluser(keys.binding_user("redis-probe"))
    for container in stack.containers():
        if _named(container, "redis-probe"):
            DockerBackend().remove(container.id)  # the next call starts a new container
    again = stack.call("redis-probe", commands=[["GET", "votes:x"]])
    assert again["replies"] == ["1"]

    assert faas("remove", "redis-probe", env=stack.env).returncode == 0
    with stack.admin_redis() as admin:
        assert keys.binding_user("redis-probe") not in admin.acl_users()
        assert not admin.hexists(keys.BINDING_PASSWORDS, "redis-probe")


def test_containers_are_reclaimed_after_redis_loses_its_data(stack: Stack) -> None:
    deployed = faas("deploy", "-q", str(PROBE), env=stack.env)
    assert deployed.returncode == 0, deployed.stderr
    stack.call("redis-probe", commands=[["PING"]])
    assert stack.containers()
    with stack.admin_redis() as admin:
        admin.flushall()

    # The gateway notices (its heartbeat puts the stack id back), says so, and removes the
    # containers of functions that no longer exist.
    def unhealthy() -> bool:
        with stack.http() as client:
            health = client.get("/healthz")
        return health.status_code == 503 and "lost its data" in health.text

    wait_until(unhealthy, 30, 0.5)
    wait_until(lambda: not stack.containers(), 30, 0.5)
    with stack.admin_redis() as admin:
        assert admin.get(keys.STACK_ID).decode() == (stack.home / "stack-id").read_text().strip()

    # A gateway killed outright leaves its containers; Redis loses its data again; `faas down`
    # still knows the stack (FAAS_HOME/stack-id) and removes them.
    assert faas("deploy", "-q", str(PROBE), env=stack.env).returncode == 0
    with stack.http() as client:
        assert client.get("/healthz").status_code == 200  # a deploy clears the warning
        # the queue works again too (its consumer group is back)
        queued = client.post("/async-function/redis-probe", json={"commands": [["PING"]]})
        assert queued.status_code == 202, queued.text
        call = f"/system/calls/{queued.json()['call_id']}"
        wait_until(lambda: client.get(call).json().get("status") == "succeeded", 30, 0.2)
    stack.call("redis-probe", commands=[["PING"]])
    left = stack.containers()
    assert left
    os.kill(int((stack.home / "gateway.pid").read_text()), signal.SIGKILL)
    with stack.admin_redis() as admin:
        admin.flushall()
    down = faas("down", env=stack.env)
    assert down.returncode == 0, down.stderr
    assert not stack.containers()


def _named(container: Any, name: str) -> bool:
    return bool(container.labels.get(keys.LABEL_FUNCTION) == name)

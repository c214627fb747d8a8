"""The first run: `faas up` / `faas demo` check the base image before starting anything, a
failed start leaves nothing running, and `faas up` says when the environment changed."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.integration.test_cli import faas


@pytest.fixture
def stack_env(tmp_path: Path, base_image: str) -> Iterator[dict[str, str]]:
    """An isolated stack (own FAAS_HOME, ports, socket folder), taken down after the test."""
    port = free_port()
    env = {
        "FAAS_HOME": str(tmp_path / "home"),
        "FAAS_GATEWAY": f"http://127.0.0.1:{port}",
        "FAAS_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "FAAS_SOCKET_DIR": f"/tmp/faas-first-{port}",
        "FAAS_BASE_IMAGE": base_image,
    }
    yield env
    faas("down", env=env)


def nothing_runs(env: dict[str, str]) -> None:
    home = Path(env["FAAS_HOME"])
    assert not list(home.glob("gateway*.pid"))
    assert not (home / "redis" / "redis.pid").exists()
    redis_port = int(env["FAAS_REDIS_URL"].rsplit(":", 1)[1].split("/")[0])
    for port in (int(env["FAAS_GATEWAY"].rsplit(":", 1)[1]), redis_port):
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            pass


@pytest.mark.parametrize("command", ["up", "demo"])
def test_a_missing_base_image_stops_before_anything_starts(
    stack_env: dict[str, str], command: str
) -> None:
    env = {**stack_env, "FAAS_BASE_IMAGE": "faas-test/no-such-base:missing"}
    result = faas(command, env=env)
    assert result.returncode == 1
    assert "faas-test/no-such-base:missing" in result.stderr
    assert f"export FAAS_BASE_IMAGE=$(faas images bootstrap) && faas {command}" in result.stderr
    assert "Traceback" not in result.stderr
    assert "starting" not in result.stdout  # neither Redis nor the gateway
    nothing_runs(stack_env)


def test_a_gateway_that_cannot_start_takes_its_redis_down_with_it(
    stack_env: dict[str, str],
) -> None:
    port = int(stack_env["FAAS_GATEWAY"].rsplit(":", 1)[1])
    with socket.socket() as squatter:  # the gateway's port is taken: it exits at once
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        result = faas("up", env=stack_env)
    assert result.returncode == 1
    assert "did not become healthy" in result.stderr
    assert "starting Redis" in result.stdout
    nothing_runs(stack_env)


def test_up_says_which_settings_the_running_gateway_does_not_have(
    stack_env: dict[str, str],
) -> None:
    first = faas("up", env=stack_env)
    assert first.returncode == 0, first.stderr
    same = faas("up", env=stack_env)
    assert "already running" in same.stdout and "warning" not in same.stderr
    changed = faas("up", env={**stack_env, "FAAS_GENERIC_POOL": "0", "FAAS_PAUSE_AFTER": "5s"})
    assert changed.returncode == 0
    assert "FAAS_GENERIC_POOL, FAAS_PAUSE_AFTER changed" in changed.stderr
    assert "faas down && faas up" in changed.stderr
    assert httpx.get(stack_env["FAAS_GATEWAY"] + "/healthz").status_code == 200

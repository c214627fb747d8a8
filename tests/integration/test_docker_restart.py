"""A real Docker Engine restart under a running gateway (test_docker_outage.py simulates one).

Restarting dockerd stops every container on the machine, so this runs only where that is
acceptable: set FAAS_TEST_RESTART_DOCKER=1 (`.ci/run` does, on its own machine).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from faas.engines.docker import DockerBackend
from faas.errors import FaasError
from tests.conftest import FIXTURES, Gateway, wait_until

pytestmark = pytest.mark.skipif(
    os.environ.get("FAAS_TEST_RESTART_DOCKER") != "1",
    reason="restarts this machine's Docker Engine: set FAAS_TEST_RESTART_DOCKER=1 to run it",
)

DOCKERD_LOG = Path("/var/log/dockerd.log")


def dockerd_pid() -> int:
    found = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True)
    pids = found.stdout.split()
    assert len(pids) == 1, f"expected one dockerd, found {pids}"
    return int(pids[0])


def restart_dockerd(while_down: Callable[[], None]) -> None:
    """Stop dockerd, run `while_down`, start it again the way it was started."""
    pid = dockerd_pid()
    if "docker.service" in Path(f"/proc/{pid}/cgroup").read_text():
        subprocess.run(["systemctl", "stop", "docker.service", "docker.socket"], check=True)
        try:
            while_down()
        finally:
            subprocess.run(["systemctl", "start", "docker.service"], check=True)
    else:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        os.kill(pid, signal.SIGTERM)
        wait_until(lambda: not Path(f"/proc/{pid}").exists(), 60, 0.1)
        try:
            while_down()
        finally:
            with open(DOCKERD_LOG, "ab") as log:
                subprocess.Popen(
                    [arg.decode() for arg in argv],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
    wait_until(docker_answers, 60, 0.2)


def docker_answers() -> bool:
    try:
        DockerBackend().ping()
    except FaasError:
        return False
    return True


@pytest.mark.skipif(shutil.which("pgrep") is None, reason="needs pgrep")
def test_the_gateway_rides_out_a_docker_restart(
    make_gateway: Callable[..., Gateway], build: Any, docker_backend: DockerBackend
) -> None:
    gateway = make_gateway(FAAS_PAUSE_AFTER="0", FAAS_GENERIC_POOL="1")
    manifest, built = build(FIXTURES / "probe")
    registered = gateway.http.post(
        "/system/functions", json={"manifest": manifest, "image": built.tag}
    )
    assert registered.status_code == 201
    assert gateway.http.post("/function/probe").status_code == 200
    wait_until(
        lambda: gateway.http.get("/system/function/probe").json()["generic"]["spares"] == 1, 60
    )
    before = {c.id for c in docker_backend.list_managed({"faas.gateway": gateway.id})}
    assert len(before) == 2  # the function's container and a spare

    def while_down() -> None:
        health = gateway.http.get("/healthz")
        assert health.status_code == 503 and "docker" in health.json()["error"]["message"]
        started = time.monotonic()
        cold = gateway.http.post("/function/probe", headers={"X-Faas-Force": "cold"})
        assert cold.status_code == 503, cold.text
        assert time.monotonic() - started < 5

    restart_dockerd(while_down)

    # Same gateway process: it reconnects and drops what the restart stopped.
    wait_until(lambda: gateway.http.get("/healthz").status_code == 200, 60, 0.2)
    response = gateway.http.post("/function/probe")
    assert response.status_code == 200, response.text
    assert response.json()["greeting"] == "hello from the manifest"
    wait_until(
        lambda: not before & {c.id for c in docker_backend.list_managed()}, 30, 0.2
    )  # the stopped containers are removed, not left behind
    wait_until(
        lambda: gateway.http.get("/system/function/probe").json()["generic"]["spares"] == 1, 60
    )  # and a new spare is ready

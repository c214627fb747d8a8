"""Docker going away and coming back, seen through a socket proxy the test can cut.

Restarting the real daemon would disturb everything else using this machine's Docker, so the
gateway reaches Docker through a proxy: cutting it is, for the gateway, Docker being down.
A container is killed during the outage, as a real restart would.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker

from faas.engines.docker import DockerBackend
from tests.conftest import FIXTURES, Gateway, run_containers, wait_until

DOCKER_SOCKET = "/var/run/docker.sock"


class SocketProxy:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._server: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        self.path.unlink(missing_ok=True)
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(self.path))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.close()
                self._server = None
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._conns.clear()
        self.path.unlink(missing_ok=True)

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(DOCKER_SOCKET)
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


def test_docker_down_is_503_fast_and_recovers_without_a_restart(
    make_gateway: Callable[..., Gateway], build: Any, tmp_path: Path, docker_backend: DockerBackend
) -> None:
    proxy = SocketProxy(Path("/tmp") / f"faas-dproxy-{id(tmp_path)}.sock")
    proxy.start()
    gateway = make_gateway(DOCKER_HOST=f"unix://{proxy.path}", FAAS_PAUSE_AFTER="0")
    try:
        manifest, built = build(FIXTURES / "tricks")
        assert (
            gateway.http.post(
                "/system/functions", json={"manifest": manifest, "image": built.tag}
            ).status_code
            == 201
        )
        assert gateway.http.post("/function/tricks").status_code == 200
        (warm,) = run_containers({"faas.function": "tricks"})

        proxy.stop()
        health = gateway.http.get("/healthz")
        assert health.status_code == 503
        assert "docker" in health.json()["error"]["message"]
        # A warm container needs no Docker: it keeps serving.
        assert gateway.http.post("/function/tricks").headers["x-faas-start"] == "warm"
        # A new container does: 503 at once, not a hang.
        started = time.monotonic()
        cold = gateway.http.post("/function/tricks", headers={"X-Faas-Force": "cold"})
        assert cold.status_code == 503
        assert cold.json()["error"]["code"] == "docker_unavailable"
        assert "retry-after" in cold.headers
        assert time.monotonic() - started < 2
        docker.from_env().api.kill(warm.id)  # what a daemon restart does to containers

        proxy.start()
        wait_until(lambda: gateway.http.get("/healthz").status_code == 200, 15, 0.1)
        response = gateway.http.post("/function/tricks")
        assert response.status_code == 200
        assert response.headers["x-faas-start"] == "cold"
        wait_until(lambda: warm.id not in {c.id for c in docker_backend.list_managed()}, 15, 0.1)
    finally:
        gateway.stop()  # while Docker is reachable, so it removes its containers
        proxy.stop()

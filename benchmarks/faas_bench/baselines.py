"""Same-run baselines: the function's own image served without the gateway.

- `cold`: the bare Docker SDK doing create + start + poll-until-ready + one call, for the same
  image and the same hardened config the gateway uses (`function_container`); in the gateway's
  network mode (no network, Unix socket) or in bridge mode with a published port (through
  docker-proxy), the baselines of C1 and C2.
- `burst`: N threads doing `cold` at once (C4).
- `Resident`: one long-lived bare container, for pause/unpause (W4's reference) and as the
  host-network twin a load generator can reach over TCP (W2's direct baseline).
- `docker_run`: `docker run --rm` per call, the 2016 serverless design, the same hardening.

Every container carries faas.managed=true and faas.role=bench (not `function`, so no gateway
reclaims it mid-run) and is removed by `close()`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from faas import keys
from faas.contracts.native import (
    SOCKET_NAME,
    TCP_PORT,
    seal_when_bound,
    tcp_placement,
    unix_placement,
)
from faas.contracts.transport import Address
from faas.engines.base import ContainerConfig
from faas.engines.docker import DockerBackend
from faas.errors import FaasError
from faas.manifest.spec import FunctionSpec
from faas.pool.hardening import function_container
from faas_bench.docker_run import docker_run_argv
from faas_bench.environment import cgroup_memory
from faas_bench.local import free_port
from faas_bench.results import MemorySample
from faas_bench.wire import Connection, Reply, WireError, call_once, request_bytes

ROLE_BENCH = "bench"
POLL_INTERVAL = 0.001  # the perf anchors' bench_ready polled every 1 ms
READY_TIMEOUT = 30.0

UNIX = "unix"  # no network, Unix socket in a bind mount: the gateway's default
BRIDGE = "bridge"  # default bridge, port published on 127.0.0.1: through docker-proxy
HOST = "host"  # host network namespace, TCP on a free loopback port


class BaselineError(Exception):
    """A baseline container failed to start or answer."""


@dataclass(frozen=True)
class ColdSample:
    """One bare cold start, ms from the create call."""

    create: float
    start: float
    ready: float
    call: float
    total: float
    remove: float
    status: int

    def parts(self) -> dict[str, float]:
        return {
            "create": self.create,
            "start": self.start,
            "ready": self.ready,
            "call": self.call,
            "remove": self.remove,
        }


@dataclass(frozen=True)
class BurstSample:
    all_ready: float  # ms from the common start until the last call answered
    first_ready: float
    calls: list[float]  # each container's create → answer


def _accepts(address: Address) -> bool:
    """The gateway's readiness check (faas.transport.probe), blocking: a connect succeeds."""
    family = socket.AF_UNIX if address.path else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        try:
            sock.connect(address.path or (address.host, address.port))
        except OSError:
            return False
    return True


def _answers(address: Address) -> bool:
    """GET /_/health gives 200. Needed behind docker-proxy, which accepts every connect."""
    try:
        reply = call_once(address, request_bytes("GET", "/_/health"), timeout=2.0)
    except (OSError, WireError):
        return False
    return reply.status == 200


class Baselines:
    """Bare containers of one function's image; thread-safe; `close()` removes them all."""

    def __init__(
        self,
        backend: DockerBackend,
        spec: FunctionSpec,
        image: str,
        *,
        run_id: str,
        payload: bytes = b"",
        method: str = "POST",
        network: str | None = None,
    ) -> None:
        self.backend = backend
        self.spec = spec
        self.image = image
        self.run_id = run_id
        self.network = network  # the function's docker network when it has `network: true`
        self.call = request_bytes(method, "/call/", payload)
        self.payload = payload
        self.method = method
        # Short: sun_path is 108 bytes.
        self.workdir = Path(tempfile.mkdtemp(prefix="faas-bench-", dir="/tmp"))
        self._live: set[str] = set()
        self._lock = threading.Lock()
        self._seq = 0

    # -- configs ------------------------------------------------------------------------------

    @property
    def labels(self) -> dict[str, str]:
        return {
            keys.LABEL_MANAGED: "true",
            keys.LABEL_ROLE: ROLE_BENCH,
            keys.LABEL_FUNCTION: self.spec.name,
            keys.LABEL_GATEWAY: f"bench-{self.run_id}",
        }

    def _name(self) -> str:
        with self._lock:
            self._seq += 1
            return f"faas-bench-{self.spec.name}-{self.run_id}-{self._seq}"

    def config(self, mode: str) -> tuple[ContainerConfig, Address, Path | None]:
        """The gateway's container config for this image, placed for `mode`."""
        name = self._name()
        socket_dir: Path | None = None
        if mode == UNIX:
            socket_dir = self.workdir / name.rsplit("-", 1)[-1]
            socket_dir.mkdir()
            socket_dir.chmod(0o777)  # the function's uid creates its socket here
            placement = unix_placement(socket_dir, self.network)
        elif mode in (BRIDGE, HOST):
            placement = tcp_placement(mode)
        else:
            raise ValueError(f"unknown network mode {mode!r}")
        cfg = function_container(
            self.spec, self.image, container_name=name, gateway_id="bench", placement=placement
        )
        cfg = dataclasses.replace(cfg, labels=self.labels)
        if mode == UNIX:
            assert socket_dir is not None
            return cfg, Address(path=str(socket_dir / SOCKET_NAME)), socket_dir
        port = free_port()
        if mode == BRIDGE:
            cfg = dataclasses.replace(cfg, ports={TCP_PORT: [("127.0.0.1", port)]})
        else:
            env = {**cfg.environment, "FAAS_PORT": str(port)}
            cfg = dataclasses.replace(cfg, environment=env)
        return cfg, Address(host="127.0.0.1", port=port), None

    # -- container lifecycle ------------------------------------------------------------------

    def _create(self, cfg: ContainerConfig) -> str:
        container_id = self.backend.create_container(cfg)
        with self._lock:
            self._live.add(container_id)
        return container_id

    def remove(self, container_id: str, socket_dir: Path | None = None) -> float:
        """Remove a container; returns how long Docker took (ms)."""
        t0 = time.perf_counter()
        try:
            self.backend.remove(container_id)
        finally:
            with self._lock:
                self._live.discard(container_id)
            if socket_dir is not None:
                with contextlib.suppress(OSError):
                    socket_dir.chmod(0o700)  # sealed once ready: reopened to remove it
                shutil.rmtree(socket_dir, ignore_errors=True)
        return (time.perf_counter() - t0) * 1e3

    def _wait_ready(self, container_id: str, address: Address, mode: str) -> None:
        ready = _accepts if mode != BRIDGE else _answers
        deadline = time.monotonic() + READY_TIMEOUT
        checks = 0
        # As the gateway does: seal the socket's folder once the socket exists, which the
        # runtime waits for before it loads any code (faas.runtime.confine).
        folder = Path(address.path).parent if mode == UNIX and address.path else None
        while True:
            if folder is not None:
                seal_when_bound(folder)
            if ready(address):
                return
            checks += 1
            if checks % 50 == 0 and not self.backend.state(container_id).running:
                raise BaselineError(f"bare container of {self.spec.name} exited before answering")
            if time.monotonic() > deadline:
                raise BaselineError(f"bare container did not answer within {READY_TIMEOUT:g}s")
            time.sleep(POLL_INTERVAL)

    def cold(self, mode: str = UNIX) -> ColdSample:
        """create + start + poll until ready + one call over a fresh connection, then remove."""
        cfg, address, socket_dir = self.config(mode)
        t0 = time.perf_counter()
        container_id = self._create(cfg)
        try:
            t1 = time.perf_counter()
            self.backend.start_container(container_id)
            t2 = time.perf_counter()
            self._wait_ready(container_id, address, mode)
            t3 = time.perf_counter()
            reply = call_once(address, self.call)
            t4 = time.perf_counter()
        finally:
            removed = self.remove(container_id, socket_dir)
        ms = 1e3
        return ColdSample(
            create=(t1 - t0) * ms,
            start=(t2 - t1) * ms,
            ready=(t3 - t2) * ms,
            call=(t4 - t3) * ms,
            total=(t4 - t0) * ms,
            remove=removed,
            status=reply.status,
        )

    def burst(self, n: int, mode: str = UNIX) -> BurstSample:
        """`n` threads each doing a bare cold start at the same moment (no removal timed)."""
        barrier = threading.Barrier(n + 1)
        ends: list[float] = [0.0] * n
        errors: list[BaseException] = []
        made: list[tuple[str, Path | None]] = []
        configs = [self.config(mode) for _ in range(n)]

        def one(index: int) -> None:
            cfg, address, socket_dir = configs[index]
            barrier.wait()
            try:
                container_id = self._create(cfg)
                with self._lock:
                    made.append((container_id, socket_dir))
                self.backend.start_container(container_id)
                self._wait_ready(container_id, address, mode)
                call_once(address, self.call)
                ends[index] = time.perf_counter()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
        for thread in threads:
            thread.start()
        barrier.wait()
        t0 = time.perf_counter()
        for thread in threads:
            thread.join()
        self._remove_many(made)
        for _, _, socket_dir in configs:
            if socket_dir is not None:
                with contextlib.suppress(OSError):
                    socket_dir.chmod(0o700)  # sealed once ready: reopened to remove it
                shutil.rmtree(socket_dir, ignore_errors=True)
        if errors:
            raise BaselineError(f"bare burst of {n}: {errors[0]}") from errors[0]
        calls = sorted((end - t0) * 1e3 for end in ends)
        return BurstSample(all_ready=calls[-1], first_ready=calls[0], calls=calls)

    def _remove_many(self, made: list[tuple[str, Path | None]]) -> None:
        threads = [
            threading.Thread(target=self._quiet_remove, args=item, daemon=True) for item in made
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _quiet_remove(self, container_id: str, socket_dir: Path | None) -> None:
        with contextlib.suppress(FaasError):
            self.remove(container_id, socket_dir)

    def resident(self, mode: str) -> Resident:
        """A bare container that stays up until `Resident.close()` (or `close()`)."""
        cfg, address, socket_dir = self.config(mode)
        container_id = self._create(cfg)
        try:
            self.backend.start_container(container_id)
            self._wait_ready(container_id, address, mode)
        except BaseException:
            self._quiet_remove(container_id, socket_dir)
            raise
        return Resident(self, container_id, address, socket_dir)

    # -- docker run per call ------------------------------------------------------------------

    def docker_run(self, timeout: float = 60.0) -> float:
        """`docker run --rm -i` of the image running the handler once on the payload (stdin),
        with the same hardening flags; ms until the CLI exits."""
        cfg, _, _ = self.config(HOST)  # HOST only to get a config without a socket
        argv = docker_run_argv(cfg, network=self.network or "none", method=self.method)
        t0 = time.perf_counter()
        try:
            done = subprocess.run(
                argv, input=self.payload, capture_output=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            subprocess.run(["docker", "rm", "-f", cfg.name], capture_output=True, check=False)
            raise BaselineError(f"docker run did not finish within {timeout:g}s") from None
        elapsed = (time.perf_counter() - t0) * 1e3
        if done.returncode != 0:
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
            raise BaselineError(f"docker run exited {done.returncode}: {' '.join(tail)}")
        return elapsed

    # -- cleanup ------------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            left = list(self._live)
        self._remove_many([(container_id, None) for container_id in left])
        shutil.rmtree(self.workdir, ignore_errors=True)


class Resident:
    """A long-lived bare container and a keep-alive connection to it."""

    def __init__(
        self, owner: Baselines, container_id: str, address: Address, socket_dir: Path | None
    ) -> None:
        self.owner = owner
        self.container_id = container_id
        self.address = address
        self.socket_dir = socket_dir
        self.connection = Connection(address)

    def call(self) -> Reply:
        return self.connection.exchange(self.owner.call)

    def unpause_call(self) -> tuple[float, float]:
        """Pause (not timed), then unpause + call; returns (total, unpause) in ms."""
        self.connection.open()
        self.owner.backend.pause(self.container_id)
        t0 = time.perf_counter()
        self.owner.backend.unpause(self.container_id)
        t1 = time.perf_counter()
        self.call()
        t2 = time.perf_counter()
        return (t2 - t0) * 1e3, (t1 - t0) * 1e3

    def memory(self) -> MemorySample | None:
        return cgroup_memory(self.container_id)

    def close(self) -> None:
        self.connection.close()
        self.owner._quiet_remove(self.container_id, self.socket_dir)

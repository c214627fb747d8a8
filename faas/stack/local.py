"""The local stack behind `faas up`, `faas down` and `faas status`: Redis and a gateway.

The embedded default: when FAAS_REDIS_URL points at loopback (the default does) and nothing
answers there, faas runs its own Redis (the `redis-server` binary when present, else a
container) with its data under FAAS_HOME, and it starts
the gateway as a background process logging to FAAS_HOME/gateway.log. Both listen on loopback
and on the functions' network address, so functions with `network: true` reach them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from faas import credentials, keys, secret_box
from faas.client import GatewayClient
from faas.credentials import ensure_secret_file
from faas.engines.docker import DockerBackend
from faas.errors import FaasError, StackError
from faas.identity import read_stack_id, write_stack_id
from faas.registry.access import masked, platform_client
from faas.registry.store import Registry
from faas.settings import Settings
from faas.stack import drift
from faas.stack.base_image import ensure_base_image
from faas.stack.redis_server import (
    REDIS_IMAGE,
    UNPRIVILEGED_USER,
    RedisConfig,
    hand_over,
    run_in_container,
    unprivileged,
)

START_TIMEOUT = 30.0


@dataclass(frozen=True)
class StackStatus:
    redis_url: str
    redis_ok: bool
    redis_how: str  # "process 123", "container", "external"
    gateway_url: str
    gateway_ok: bool
    gateway_pid: int | None
    functions: int
    log: Path
    workers: int = 0


class Stack:
    def __init__(
        self,
        settings: Settings,
        env: dict[str, str] | None = None,
        echo: Callable[[str], None] = print,
    ) -> None:
        self.settings = settings
        self.env = dict(os.environ if env is None else env)
        self.echo = echo
        self.home = settings.home
        self.backend = DockerBackend()
        self._started: list[Path] = []  # pid files of the gateways this object started

    # -- paths ----------------------------------------------------------------------------

    @property
    def gateway_pidfile(self) -> Path:
        return self.home / "gateway.pid"

    @property
    def gateway_log(self) -> Path:
        return self.home / "gateway.log"

    @property
    def redis_dir(self) -> Path:
        """The embedded Redis's data, pid file and log (owned by the user it runs as)."""
        return self.home / "redis"

    @property
    def redis_pidfile(self) -> Path:
        return self.redis_dir / "redis.pid"

    @property
    def embedded_redis(self) -> bool:
        """faas runs Redis itself when FAAS_REDIS_URL points at this machine's loopback."""
        return urlsplit(self.settings.redis_url).hostname in ("127.0.0.1", "localhost", "::1")

    # -- up -------------------------------------------------------------------------------

    def up(self, workers: int = 0, rerun: str = "faas up") -> StackStatus:
        """Start what is not running; `workers` extra gateways add queue consumers. Nothing
        starts without the base image; what this call started is stopped if it fails."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.backend.ping()
        ensure_base_image(self.backend, self.settings.base_image, self.echo, rerun)
        if self.settings.auth:  # before any gateway starts: they and the CLI read the same file
            credentials.ensure(self.settings)
        secret_box.ensure_key(self.settings)  # likewise: every gateway seals with this key
        bridge_ip = self.backend.ensure_network(self.settings.function_network)
        redis_was_up = _redis_answers(self.settings)
        try:
            redis_url = self._start_redis(bridge_ip)
            for index in range(workers + 1):
                self._start_gateway(redis_url, bridge_ip, index)
        except BaseException:
            self._stop_gateways(started_here=True)
            if self.embedded_redis and not redis_was_up:
                self._stop_redis()
            raise
        return self.status()

    def settings_changed(self) -> list[str]:
        """FAAS_* settings that differ from those the running gateway started with."""
        return drift.changed(self.home, self.env)

    def _start_redis(self, bridge_ip: str) -> str:
        url = self.settings.redis_url
        if not self.embedded_redis:
            if not _redis_answers(self.settings):
                raise StackError(f"Redis at FAAS_REDIS_URL={masked(url)} does not answer")
            return url  # someone else's Redis: use it, never start or stop it
        password = urlsplit(url).password or ensure_secret_file(self.settings.redis_password_path)
        if _redis_answers(self.settings):
            return url
        port = urlsplit(url).port or 6379
        if _port_open(port):
            raise StackError(
                f"something on port {port} does not accept the password in "
                f"{self.settings.redis_password_path}: stop it, or set FAAS_REDIS_URL"
            )
        binds = ["127.0.0.1"] + ([bridge_ip] if bridge_ip else [])
        config = RedisConfig(port, binds, password, self.settings.redis_maxmemory)
        server = shutil.which("redis-server")
        if server:
            owner = unprivileged()
            hand_over(self.redis_dir, owner)
            who = f" as {UNPRIVILEGED_USER}" if owner else ""
            self.echo(f"starting Redis ({server}) on port {port}{who}")
            subprocess.run(
                [server, "-"],  # the configuration (with the password) on stdin
                input=config.render().encode(),
                cwd=self.redis_dir,
                user=owner[0] if owner else None,
                group=owner[1] if owner else None,
                extra_groups=[] if owner else None,
                check=True,
                capture_output=True,
            )
        else:
            self.echo(f"starting Redis in a container ({REDIS_IMAGE}) on port {port}")
            run_in_container(
                self.backend,
                config,
                self.home,
                self.env.get("FAAS_REDIS_IMAGE", REDIS_IMAGE),
                self.settings.function_network,
            )
        if not _wait(lambda: _redis_answers(self.settings), START_TIMEOUT):
            raise StackError(
                f"Redis did not answer at {masked(url)} within {START_TIMEOUT:g}s; "
                f"see {self.redis_dir}/redis.log"
            )
        return url

    def _start_gateway(self, redis_url: str, bridge_ip: str, index: int = 0) -> None:
        """Gateway 0 is the stack's front door (FAAS_GATEWAY); gateways 1..N listen on the
        next ports and add queue consumers. All share Redis, so any of them serves any call."""
        parts = urlsplit(self.settings.gateway_url)
        host = parts.hostname or "127.0.0.1"
        port = (parts.port or 80) + index
        url = f"http://{host}:{port}"
        pidfile, logfile = self._gateway_files(index)
        if _read_pid(pidfile) is not None and _gateway_answers(url, self.settings):
            self.echo(f"gateway already running at {url}")
            return
        if index == 0:
            drift.record(self.home, self.env)
        self._started.append(pidfile)
        redis_port = urlsplit(redis_url).port or 6379
        env = dict(self.env)
        env.update(
            FAAS_HOME=str(self.home),
            FAAS_PORT=str(port),
            FAAS_BIND=",".join([host] + ([bridge_ip] if bridge_ip else [])),
            FAAS_REDIS_URL=redis_url,
            FAAS_ADMIN_PASSWORD_FILE=str(self.settings.password_file),
            FAAS_SECRETS_KEY_FILE=str(self.settings.secrets_key_path),
        )
        if self.embedded_redis and not urlsplit(redis_url).password:
            env["FAAS_REDIS_PASSWORD_FILE"] = str(self.settings.redis_password_path)
        if bridge_ip:
            env.setdefault("FAAS_FUNCTION_GATEWAY_URL", f"http://{bridge_ip}:{port}")
            if self.embedded_redis:  # only bound functions get it, with their own user
                env.setdefault("FAAS_FUNCTION_REDIS_URL", f"redis://{bridge_ip}:{redis_port}/0")
        self.echo(f"starting the gateway on {url} (log: {logfile})")
        with open(logfile, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "gateway"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        pidfile.write_text(str(process.pid))

        def settled() -> bool:  # healthy, or exited (a port in use): no need to wait on
            return process.poll() is not None or _gateway_answers(url, self.settings)

        if not _wait(settled, START_TIMEOUT) or process.poll() is not None:
            tail = logfile.read_text(errors="replace").splitlines()[-15:]
            self._stop_gateways(started_here=True)
            raise StackError(f"the gateway did not become healthy at {url}:\n" + "\n".join(tail))

    def _gateway_files(self, index: int) -> tuple[Path, Path]:
        if index == 0:
            return self.gateway_pidfile, self.gateway_log
        return self.home / f"gateway-{index}.pid", self.home / f"gateway-{index}.log"

    def worker_pids(self) -> list[int]:
        """Running extra gateways (`faas up --workers N`)."""
        pids = (_read_pid(p) for p in sorted(self.home.glob("gateway-*.pid")))
        return [pid for pid in pids if pid is not None]

    # -- down -----------------------------------------------------------------------------

    def down(self) -> None:
        self._stop_gateways()
        self._remove_orphans()
        if self.embedded_redis:
            self._stop_redis()

    def _stop_gateways(self, started_here: bool = False) -> None:
        every = [self.gateway_pidfile, *sorted(self.home.glob("gateway-*.pid"))]
        for pidfile in self._started if started_here else every:
            pid = _read_pid(pidfile)
            if pid is not None:
                self.echo(f"stopping the gateway (pid {pid}); it removes its containers")
                _terminate(pid, timeout=40.0)
            pidfile.unlink(missing_ok=True)

    def _remove_orphans(self) -> None:
        """This stack's function (and generic) containers whose gateway is gone are removed."""
        stack_id, alive = asyncio.run(_stack_and_live_gateways(self.settings))
        if not stack_id:
            return  # Redis does not answer: which containers are ours is unknown
        try:
            found = self.backend.list_managed({keys.LABEL_STACK: stack_id})
        except FaasError:
            return
        for container in found:
            if container.labels.get(keys.LABEL_ROLE) not in keys.POOLED_ROLES:
                continue
            owner = container.labels.get(keys.LABEL_GATEWAY, "")
            if owner not in alive:
                self.backend.remove(container.id)

    def _stop_redis(self) -> None:
        if self.redis_pidfile.exists():
            try:
                pid = int(self.redis_pidfile.read_text().strip())
            except ValueError:
                pid = 0
            if pid:
                self.echo(f"stopping Redis (pid {pid})")
                _terminate(pid, timeout=15.0)
            self.redis_pidfile.unlink(missing_ok=True)
        for container in self.backend.list_managed({keys.LABEL_ROLE: keys.ROLE_REDIS}):
            self.echo("removing the Redis container")
            self.backend.remove(container.id)

    # -- status ---------------------------------------------------------------------------

    def status(self) -> StackStatus:
        url = self.settings.gateway_url
        redis_ok = _redis_answers(self.settings)
        how = "external"
        if self.embedded_redis:
            pid = _read_pid(self.redis_pidfile)
            containers = self.backend.list_managed({keys.LABEL_ROLE: keys.ROLE_REDIS})
            how = f"process {pid}" if pid else ("container" if containers else "not running")
        gateway_ok = _gateway_answers(url, self.settings)
        functions = 0
        if gateway_ok:
            with GatewayClient(url, timeout=5, settings=self.settings) as client:
                functions = len(client.functions())
        return StackStatus(
            masked(self.settings.redis_url),
            redis_ok,
            how,
            url,
            gateway_ok,
            self._gateway_pid(),
            functions,
            self.gateway_log,
            len(self.worker_pids()),
        )

    def _gateway_pid(self) -> int | None:
        return _read_pid(self.gateway_pidfile)


async def _stack_and_live_gateways(settings: Settings) -> tuple[str, set[str]]:
    """The stack's id (the one in FAAS_HOME/stack-id goes back into a Redis that lost it) and
    the gateways that still send heartbeats."""
    client = platform_client(settings)
    registry = Registry(client)
    try:
        stack_id = await registry.stack_id(read_stack_id(settings.home))
        write_stack_id(settings.home, stack_id)
        return stack_id, set(await registry.live_gateways())
    except FaasError:
        return "", set()
    finally:
        await client.aclose()


def _read_pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return pid


def _terminate(pid: int, timeout: float) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if not _wait(lambda: not _exists(pid), timeout):
        os.kill(pid, signal.SIGKILL)
        _wait(lambda: not _exists(pid), 5.0)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of ours still "exists": reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _wait(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def _redis_answers(settings: Settings) -> bool:
    async def ping() -> bool:
        try:
            client = platform_client(settings)
        except FaasError:
            return False
        try:
            await Registry(client).ping()
            return True
        except FaasError:
            return False
        finally:
            await client.aclose()

    return asyncio.run(ping())


def _gateway_answers(url: str, settings: Settings) -> bool:
    try:
        with GatewayClient(url, timeout=2, settings=settings) as client:
            client.health()
        return True
    except FaasError:
        return False

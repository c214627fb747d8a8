"""The Docker side of one function instance: start it, wait until it answers, explain its death.

Blocking Docker calls run on a dedicated thread pool so that a burst of cold starts is not
serialised behind asyncio's small default executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import shutil
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from faas import keys
from faas.contracts.native import NativeEndpoint
from faas.contracts.transport import Address, ConnectFailed, probe
from faas.engines.base import ContainerConfig, ContainerEvent, ContainerState, ManagedContainer
from faas.engines.docker import DockerBackend
from faas.errors import (
    ConfigError,
    FaasError,
    FunctionCrashed,
    FunctionFailed,
    FunctionInitError,
    OutOfMemory,
)
from faas.manifest.spec import FunctionSpec
from faas.pool.hardening import (
    SOCKET_NAME,
    TCP_PORT,
    Placement,
    Shape,
    function_container,
    generic_container,
)
from faas.settings import Settings

T = TypeVar("T")

_MAX_SOCKET_PATH = 107  # sun_path is 108 bytes including the terminating NUL
_STATE_CHECK_INTERVAL = 0.05
_LOG_TAIL = 40
_EXIT_GRACE = 2.0


class ContainerGone(ConnectFailed):
    """The container had exited before the request was sent: it was never delivered."""


@dataclass
class Started:
    """A container that answers, and what starting it cost (milliseconds)."""

    container_id: str
    endpoint: NativeEndpoint
    create_ms: float
    start_ms: float
    ready_ms: float


class Lifecycle:
    """Starts, inspects and removes the instances of one gateway: the pool's only way to an
    engine. `stack_id()` is the stack's id, or "" while it is not known yet (Redis down)."""

    def __init__(
        self,
        backend: DockerBackend,
        settings: Settings,
        gateway_id: str,
        stack_id: Callable[[], str],
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.gateway_id = gateway_id
        self._stack_id = stack_id
        self._executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="docker")
        self._network_ready = False

    @property
    def stack_id(self) -> str:
        return self._stack_id()

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- what the pool asks of an engine ---------------------------------------------------

    async def ping(self) -> None:
        await self.run(self.backend.ping)

    async def pause(self, container_id: str) -> None:
        await self.run(self.backend.pause, container_id)

    async def resume(self, container_id: str) -> None:
        await self.run(self.backend.unpause, container_id)

    async def state(self, container_id: str) -> ContainerState:
        return await self.run(self.backend.state, container_id)

    async def rename(self, container_id: str, name: str) -> None:
        await self.run(self.backend.rename, container_id, name)

    async def owned(self) -> list[ManagedContainer]:
        """Every instance of this stack (any gateway's, any state); [] while it is unknown."""
        if not self.stack_id:
            return []
        return await self.run(self.backend.list_managed, {keys.LABEL_STACK: self.stack_id})

    async def image_exists(self, image: str) -> bool:
        return await self.run(self.backend.image_exists, image)

    async def image_labels(self, image: str) -> dict[str, str] | None:
        return await self.run(self.backend.image_labels, image)

    async def read_code(self, image: str, path: str) -> bytes | None:
        """A tar of `path` in `image`, through a labelled never-started container."""
        labels = {
            keys.LABEL_MANAGED: "true",
            keys.LABEL_ROLE: keys.ROLE_GENERIC,
            keys.LABEL_GATEWAY: self.gateway_id,
            keys.LABEL_STACK: self.stack_id,
        }
        return await self.run(self.backend.read_archive, image, path, labels)

    async def events(self) -> AsyncIterator[ContainerEvent]:
        """Deaths of this gateway's instances, until the engine's stream breaks (then
        `FaasError`); stop it with `stop_events()`."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[ContainerEvent | BaseException | None] = asyncio.Queue()
        labels = {keys.LABEL_GATEWAY: self.gateway_id}

        def follow() -> None:
            try:
                for container_id, action, attributes in self.backend.events(labels):
                    event = ContainerEvent(container_id, action, attributes)
                    loop.call_soon_threadsafe(queue.put_nowait, event)
                loop.call_soon_threadsafe(queue.put_nowait, None)
            except BaseException as exc:  # handed to the loop, raised there
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(queue.put_nowait, exc)

        thread = threading.Thread(target=follow, name="faas-events", daemon=True)
        thread.start()
        while True:
            item = await queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def stop_events(self) -> None:
        self.backend.close_events()

    async def start(self, spec: FunctionSpec, image: str) -> Started:
        """Create and start a container for `spec`, return once its runtime accepts calls."""

        def config(name: str, placement: Placement) -> ContainerConfig:
            return function_container(
                spec,
                image,
                container_name=name,
                gateway_id=self.gateway_id,
                placement=placement,
                stack_id=self.stack_id,
            )

        return await self._launch(config, f"faas-{spec.name}", spec.network, spec)

    async def start_generic(self, shape: Shape, image: str) -> Started:
        """Create and start a generic runtime container (no function loaded yet)."""

        def config(name: str, placement: Placement) -> ContainerConfig:
            return generic_container(
                shape,
                image,
                container_name=name,
                gateway_id=self.gateway_id,
                placement=placement,
                stack_id=self.stack_id,
            )

        return await self._launch(config, "faas-generic", shape.network, None)

    async def _launch(
        self,
        config: Callable[[str, Placement], ContainerConfig],
        prefix: str,
        network: bool,
        spec: FunctionSpec | None,
    ) -> Started:
        token = secrets.token_hex(6)
        socket_dir = self._socket_dir(token) if self.settings.transport == "unix" else None
        placement = await self._placement(network, socket_dir)
        cfg = config(f"{prefix}-{token}", placement)
        t0 = time.perf_counter()
        container_id: str | None = None
        try:
            container_id = await self.run(self.backend.create_container, cfg)
            t1 = time.perf_counter()
            await self.run(self.backend.start_container, container_id)
            t2 = time.perf_counter()
            address = await self._address(container_id, placement, socket_dir)
            await self._wait_ready(spec, container_id, address)
            t3 = time.perf_counter()
        except BaseException:
            try:
                if container_id is not None:
                    await asyncio.shield(self.run(self.backend.remove, container_id))
            finally:
                if socket_dir is not None:
                    shutil.rmtree(socket_dir, ignore_errors=True)
            raise
        endpoint = NativeEndpoint(address, socket_dir)
        return Started(container_id, endpoint, (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3)

    async def remove(self, container_id: str, endpoint: NativeEndpoint | None = None) -> None:
        """Kill and remove the instance, and its host-side socket folder."""
        try:
            await self.run(self.backend.remove, container_id)
        finally:
            if endpoint is not None:
                endpoint.close()
                if endpoint.host_dir is not None:
                    shutil.rmtree(endpoint.host_dir, ignore_errors=True)

    async def logs(self, container_id: str, since: float | None = None) -> list[str]:
        """The container's log lines, each prefixed with Docker's RFC 3339 timestamp."""
        chunks = await self.run(
            lambda: list(self.backend.logs(container_id, timestamps=True, since=since))
        )
        return b"".join(chunks).decode("utf-8", "replace").splitlines()

    async def diagnose(
        self, spec: FunctionSpec, container_id: str, sent_at: float | None = None
    ) -> FunctionFailed:
        """Why the container stopped answering: OOM, an init failure, or a crash.

        With `sent_at` (epoch seconds): a container that had already exited before the
        request was sent never received it, which is `ContainerGone` (safe to retry).
        """
        # The runtime never drops a connection mid-call unless its process is dying, and the
        # connection breaks a moment before Docker records the exit (and why): wait for it.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _EXIT_GRACE
        state = await self.run(self.backend.state, container_id)
        while state.running and loop.time() < deadline:
            await asyncio.sleep(0.02)
            state = await self.run(self.backend.state, container_id)
        if state.running:
            return FunctionCrashed(f"function {spec.name!r} dropped the connection mid-call")
        if sent_at is not None and state.finished_at is not None and state.finished_at < sent_at:
            return ContainerGone(f"function {spec.name!r}: its container had already exited")
        lines = await self._tail(container_id)
        if state.oom_killed:  # exit 137 alone is any SIGKILL: only Docker's flag says OOM
            return OutOfMemory(
                f"function {spec.name!r} ran out of memory (limit {spec.memory // 2**20}Mi): "
                "raise `memory` in its faas.yaml"
            )
        init = _init_error(lines)
        if init is not None:
            return FunctionInitError(f"function {spec.name!r} {init.message}")
        last = next((line for line in reversed(lines.splitlines()) if line.strip()), "")
        code = "gone" if not state.exists else f"exit code {state.exit_code}"
        return FunctionCrashed(f"function {spec.name!r} stopped ({code}); last log line: {last!r}")

    # -- internals ------------------------------------------------------------------------

    async def _tail(self, container_id: str) -> str:
        def read() -> str:
            return b"".join(self.backend.logs(container_id, tail=_LOG_TAIL)).decode(
                "utf-8", "replace"
            )

        try:
            return await self.run(read)
        except FaasError:  # already being removed: nothing left to explain it
            return ""

    def _socket_dir(self, token: str) -> Path:
        path = self.settings.sockets / token
        if len(str(path / SOCKET_NAME)) > _MAX_SOCKET_PATH:
            raise ConfigError(
                f"socket path {path / SOCKET_NAME} is longer than {_MAX_SOCKET_PATH} bytes: "
                "set FAAS_SOCKET_DIR to a shorter directory"
            )
        path.mkdir(parents=True, exist_ok=False)
        path.chmod(0o777)  # the function runs as an unprivileged uid and creates its socket here
        return path

    async def _placement(self, wants_network: bool, socket_dir: Path | None) -> Placement:
        network: str | None = None
        env: dict[str, str] = {}
        if wants_network or socket_dir is None:
            network = self.settings.function_network
            if not self._network_ready:
                await self.run(self.backend.ensure_network, network)
                self._network_ready = True
        if wants_network:
            if self.settings.function_gateway_url:
                env["FAAS_GATEWAY_URL"] = self.settings.function_gateway_url
            if self.settings.function_redis_url:
                env["FAAS_REDIS_URL"] = self.settings.function_redis_url
        return Placement(
            socket_host_dir=str(socket_dir) if socket_dir else None,
            network=network,
            function_env=env,
        )

    async def _address(
        self, container_id: str, placement: Placement, socket_dir: Path | None
    ) -> Address:
        if socket_dir is not None:
            return Address(path=str(socket_dir / SOCKET_NAME))
        assert placement.network is not None
        ip = await self.run(self.backend.container_ip, container_id, placement.network)
        return Address(host=ip, port=TCP_PORT)

    async def _wait_ready(
        self, spec: FunctionSpec | None, container_id: str, address: Address
    ) -> None:
        """Poll until the runtime accepts a connection; it binds only after loading the handler
        (a generic runtime, `spec` None, binds at once)."""
        what = f"function {spec.name!r}" if spec else "a generic runtime container"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.ready_timeout
        next_check = loop.time() + _STATE_CHECK_INTERVAL
        delay = 0.001
        while not await probe(address):
            now = loop.time()
            if now >= next_check:
                next_check = now + _STATE_CHECK_INTERVAL
                state = await self.run(self.backend.state, container_id)
                if not state.running:
                    if spec is None:
                        raise FunctionCrashed(f"{what} exited while starting")
                    raise await self.diagnose(spec, container_id)
            if now >= deadline:
                raise FunctionInitError(
                    f"{what} did not become ready within "
                    f"{self.settings.ready_timeout:g}s: raise FAAS_READY_TIMEOUT if its "
                    "initialisation is slow, or check `faas logs`"
                )
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.01)


def _init_error(logs: str) -> FunctionInitError | None:
    """The runtime's last line on an init failure: {"faas_init_error": {"code", "message"}}."""
    for line in reversed(logs.splitlines()):
        start = line.find('{"faas_init_error"')
        if start < 0:
            continue
        with contextlib.suppress(ValueError, KeyError, TypeError):
            error = json.loads(line[start:])["faas_init_error"]
            return FunctionInitError(f"failed to start: {error['code']}: {error['message']}")
    return None

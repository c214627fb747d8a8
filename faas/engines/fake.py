"""An engine without Docker: every instance is the real in-container runtime as a local process.

What dramatiq's StubBroker or httpx's MockTransport are to those projects: the pool, invoker,
maintenance, generic pool and gateway run end to end against it in milliseconds, with the same
runtime, socket protocol, logs and death events as in Docker.

    engine = FakeEngine()
    engine.add_image("faas-fn-echo:1", Path("functions/echo"), labels={...})
    engine.add_image("faas-runtime:1")  # no code: a generic runtime image (FAAS_GENERIC=1)
    container_id = await engine.create(config)  # a ContainerConfig, as faas.pool builds it
    await engine.start(container_id)
    ...
    await engine.close()  # kills every instance

An image is a host directory standing for its `/opt/faas/function`, plus labels and an
environment. An instance runs `python -S -m faas.runtime` (or the config's `command`) with the
image's then the config's environment, container paths translated to host ones: each bind's
host directory for its container directory (the runtime's socket, FAAS_SOCKET=/run/faas/...,
lands in the bind's host directory), a fresh scratch directory per tmpfs and per instance for
/tmp and HOME, and the image's directory for /opt/faas/function (a fresh empty one for a
generic image, where `POST /_/load` writes the code). Its working directory is the code's
folder (a generic image's: its /tmp), as in the images faas builds.

Not enforced: memory, CPU and pids limits, the user (processes run as the current user), the
read-only root and binds (a secret folder's host side: `host_path`), and the network
(processes share the host's; `address()` raises: only the Unix-socket transport works).
Paused instances are SIGSTOPped, resumed ones SIGCONTed; every process of an instance is in
its own process group and is killed with it. Every instance is killed on `close()` (or
`shut_down()`, without an event loop), at interpreter exit, and by a guardian process when
the interpreter itself is killed: no test run leaves a process behind.

As Docker reports them: state (a paused instance is running and paused; a signal's exit code
is 128 + its number), events (`die` whenever an instance exits, `remove` included, then
`destroy`; `oom` before an OOM kill's `die`) and logs (stdout and stderr in the order written,
`timestamps` as `2026-12-02T14:00:00.123456789Z <line>`, `since` and `tail` as Docker's).

Test hooks: `await crash(id)` and `await oom_kill(id)` kill an instance as a crash or its
memory limit would; `fail_next(operation, error)` makes the next such operation raise;
`set_available(False)` makes every operation raise `DockerUnavailable` and breaks the event
streams until set back; `calls` records every operation asked for (a warm call makes none).

Startup: create + start until the runtime's socket accepts a connection takes 24 ms (median of
20, echo fixture, 2-core machine), which is the runtime's own: `python -S` starts in 11 ms and
imports `faas.runtime` in 13 (`-I` instead of `-S` costs 2-25 ms more, site and its .pth files).
"""

from __future__ import annotations

import asyncio
import atexit
import builtins
import os
import secrets
import shutil
import signal
import tempfile
import threading
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from faas.engines.base import (
    Capacity,
    ContainerConfig,
    ContainerEvent,
    ContainerState,
    Engine,
    ImageCommand,
    ManagedContainer,
)
from faas.engines.fake_instance import (
    EventStream,
    Image,
    Instance,
    Process,
    compile_runtime,
    in_bind,
    labels_match,
)
from faas.errors import ConfigError, DockerError, DockerUnavailable, FaasError, FunctionInitError

OPERATIONS = frozenset(
    {
        *("ping", "create", "start", "pause", "resume", "remove", "rename", "state"),
        *("address", "list", "logs", "events", "ensure_network", "image_labels", "read_archive"),
        "image_command",
    }
)
GATEWAY_ADDRESS = "127.0.0.1"  # instances share the host's network
_KILL_TIMEOUT = 5.0
_DEFAULT_NETWORKS = ("bridge", "host", "none")


class FakeEngine:
    """The `faas.engines.base.Engine` protocol over local runtime processes (see the module)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []  # (operation, container id/name/image or "")
        self._root = Path(tempfile.mkdtemp(prefix="faas-fake-"))
        self._images: dict[str, Image] = {}
        self._instances: dict[str, Instance] = {}
        self._networks = set(_DEFAULT_NETWORKS)
        self._failures: dict[str, deque[FaasError]] = {}
        self._available = True
        self._streams: set[EventStream] = set()
        self._lock = threading.Lock()
        _ENGINES.add(self)
        compile_runtime()

    # -- test hooks -----------------------------------------------------------------------

    def add_image(
        self,
        ref: str,
        function_dir: Path | None = None,
        *,
        labels: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> str:
        """Register (or replace) image `ref`; return its id. Without `function_dir` it is a
        generic runtime image (FAAS_GENERIC=1); `env` adds to or overrides IMAGE_ENV (host paths
        are kept: FAAS_DEPS_DIR=<a folder of installed packages> for a function's requirements)."""
        image = Image.of(ref, function_dir, labels or {}, env or {})
        self._images[ref] = image
        return image.id

    def fail_next(self, operation: str, error: FaasError) -> None:
        """Make the next `operation` (a name in OPERATIONS) raise `error`; calls queue up."""
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}: one of {sorted(OPERATIONS)}")
        self._failures.setdefault(operation, deque()).append(error)

    def set_available(self, available: bool) -> None:
        """False: every operation raises DockerUnavailable and every event stream breaks (the
        instances keep running, as containers do while dockerd restarts with live-restore)."""
        self._available = available
        if not available:
            for stream in self._subscribers():
                stream.put(DockerUnavailable("the fake engine is unavailable (set_available)"))

    def pid(self, container_id: str) -> int | None:
        """The process id of a running instance (paused included)."""
        instance = self._find(container_id)
        live = None if instance is None else instance.live
        return None if live is None else live.pid

    def host_path(self, container_id: str, path: str) -> Path | None:
        """The host path the instance sees at container path `path` (its binds, read-only
        ones included, its tmpfs and code folders); None for an unknown instance."""
        instance = self._find(container_id)
        return None if instance is None else Path(instance.translate(path))

    async def crash(self, container_id: str, signum: int = signal.SIGKILL) -> None:
        """Send `signum` to the instance and return once it has exited (exit code 128 + signum
        if the signal killed it; the runtime exits 0 on SIGTERM)."""
        instance = self._require(container_id)
        if instance.live is None:
            raise DockerError(f"container {container_id} is not running")
        await self._kill(instance, signum)

    async def oom_kill(self, container_id: str) -> None:
        """Kill the instance as its memory limit would: SIGKILL, 137, `oom_killed`, an `oom`
        event before the `die`."""
        instance = self._require(container_id)
        live = instance.live
        if live is None:
            raise DockerError(f"container {container_id} is not running")
        live.oom_killed = True
        self._publish(ContainerEvent(instance.id, "oom", instance.labels))
        await self._kill(instance, signal.SIGKILL)

    # -- the Engine protocol --------------------------------------------------------------

    async def ping(self) -> None:
        self._enter("ping")

    async def capacity(self) -> Capacity:
        self._enter("capacity")
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        return Capacity(cpus=os.cpu_count() or 0, memory=memory)

    async def create(self, config: ContainerConfig) -> str:
        self._enter("create", config.name)
        image = self._images.get(config.image) or next(
            (i for i in self._images.values() if i.id == config.image), None
        )
        if image is None:  # as faas.engines.docker translates Docker's ImageNotFound
            raise FunctionInitError(
                f"create container {config.name}: image not found ({config.image}); deploy again"
            )
        if config.network is not None and config.network not in self._networks:
            raise DockerError(f"network {config.network} not found (create {config.name})")
        socket = config.environment.get("FAAS_SOCKET", "")
        if not (config.command or config.entrypoint) and not in_bind(config, socket):
            raise ConfigError(
                "the fake engine serves runtimes on Unix sockets only, in a bind-mounted folder "
                f"(FAAS_TRANSPORT=unix): {config.name} has FAAS_SOCKET={socket!r}"
            )
        container_id = secrets.token_hex(32)
        name = config.name or f"fake-{container_id[:12]}"
        with self._lock:
            if any(i.name == name for i in self._instances.values()):
                raise DockerError(f'Conflict. The container name "/{name}" is already in use')
            scratch = self._root / container_id[:16]
            self._instances[container_id] = Instance(container_id, name, config, image, scratch)
        scratch.mkdir(parents=True)  # the root too, after a close()
        return container_id

    async def start(self, container_id: str) -> None:
        self._enter("start", container_id)
        instance = self._require(container_id)
        if instance.live is not None:
            return  # Docker answers 304: already started
        try:
            instance.start(self._exited(instance))
        except OSError as exc:
            raise DockerError(f"Docker refused to start container: {exc}") from exc

    async def pause(self, container_id: str) -> None:
        self._enter("pause", container_id)
        instance = self._require(container_id)
        live = instance.live
        if live is None or live.paused:
            state = "paused" if live else "not running"
            raise DockerError(f"Docker refused to pause container: {container_id} is {state}")
        live.signal(signal.SIGSTOP)
        live.paused = await live.wait_stopped()
        if not live.paused and live.exit is None:
            raise DockerError(f"container {container_id} did not stop on SIGSTOP")

    async def resume(self, container_id: str) -> None:
        self._enter("resume", container_id)
        live = self._require(container_id).live
        if live is None or not live.paused:
            raise DockerError(f"Docker refused to resume container: {container_id} is not paused")
        live.signal(signal.SIGCONT)
        live.paused = False

    async def remove(self, container_id: str) -> None:
        self._enter("remove", container_id)
        instance = self._find(container_id)
        if instance is None:
            return
        await self._kill(instance, signal.SIGKILL)
        with self._lock:
            self._instances.pop(instance.id, None)
        shutil.rmtree(instance.scratch, ignore_errors=True)
        self._publish(ContainerEvent(instance.id, "destroy", instance.labels))

    async def rename(self, container_id: str, name: str) -> None:
        self._enter("rename", container_id)
        instance = self._require(container_id)
        with self._lock:
            if any(i.name == name and i is not instance for i in self._instances.values()):
                raise DockerError(f'Conflict. The container name "/{name}" is already in use')
            instance.name = name

    async def state(self, container_id: str) -> ContainerState:
        self._enter("state", container_id)
        instance = self._find(container_id)
        if instance is None:
            return ContainerState(exists=False)
        return instance.state()

    async def address(self, container_id: str, network: str) -> str:
        self._enter("address", container_id)
        raise ConfigError(
            "the fake engine's instances have no IP address: it serves the Unix-socket "
            "transport only (FAAS_TRANSPORT=unix)"
        )

    async def list(self, labels: Mapping[str, str]) -> list[ManagedContainer]:
        self._enter("list")
        with self._lock:
            instances = list(self._instances.values())
        return [
            ManagedContainer(i.id, i.labels, i.status)
            for i in instances
            if labels_match(i.labels, labels)
        ]

    async def logs(
        self,
        container_id: str,
        *,
        tail: int | None = None,
        since: float | None = None,
        timestamps: bool = False,
        until: float | None = None,
        max_bytes: int | None = None,
    ) -> bytes:
        self._enter("logs", container_id)
        instance = self._find(container_id)
        if instance is None:
            return b""
        return instance.log.render(tail, since, timestamps, until, max_bytes)

    async def wait(self, container_id: str) -> int:
        while True:
            state = await self.state(container_id)
            if not state.running:
                return state.exit_code if state.exit_code is not None else -1
            await asyncio.sleep(0.005)

    async def output(self, container_id: str, stream: str, max_bytes: int) -> bytes:
        """The fake keeps one log of both streams: all of it counts as stdout."""
        if stream != "stdout":
            return b""
        return (await self.logs(container_id))[: max_bytes + 1]

    async def events(self, labels: Mapping[str, str]) -> AsyncIterator[ContainerEvent]:
        self._enter("events")
        stream = EventStream(labels)
        with self._lock:
            self._streams.add(stream)
        try:
            while True:
                item = await stream.queue.get()
                if item is None:
                    return
                if isinstance(item, FaasError):
                    raise item
                yield item
        finally:
            with self._lock:
                self._streams.discard(stream)

    async def ensure_network(self, name: str) -> str:
        self._enter("ensure_network", name)
        self._networks.add(name)
        return GATEWAY_ADDRESS

    async def image_labels(self, ref: str) -> dict[str, str] | None:
        self._enter("image_labels", ref)
        image = self._images.get(ref)
        return None if image is None else dict(image.labels)

    async def image_command(self, ref: str) -> ImageCommand | None:
        """Fake images have no ENTRYPOINT or CMD of their own: they run the config's command."""
        self._enter("image_command", ref)
        return None if ref not in self._images else ([], [])

    async def read_archive(self, image: str, path: str, labels: Mapping[str, str]) -> bytes | None:
        self._enter("read_archive", image)
        found = self._images.get(image)
        if found is None:
            raise FunctionInitError(f"read {path} from {image}: image not found; deploy again")
        return found.archive(path)

    async def close(self) -> None:
        """Kill every instance, end every event stream, delete the scratch folders."""
        self.shut_down()
        for stream in self._subscribers():
            stream.put(None)

    def shut_down(self) -> None:
        """Kill every instance, wait until each is reaped and delete the scratch folders
        (without an event loop: also run at interpreter exit)."""
        with self._lock:
            instances = list(self._instances.values())
            self._instances.clear()
        running = [i.live for i in instances if i.live is not None]
        for live in running:
            live.signal(signal.SIGKILL)
        for live in running:
            live.exited.wait(_KILL_TIMEOUT)
        shutil.rmtree(self._root, ignore_errors=True)

    # -- internals ------------------------------------------------------------------------

    def _enter(self, operation: str, subject: str = "") -> None:
        """Record the operation, then fail it if the engine is down or a failure is queued."""
        self.calls.append((operation, subject))
        if not self._available:
            raise DockerUnavailable(f"the fake engine is unavailable ({operation})")
        queued = self._failures.get(operation)
        if queued:
            raise queued.popleft()

    def _find(self, container_id: str) -> Instance | None:
        """By id or by name, as Docker accepts either."""
        with self._lock:
            found = self._instances.get(container_id)
            if found is None:
                found = next((i for i in self._instances.values() if i.name == container_id), None)
            return found

    def _require(self, container_id: str) -> Instance:
        found = self._find(container_id)
        if found is None:
            raise DockerError(f"No such container: {container_id}")
        return found

    async def _kill(self, instance: Instance, signum: int) -> None:
        live = instance.live
        if live is None:
            return
        live.signal(signum)
        if not await live.wait_exited(_KILL_TIMEOUT):
            raise DockerError(f"container {instance.id} did not exit on signal {signum}")

    def _exited(self, instance: Instance) -> Callable[[Process], None]:
        """What the process's watcher thread calls once the exit is recorded."""
        return lambda _: self._publish(ContainerEvent(instance.id, "die", instance.labels))

    def _subscribers(self) -> builtins.list[EventStream]:
        with self._lock:
            return list(self._streams)

    def _publish(self, event: ContainerEvent) -> None:
        for stream in self._subscribers():
            if labels_match(event.labels, stream.labels):
                stream.put(event)


_ENGINES: weakref.WeakSet[FakeEngine] = weakref.WeakSet()


@atexit.register
def _kill_everything() -> None:
    for engine in list(_ENGINES):
        engine.shut_down()


if TYPE_CHECKING:  # mypy checks here that FakeEngine keeps to the protocol
    _CONFORMS: Engine = FakeEngine()

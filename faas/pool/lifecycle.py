"""The engine side of one function instance: start it, wait until it answers, explain its death.

`Lifecycle` is the pool's only way to an engine (`faas.engines.base.Engine`) and, for starting
instances, to their contract (`faas.contracts.base.Contract`): it never blocks the loop itself.
A function's contract comes from its manifest (`contract:`; `faas.pool.contracts`); generic
runtime containers are always native (`/_/load` is the native runtime's).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from faas import keys
from faas.contracts.base import Contract, Endpoint, Placement
from faas.contracts.native import NativeContract, NativeEndpoint
from faas.contracts.transport import ConnectFailed
from faas.engines.base import (
    Capacity,
    ContainerConfig,
    ContainerEvent,
    ContainerState,
    Engine,
    ManagedContainer,
)
from faas.errors import (
    FaasError,
    FunctionCrashed,
    FunctionFailed,
    FunctionInitError,
    ImageMissing,
    OutOfMemory,
)
from faas.manifest.spec import FunctionSpec
from faas.pool.contracts import ContractChoice
from faas.pool.hardening import Shape, function_container, generic_container
from faas.pool.lambda_images import LAMBDA_IMAGE, ImageCommands, lambda_image_config
from faas.pool.secret_files import SecretFiles, SecretValues
from faas.registry.bindings import DataBindings
from faas.settings import Settings

_STATE_CHECK_INTERVAL = 0.05
_LOG_TAIL = 40
_EXIT_GRACE = 2.0


class ContainerGone(ConnectFailed):
    """The container had exited before the request was sent: it was never delivered."""


E = TypeVar("E", bound=Endpoint)


@dataclass
class Started(Generic[E]):
    """A container that answers, and what starting it cost (milliseconds)."""

    container_id: str
    endpoint: E
    create_ms: float
    start_ms: float
    ready_ms: float


class Lifecycle:
    """Starts, inspects and removes the instances of one gateway: the pool's only way to an
    engine. `stack_id()` is the stack's id, or "" while it is not known yet (Redis down)."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        gateway_id: str,
        stack_id: Callable[[], str],
        secrets: SecretValues | None = None,
        bindings: DataBindings | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.gateway_id = gateway_id
        self._stack_id = stack_id
        self._bindings = bindings  # a bound function's own Redis user (`redis:` in faas.yaml)
        self._capacity: Capacity | None = None
        self._contract = NativeContract(settings)
        self._contracts = ContractChoice(settings, self._contract)
        # container id -> what `remove` releases, and with which contract
        self._placements: dict[str, tuple[Contract[Endpoint], Placement]] = {}
        self._events_readers: set[asyncio.Task[object]] = set()
        self._network_ready = False
        self._lambda_images = ImageCommands(engine)
        self.secret_files = SecretFiles(settings.secret_mounts, gateway_id, secrets)

    @property
    def stack_id(self) -> str:
        return self._stack_id()

    async def close(self) -> None:
        self.secret_files.close()
        await self.engine.close()

    # -- what the pool asks of an engine ---------------------------------------------------

    async def ping(self) -> None:
        await self.engine.ping()

    async def host_capacity(self) -> Capacity:
        """The engine host's CPUs and memory (asked once: they do not change under us)."""
        if self._capacity is None:
            self._capacity = await self.engine.capacity()
        return self._capacity

    async def pause(self, container_id: str) -> None:
        await self.engine.pause(container_id)

    async def resume(self, container_id: str) -> None:
        await self.engine.resume(container_id)

    async def state(self, container_id: str) -> ContainerState:
        return await self.engine.state(container_id)

    async def rename(self, container_id: str, name: str) -> None:
        await self.engine.rename(container_id, name)

    async def owned(self) -> list[ManagedContainer]:
        """Every instance of this stack (any gateway's, any state); [] while it is unknown."""
        if not self.stack_id:
            return []
        return await self.engine.list({keys.LABEL_STACK: self.stack_id})

    async def image_exists(self, image: str) -> bool:
        return await self.engine.image_labels(image) is not None

    async def image_labels(self, image: str) -> dict[str, str] | None:
        return await self.engine.image_labels(image)

    async def read_code(self, image: str, path: str) -> bytes | None:
        """A tar of `path` in `image`, through a labelled never-started container."""
        labels = {
            keys.LABEL_MANAGED: "true",
            keys.LABEL_ROLE: keys.ROLE_GENERIC,
            keys.LABEL_GATEWAY: self.gateway_id,
            keys.LABEL_STACK: self.stack_id,
        }
        return await self.engine.read_archive(image, path, labels)

    async def events(self) -> AsyncIterator[ContainerEvent]:
        """Deaths of this gateway's instances, until the engine's stream breaks (then
        `FaasError`); `stop_events()` ends it from outside."""
        task = asyncio.current_task()
        assert task is not None
        self._events_readers.add(task)
        try:
            async for event in self.engine.events({keys.LABEL_GATEWAY: self.gateway_id}):
                yield event
        finally:
            self._events_readers.discard(task)

    def stop_events(self) -> None:
        """Cancel the tasks reading `events()`: the engine then closes its stream."""
        for task in self._events_readers:
            task.cancel()

    async def start(self, spec: FunctionSpec, image: str) -> Started[Endpoint]:
        """Create and start a container for `spec`, return once its runtime accepts calls."""
        service_env = self._service_env(spec.network)
        if self._bindings is not None:  # refreshed on every start: survives a Redis restart
            reachable = self.settings.function_redis_url or self.settings.redis_url
            service_env.update(await self._bindings.environment(spec, reachable))

        lambda_command = None  # a Lambda image: the Runtime API shim runs its own command
        if spec.contract == LAMBDA_IMAGE:
            lambda_command = await self._lambda_images.of(image)
        secret_folder = await self.secret_files.prepare(spec)  # None: it names no secrets

        def config(name: str, placement: Placement) -> ContainerConfig:
            cfg = function_container(
                spec,
                image,
                container_name=name,
                gateway_id=self.gateway_id,
                placement=placement,
                stack_id=self.stack_id,
                service_env=service_env,
            )
            if lambda_command is not None:
                cfg = lambda_image_config(cfg, lambda_command)
            return self.secret_files.mount(cfg, secret_folder)

        try:
            contract = self._contracts.of(spec)
            started: Started[Endpoint] = await self._launch(
                contract, config, f"faas-{spec.name}", spec.network, spec
            )
        except BaseException as exc:
            self.secret_files.discard(secret_folder)
            if isinstance(exc, ImageMissing):  # removed since the deploy: the answer is 502
                raise FunctionInitError(exc.message) from exc
            raise
        self.secret_files.own(started.container_id, secret_folder)
        return started

    async def start_generic(self, shape: Shape, image: str) -> Started[NativeEndpoint]:
        """Create and start a generic runtime container (no function loaded yet)."""

        def config(name: str, placement: Placement) -> ContainerConfig:
            return generic_container(
                shape,
                image,
                container_name=name,
                gateway_id=self.gateway_id,
                placement=placement,
                stack_id=self.stack_id,
                service_env=self._service_env(shape.network),
            )

        return await self._launch(self._contract, config, "faas-generic", shape.network, None)

    async def _launch(
        self,
        contract: Contract[E],
        config: Callable[[str, Placement], ContainerConfig],
        prefix: str,
        network: bool,
        spec: FunctionSpec | None,
    ) -> Started[E]:
        token = secrets.token_hex(6)
        placement = contract.place(token, network)
        container_id: str | None = None
        try:
            if placement.network is not None and not self._network_ready:
                await self.engine.ensure_network(placement.network)
                self._network_ready = True
            t0 = time.perf_counter()
            container_id = await self.engine.create(config(f"{prefix}-{token}", placement))
            t1 = time.perf_counter()
            await self.engine.start(container_id)
            t2 = time.perf_counter()
            host = ""
            if placement.over_network:
                assert placement.network is not None
                host = await self.engine.address(container_id, placement.network)
            await self._wait_ready(contract, spec, container_id, placement, host)
            t3 = time.perf_counter()
        except BaseException:
            try:
                if container_id is not None:
                    await asyncio.shield(self.engine.remove(container_id))
            finally:
                contract.release(placement)
            raise
        self._placements[container_id] = (contract, placement)
        endpoint = contract.endpoint(placement, host)
        return Started(container_id, endpoint, (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3)

    async def remove(self, container_id: str, endpoint: Endpoint | None = None) -> None:
        """Kill and remove the instance, and release its placement (socket folder)."""
        try:
            await self.engine.remove(container_id)
        finally:
            if endpoint is not None:
                endpoint.close()
            self.secret_files.release(container_id)
            placed = self._placements.pop(container_id, None)
            if placed is not None:
                placed[0].release(placed[1])

    async def logs(
        self,
        container_id: str,
        since: float | None = None,
        *,
        until: float | None = None,
        tail: int | None = None,
        max_bytes: int | None = None,
    ) -> list[str]:
        """The container's log lines, each prefixed with the engine's RFC 3339 timestamp
        (bounds as for `Engine.logs`)."""
        output = await self.engine.logs(
            container_id, timestamps=True, since=since, until=until, tail=tail, max_bytes=max_bytes
        )
        return output.decode("utf-8", "replace").splitlines()

    async def diagnose(
        self, spec: FunctionSpec, container_id: str, sent_at: float | None = None
    ) -> FunctionFailed:
        """Why the container stopped answering: OOM, an init failure, or a crash.

        With `sent_at` (epoch seconds): a container that had already exited before the
        request was sent never received it, which is `ContainerGone` (safe to retry).
        """
        # The runtime never drops a connection mid-call unless its process is dying, and the
        # connection breaks a moment before the engine records the exit (and why): wait for it.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _EXIT_GRACE
        state = await self.engine.state(container_id)
        while state.running and loop.time() < deadline:
            await asyncio.sleep(0.02)
            state = await self.engine.state(container_id)
        if state.running:
            return FunctionCrashed(f"function {spec.name!r} dropped the connection mid-call")
        if sent_at is not None and state.finished_at is not None and state.finished_at < sent_at:
            return ContainerGone(f"function {spec.name!r}: its container had already exited")
        lines = await self._tail(container_id)
        if state.oom_killed:  # exit 137 alone is any SIGKILL: only the engine's flag says OOM
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
        try:
            output = await self.engine.logs(container_id, tail=_LOG_TAIL)
        except FaasError:  # already being removed: nothing left to explain it
            return ""
        return output.decode("utf-8", "replace")

    def _service_env(self, wants_network: bool) -> dict[str, str]:
        """Where a function with network finds the gateway (when configured). Redis only
        through a data binding: the platform's own Redis is never handed to a function."""
        env: dict[str, str] = {}
        if wants_network and self.settings.function_gateway_url:
            env["FAAS_GATEWAY_URL"] = self.settings.function_gateway_url
        return env

    async def _wait_ready(
        self,
        contract: Contract[E],
        spec: FunctionSpec | None,
        container_id: str,
        placement: Placement,
        host: str,
    ) -> None:
        """Poll the contract's readiness check until it passes (a native runtime binds only
        after loading the handler; a generic one, `spec` None, binds at once)."""
        what = f"function {spec.name!r}" if spec else "a generic runtime container"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.ready_timeout
        next_check = loop.time() + _STATE_CHECK_INTERVAL
        delay = 0.001
        while not await contract.ready(placement, host):
            now = loop.time()
            if now >= next_check:
                next_check = now + _STATE_CHECK_INTERVAL
                state = await self.engine.state(container_id)
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

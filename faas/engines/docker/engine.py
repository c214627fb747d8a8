"""`DockerEngine`: the `Engine` of one Docker host, over the blocking `DockerBackend`."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from faas.engines.base import (
    Capacity,
    ContainerConfig,
    ContainerEvent,
    ContainerState,
    ImageCommand,
    ManagedContainer,
    newest_within,
)
from faas.engines.docker.backend import DockerBackend

T = TypeVar("T")


class DockerEngine:
    """The `Engine` of one Docker host: the backend's blocking calls on a dedicated thread
    pool, so a burst of cold starts is not serialised behind asyncio's small default executor.
    It closes the backend only if it made it."""

    def __init__(self, backend: DockerBackend | None = None, *, threads: int = 32) -> None:
        self._owns_backend = backend is None
        self._backend = backend or DockerBackend()
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="docker")

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def ping(self) -> None:
        await self._run(self._backend.ping)

    async def capacity(self) -> Capacity:
        info = await self._run(self._backend.info)
        return Capacity(cpus=int(info.get("NCPU") or 0), memory=int(info.get("MemTotal") or 0))

    async def create(self, config: ContainerConfig) -> str:
        return await self._run(self._backend.create_container, config)

    async def start(self, container_id: str) -> None:
        await self._run(self._backend.start_container, container_id)

    async def pause(self, container_id: str) -> None:
        await self._run(self._backend.pause, container_id)

    async def resume(self, container_id: str) -> None:
        await self._run(self._backend.unpause, container_id)

    async def remove(self, container_id: str) -> None:
        await self._run(self._backend.remove, container_id)

    async def rename(self, container_id: str, name: str) -> None:
        await self._run(self._backend.rename, container_id, name)

    async def state(self, container_id: str) -> ContainerState:
        return await self._run(self._backend.state, container_id)

    async def address(self, container_id: str, network: str) -> str:
        return await self._run(self._backend.container_ip, container_id, network)

    async def list(self, labels: Mapping[str, str]) -> list[ManagedContainer]:
        return await self._run(self._backend.list_managed, labels)

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
        def read() -> bytes:
            chunks = self._backend.logs(
                container_id, tail=tail, since=since, timestamps=timestamps, until=until
            )
            return newest_within(chunks, max_bytes)

        return await self._run(read)

    async def wait(self, container_id: str) -> int:
        return await self._run(self._backend.wait, container_id)

    async def output(self, container_id: str, stream: str, max_bytes: int) -> bytes:
        return await self._run(self._backend.output, container_id, stream, max_bytes)

    async def events(self, labels: Mapping[str, str]) -> AsyncIterator[ContainerEvent]:
        """Docker's blocking event stream, read by a thread of its own (it never ends by
        itself): closing or cancelling this iterator closes the stream and ends the thread."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[ContainerEvent | BaseException | None] = asyncio.Queue()

        def follow() -> None:
            try:
                for container_id, action, attributes in self._backend.events(labels):
                    event = ContainerEvent(container_id, action, attributes)
                    loop.call_soon_threadsafe(queue.put_nowait, event)
                loop.call_soon_threadsafe(queue.put_nowait, None)
            except BaseException as exc:  # handed to the loop, raised there
                with contextlib.suppress(RuntimeError):  # the loop has closed
                    loop.call_soon_threadsafe(queue.put_nowait, exc)

        threading.Thread(target=follow, name="faas-events", daemon=True).start()
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self._backend.close_events()

    async def ensure_network(self, name: str) -> str:
        return await self._run(self._backend.ensure_network, name)

    async def image_labels(self, ref: str) -> dict[str, str] | None:
        return await self._run(self._backend.image_labels, ref)

    async def image_command(self, ref: str) -> ImageCommand | None:
        return await self._run(self._backend.image_command, ref)

    async def read_archive(self, image: str, path: str, labels: Mapping[str, str]) -> bytes | None:
        return await self._run(self._backend.read_archive, image, path, labels)

    async def close(self) -> None:
        self._backend.close_events()
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._owns_backend:
            self._backend.close()

"""The container-engine seam: what the core needs from an engine, and nothing more.

An engine creates, starts, pauses, resumes, inspects, lists and removes *instances* (containers
on Docker, tasks on Swarm, local processes in the fake engine), reports their deaths as events,
returns their logs, and answers a few image questions the pool asks. Every method is async and
raises only `faas.errors` types (`EngineUnavailable` when the engine does not answer).

Implementations: `faas.engines.docker.DockerEngine` (one Docker host), `faas.engines.fake.
FakeEngine` (runs the real in-container runtime as local processes: the core's tests need no
Docker). A Swarm engine is a third module here; nothing above this package changes for it.
"""

from __future__ import annotations

import collections
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

ImageCommand = tuple[list[str], list[str]]  # an image's (ENTRYPOINT, CMD), each [] when unset


@dataclass(frozen=True)
class ContainerConfig:
    """Everything an engine needs to create one instance (hardening decided by `faas.pool`)."""

    image: str
    name: str
    labels: Mapping[str, str]
    environment: Mapping[str, str]
    command: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None  # None: the image's own (Lambda images replace it)
    user: str = "10001:10001"
    memory: int = 128 * 1024 * 1024
    cpus: float = 0.5
    pids_limit: int = 128
    read_only: bool = True
    tmpfs: Mapping[str, str] = field(default_factory=lambda: {"/tmp": "rw,size=64m,mode=1777"})
    cap_drop: tuple[str, ...] = ("ALL",)
    cap_add: tuple[str, ...] = ()  # generic runtimes only: to become the function's user
    security_opt: tuple[str, ...] = ("no-new-privileges",)
    network: str | None = None  # None: no network at all
    binds: Mapping[str, str] = field(default_factory=dict)  # host dir -> container dir (rw)
    # (host dir, container dir) pairs mounted read-only; a host dir may appear more than once.
    readonly_binds: tuple[tuple[str, str], ...] = ()
    ports: Mapping[int, list[tuple[str, int]]] = field(default_factory=dict)  # services only


@dataclass(frozen=True)
class ContainerState:
    """What the engine says about an instance; `exists` is False once it is gone."""

    exists: bool
    running: bool = False
    paused: bool = False
    exit_code: int | None = None
    oom_killed: bool = False
    finished_at: float | None = None  # epoch seconds, once it has exited


@dataclass(frozen=True)
class ManagedContainer:
    """An instance found by its labels."""

    id: str
    labels: dict[str, str]
    state: str  # created, running, paused, exited, dead


@dataclass(frozen=True)
class Capacity:
    """What the engine's host has: its CPUs and memory in bytes (0: unknown)."""

    cpus: int
    memory: int


@dataclass(frozen=True)
class ContainerEvent:
    """An instance died (`die`), was OOM-killed (`oom`) or was removed (`destroy`)."""

    container_id: str
    action: str
    labels: dict[str, str]


class Engine(Protocol):
    """One container engine, as the core sees it."""

    async def ping(self) -> None:
        """Return when the engine answers; raise `EngineUnavailable` otherwise."""

    async def capacity(self) -> Capacity:
        """The host's CPUs and memory, so limits it cannot meet are refused up front."""

    # -- instances ------------------------------------------------------------------------
    async def create(self, config: ContainerConfig) -> str:
        """Create (not start) an instance; return its id."""

    async def start(self, container_id: str) -> None: ...

    async def pause(self, container_id: str) -> None: ...

    async def resume(self, container_id: str) -> None: ...

    async def remove(self, container_id: str) -> None:
        """Kill and remove; an instance already gone counts as removed."""

    async def rename(self, container_id: str, name: str) -> None: ...

    async def state(self, container_id: str) -> ContainerState: ...

    async def address(self, container_id: str, network: str) -> str:
        """The instance's IP address on `network` (TCP contracts)."""

    async def list(self, labels: Mapping[str, str]) -> list[ManagedContainer]:
        """Instances labelled faas.managed=true and every label in `labels`, in any state."""

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
        """The instance's output so far (empty once it is gone): entries from `since` up to
        `until` (epoch seconds, inclusive), the last `tail` of them, and of those only the
        newest whole entries that fit in `max_bytes` (a log is never read whole into memory)."""

    async def wait(self, container_id: str) -> int:
        """Block until the instance exits; its exit code (task images)."""

    async def output(self, container_id: str, stream: str, max_bytes: int) -> bytes:
        """The first `max_bytes` (+1, to tell it was cut) of its `stream`, "stdout" or
        "stderr", without timestamps (task images: stdout is the answer)."""

    def events(self, labels: Mapping[str, str]) -> AsyncIterator[ContainerEvent]:
        """Deaths of matching instances until the stream breaks (`EngineUnavailable`)."""

    # -- networks and images --------------------------------------------------------------
    async def ensure_network(self, name: str) -> str:
        """Create the functions' network if missing; return its gateway address."""

    async def image_labels(self, ref: str) -> dict[str, str] | None:
        """The image's labels; None when there is no such image."""

    async def image_command(self, ref: str) -> ImageCommand | None:
        """The image's (ENTRYPOINT, CMD); None when there is no such image (Lambda images)."""

    async def read_archive(self, image: str, path: str, labels: Mapping[str, str]) -> bytes | None:
        """A tar of `path` inside `image` (None when it has no such path)."""

    async def close(self) -> None: ...


def newest_within(chunks: Iterable[bytes], max_bytes: int | None) -> bytes:
    """The last whole chunks (Docker sends one per log entry) that fit in `max_bytes`, holding
    no more than that (plus one chunk) in memory at any time."""
    if max_bytes is None:
        return b"".join(chunks)
    kept: collections.deque[bytes] = collections.deque()
    size = 0
    for chunk in chunks:
        kept.append(chunk)
        size += len(chunk)
        while size > max_bytes and kept:
            size -= len(kept.popleft())
    return b"".join(kept)

"""The warm-or-cold decision, as pure bookkeeping with the clock passed in.

No engine and no I/O here: the call path asks `FunctionPool` what to do, the instance
management does the engine work around it, and both report back. That keeps every policy (reuse,
keep-alive, scale limits, minimum instances) testable in microseconds with a fake clock.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from faas.manifest.spec import FunctionSpec, Scale


class State(StrEnum):
    CREATING = "creating"  # container being created and started, not yet answering
    READY = "ready"  # idle, answering
    BUSY = "busy"  # at its concurrency limit
    PAUSED = "paused"  # frozen after an idle grace period; resumed on demand
    DRAINING = "draining"  # finishing its calls, then removed (replaced by a redeploy)
    DEAD = "dead"  # failed or removed; never used again


class StartKind(StrEnum):
    """How a call was served: the `X-Faas-Start` header."""

    COLD = "cold"  # a new container was started for it
    PREWARM = "prewarm"  # first call of a container started ahead of demand
    PAUSED = "paused"  # a paused container was resumed for it
    WARM = "warm"  # an idle running container served it


_ids = itertools.count(1)


@dataclass(eq=False)
class Instance:
    """One container of a function, as the pool sees it."""

    function: str
    image: str
    created_at: float
    prewarmed: bool = False
    state: State = State.CREATING
    inflight: int = 0
    calls: int = 0
    last_used: float = 0.0
    container_id: str | None = None
    endpoint: Any = None  # the invoker's handle (transport channel); opaque here
    transition: Any = None  # the invoker's pending pause, awaited before a resume; opaque here
    seq: int = field(default_factory=lambda: next(_ids))

    @property
    def live(self) -> bool:
        """Counted against scale.max and the memory budget."""
        return self.state in (State.CREATING, State.READY, State.BUSY, State.PAUSED)

    @property
    def idle(self) -> bool:
        return self.state in (State.READY, State.PAUSED) and self.inflight == 0


@dataclass(frozen=True)
class Reuse:
    instance: Instance
    kind: StartKind


@dataclass(frozen=True)
class Create:
    """Start a new container (the invoker creates the Instance via `FunctionPool.reserve`)."""


@dataclass(frozen=True)
class Wait:
    """At scale.max with every container busy: wait for a release."""


@dataclass(frozen=True)
class Evict:
    """A forced cold start at scale.max: remove this idle container, then start a new one
    (waiting for a busy one to free up would not give the caller the cold start it asked)."""

    instance: Instance


Decision = Reuse | Create | Wait | Evict


class FunctionPool:
    """The containers of one function and the policy that picks one per call."""

    def __init__(self, spec: FunctionSpec, image: str) -> None:
        self.spec = spec
        self.image = image
        self.instances: list[Instance] = []
        self.init_failures = 0
        self.backoff_until = 0.0
        self.last_init_error: Exception | None = None

    def update(self, spec: FunctionSpec, image: str) -> list[Instance]:
        """A redeploy: new calls go to the new image/config; returns instances to drain."""
        changed = image != self.image or _container_facts(spec) != _container_facts(self.spec)
        self.spec, self.image = spec, image
        if not changed:
            return []
        self.init_ok()  # new code: a broken version's back-off does not carry over
        return self.retire()

    def retire(self) -> list[Instance]:
        """Every live instance starts draining (a redeploy, a changed secret); returns them."""
        stale = [i for i in self.instances if i.live]
        for instance in stale:
            instance.state = State.DRAINING
        return stale

    def decide(self, *, force_cold: bool = False) -> Decision:
        if not force_cold:
            # Most recently used first, so the others stay idle long enough to expire. One
            # pass without allocations: this runs on every warm call.
            ready: Instance | None = None
            paused: Instance | None = None
            for i in self.instances:
                if i.state is State.READY:
                    if ready is None or i.last_used >= ready.last_used:
                        ready = i
                elif i.state is State.PAUSED and (
                    paused is None or i.last_used >= paused.last_used
                ):
                    paused = i
            if ready is not None:
                warm = StartKind.PREWARM if ready.prewarmed and ready.calls == 0 else StartKind.WARM
                return Reuse(ready, warm)
            if paused is not None:
                return Reuse(paused, StartKind.PAUSED)
        if self.live_count() < self.spec.scale.max:
            return Create()
        if force_cold:
            idle = [i for i in self.instances if i.idle]
            if idle:
                return Evict(min(idle, key=lambda i: i.last_used))
        return Wait()

    def live_count(self) -> int:
        return sum(1 for i in self.instances if i.live)

    def reserve(self, now: float, *, prewarmed: bool = False) -> Instance:
        """Count a container that is being started against scale.max."""
        instance = Instance(self.spec.name, self.image, created_at=now, prewarmed=prewarmed)
        self.instances.append(instance)
        return instance

    def ready(self, instance: Instance, now: float) -> None:
        instance.state = State.READY
        instance.last_used = now

    def acquire(self, instance: Instance) -> None:
        instance.inflight += 1
        instance.calls += 1
        if instance.state is State.PAUSED:
            instance.state = State.READY  # resumed by the caller that picked it
        if instance.state is State.READY and instance.inflight >= self.spec.concurrency:
            instance.state = State.BUSY

    def release(self, instance: Instance, now: float) -> None:
        instance.inflight -= 1
        instance.last_used = now
        if instance.state is State.BUSY and instance.inflight < self.spec.concurrency:
            instance.state = State.READY

    def discard(self, instance: Instance) -> None:
        instance.state = State.DEAD
        if instance in self.instances:
            self.instances.remove(instance)

    def expired(self, now: float) -> list[Instance]:
        """Idle containers past keep_alive, oldest first, never going below scale.min."""
        idle = sorted((i for i in self.instances if i.idle), key=lambda i: i.last_used)
        spare = self.live_count() - self.spec.scale.min
        due = [i for i in idle if now - i.last_used >= self.spec.keep_alive]
        return due[: max(spare, 0)]

    def to_pause(self, now: float, grace: float) -> list[Instance]:
        """Running idle containers unused for `grace` seconds (0 turns pausing off)."""
        if grace <= 0:
            return []
        return [
            i
            for i in self.instances
            if i.state is State.READY and i.inflight == 0 and now - i.last_used >= grace
        ]

    def pause(self, instance: Instance) -> None:
        instance.state = State.PAUSED

    # -- init failures: a broken function must not start a container per request --------------

    def init_failed(self, now: float, error: Exception, base: float, cap: float) -> float:
        """Record a failed start; returns the back-off (doubling from `base` up to `cap`)."""
        self.init_failures += 1
        delay: float = min(base * 2.0 ** (self.init_failures - 1), cap)
        self.backoff_until = now + delay
        self.last_init_error = error
        return delay

    def init_ok(self) -> None:
        self.init_failures = 0
        self.backoff_until = 0.0
        self.last_init_error = None

    def backing_off(self, now: float) -> float:
        """Seconds left in the back-off after a failed start (0 when none)."""
        return max(self.backoff_until - now, 0.0) if self.last_init_error else 0.0

    def memory_in_use(self) -> int:
        return self.live_count() * self.spec.memory

    def drained(self) -> list[Instance]:
        """Draining containers whose calls have finished."""
        return [i for i in self.instances if i.state is State.DRAINING and i.inflight == 0]

    def deficit(self) -> int:
        """How many containers to start to keep scale.min ready."""
        return max(self.spec.scale.min - self.live_count(), 0)

    def counts(self) -> dict[str, int]:
        out = {state.value: 0 for state in State if state is not State.DEAD}
        for instance in self.instances:
            if instance.state is not State.DEAD:
                out[instance.state.value] += 1
        return out

    def __iter__(self) -> Iterator[Instance]:
        return iter(list(self.instances))


def _container_facts(spec: FunctionSpec) -> FunctionSpec:
    """The spec without what never reaches a container (scale, labels, annotations): scaling
    a function (OpenFaaS's scale-function) must not replace its warm containers."""
    return dataclasses.replace(spec, scale=Scale(), labels={}, annotations={})

"""Task images (`contract: task`, the 2016 article's `client.run(image, [voter_id, vote])`):
every call runs the image once with the call's arguments, its stdout is the answer's body and
its exit code the status.

Arguments: a JSON array body (`["42", "yes"]`; numbers and booleans become their JSON text),
else the repeated `arg` query parameters (`?arg=42&arg=yes`), else none. They replace the
image's CMD, after its ENTRYPOINT, as `docker run IMAGE ARG...` does.

Exit 0 → 200 with stdout as the body (Content-Type application/json when it parses as JSON,
else application/octet-stream); any other exit →
502 `{"error": {"code": "task_failed", "exit_code", "stderr", "message"}}` with stderr's tail;
past the function's timeout → killed, 504; its memory limit → 502 oom. Whatever happens, the
container is removed right after the answer, in the background (awaited when the gateway
stops; the reconciler removes what a dead gateway left). At most scale.max runs at once per
function; a call waits up to FAAS_QUEUE_TIMEOUT for a free slot, then 429.

Pre-created containers cannot serve here: the arguments are fixed when a container is created
(Docker has no way to change the command of a created container), so the create phase stays
on the call's path (benchmarks/image_bench.py measures it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import replace
from urllib.parse import parse_qsl

from faas import keys
from faas.contracts.base import CallRequest, CallResponse, Placement
from faas.engines.base import Engine
from faas.errors import (
    AtScaleLimit,
    BadRequest,
    FunctionInitError,
    FunctionTimeout,
    ImageMissing,
    OutOfMemory,
    ResponseTooLarge,
)
from faas.manifest.spec import FunctionSpec
from faas.pool.hardening import function_container
from faas.pool.lifecycle import Lifecycle
from faas.pool.trace import CallTrace
from faas.settings import Settings

log = logging.getLogger("faas.tasks")

MAX_ARGS = 256
STDERR_TAIL = 2048


def task_arguments(request: CallRequest) -> tuple[str, ...]:
    """The call's arguments (see the module doc); BadRequest names what is wrong."""
    body = request.body.strip()
    if body:
        try:
            value = json.loads(body)
        except ValueError:
            raise BadRequest(
                'body: a task takes a JSON array of arguments, like ["42", "yes"]'
            ) from None
        if not isinstance(value, list):
            raise BadRequest(f"body: must be a JSON array of arguments, got {type(value).__name__}")
        args = [_argument(item, index) for index, item in enumerate(value)]
    else:
        args = [v for k, v in parse_qsl(request.query.decode("latin-1")) if k == "arg"]
    if len(args) > MAX_ARGS:
        raise BadRequest(f"body: at most {MAX_ARGS} arguments, got {len(args)}")
    return tuple(args)


def _argument(item: object, index: int) -> str:
    if isinstance(item, str):
        text = item
    elif isinstance(item, bool | int | float):
        text = json.dumps(item)
    else:
        raise BadRequest(f"body[{index}]: an argument must be a string or number, got {item!r}")
    if "\0" in text:
        raise BadRequest(f"body[{index}]: must not contain a NUL character")
    return text


class TaskRunner:
    """Runs task images, one container per call, bounded by each function's scale.max."""

    def __init__(
        self, lifecycle: Lifecycle, spawn: Callable[[Awaitable[None]], None] | None = None
    ) -> None:
        self.lifecycle = lifecycle
        # Removal runs after the answer (the pool's background tasks, awaited at shutdown):
        # the caller does not wait for Docker to delete an exited container.
        self._spawn = spawn
        self._running: dict[str, int] = defaultdict(int)
        self._freed: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self._network_ready = False

    @property
    def engine(self) -> Engine:
        return self.lifecycle.engine

    @property
    def settings(self) -> Settings:
        return self.lifecycle.settings

    def running(self, name: str) -> int:
        return self._running[name]

    async def run(
        self, spec: FunctionSpec, image: str, request: CallRequest, call_id: str, trace: CallTrace
    ) -> CallResponse:
        args = task_arguments(request)  # a bad request never takes a slot
        await self._take_slot(spec, trace)
        try:
            return await self._run(spec, image, args, trace)
        finally:
            self._running[spec.name] -= 1
            self._freed[spec.name].set()

    async def _take_slot(self, spec: FunctionSpec, trace: CallTrace) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.settings.queue_timeout
        while self._running[spec.name] >= spec.scale.max:
            left = deadline - loop.time()
            if left <= 0:
                raise AtScaleLimit(
                    f"function {spec.name!r} is running {spec.scale.max} tasks (scale.max) and "
                    f"none finished within {self.settings.queue_timeout:g}s: raise scale.max "
                    "in its faas.yaml, or retry later",
                    retry_after=1.0,
                )
            event = self._freed[spec.name]
            event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), left)
        if loop.time() > started:
            trace.queue = (loop.time() - started) * 1e3
        self._running[spec.name] += 1

    async def _run(
        self, spec: FunctionSpec, image: str, args: tuple[str, ...], trace: CallTrace
    ) -> CallResponse:
        network = self.settings.function_network if spec.network else None
        if network is not None and not self._network_ready:
            await self.engine.ensure_network(network)
            self._network_ready = True
        cfg = function_container(
            spec,
            image,
            container_name=f"faas-{spec.name}-task-{secrets.token_hex(6)}",
            gateway_id=self.lifecycle.gateway_id,
            placement=Placement(network=network, environment={}),
            stack_id=self.lifecycle.stack_id,
        )
        labels = {**cfg.labels, keys.LABEL_ROLE: keys.ROLE_TASK}
        cfg = replace(cfg, command=args, labels=labels)
        container_id: str | None = None
        t0 = time.perf_counter()
        try:
            try:
                container_id = await self.engine.create(cfg)
            except ImageMissing as exc:
                raise FunctionInitError(exc.message) from exc
            t1 = time.perf_counter()
            await self.engine.start(container_id)
            t2 = time.perf_counter()
            trace.create, trace.start = (t1 - t0) * 1e3, (t2 - t1) * 1e3
            try:
                code = await asyncio.wait_for(self.engine.wait(container_id), spec.timeout)
            except TimeoutError:
                raise FunctionTimeout(
                    f"task {spec.name!r} ran past its timeout ({spec.timeout:g}s) and was "
                    "killed: raise `timeout` in its faas.yaml if the work needs longer"
                ) from None
            trace.handler = (time.perf_counter() - t2) * 1e3
            return await self._answer(spec, container_id, code)
        finally:
            if container_id is not None:
                if self._spawn is not None:
                    self._spawn(self._remove(container_id))
                else:
                    await asyncio.shield(self._remove(container_id))

    async def _answer(self, spec: FunctionSpec, container_id: str, code: int) -> CallResponse:
        limit = self.settings.max_response
        if code == 0:
            stdout = await self.engine.output(container_id, "stdout", limit)
            if len(stdout) > limit:
                raise ResponseTooLarge(
                    f"task {spec.name!r} wrote more than FAAS_MAX_RESPONSE ({limit}) bytes "
                    "to stdout: write less (or a link to it), or raise the setting"
                )
            return CallResponse(200, [(b"content-type", _content_type(stdout))], stdout)
        state = await self.engine.state(container_id)
        if state.oom_killed:
            raise OutOfMemory(
                f"task {spec.name!r} ran out of memory (limit {spec.memory // 2**20}Mi): "
                "raise `memory` in its faas.yaml"
            )
        stderr = await self.engine.output(container_id, "stderr", 1 << 20)
        tail = stderr[-STDERR_TAIL:].decode("utf-8", "replace")
        error = {
            "code": "task_failed",
            "message": f"task {spec.name!r} exited with code {code}",
            "exit_code": code,
            "stderr": tail,
        }
        body = json.dumps({"error": error}).encode()
        return CallResponse(502, [(b"content-type", b"application/json")], body)

    async def _remove(self, container_id: str) -> None:
        try:
            await self.engine.remove(container_id)
        except Exception as exc:  # the reconciler removes it once this gateway is gone
            log.warning("could not remove task container %s: %s", container_id[:12], exc)


def _content_type(stdout: bytes) -> bytes:
    try:
        json.loads(stdout)
    except ValueError:
        return b"application/octet-stream"
    return b"application/json"

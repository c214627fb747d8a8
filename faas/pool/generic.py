"""Generic runtime containers: started ahead of demand, specialised into a function on its call.

A function without dependencies of its own needs nothing from its image but its code. Rather
than create and start a container for its cold call (~200 ms here), the invoker takes a
running generic runtime of the same shape (limits, network) and sends it the code with
`POST /_/load` (a few ms). The call is then served as `prewarm`, with a `load` phase in
Server-Timing. This is OpenWhisk's stem-cell pool and Fission's pool manager on one host.

The code comes out of the function's image once (`/opt/faas/function`, with the bytecode
compiled at build time) and is kept in memory per image. Functions with requirements.txt, or
built on another base image, are started cold as before.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from faas.build.code_bundle import (
    CodeFile,
    CodeTooLarge,
    files_from_tar,
    ineligible_reason,
    load_request,
)
from faas.contracts.native import NativeEndpoint
from faas.contracts.transport import DeliveryFailed
from faas.errors import FaasError, FunctionCrashed, FunctionFailed, FunctionInitError
from faas.manifest.openfaas import NODE
from faas.manifest.spec import FunctionSpec
from faas.pool.dev_code import DevCodes
from faas.pool.hardening import FUNCTION_DIR, Shape, function_env
from faas.pool.lifecycle import Lifecycle, Started
from faas.settings import Settings

log = logging.getLogger(__name__)

GAUGE_NAME = "(generic)"  # never a function's name: those are DNS labels
START_RETRY = 10.0  # seconds before trying again after a spare failed to start


@dataclass
class Spare:
    shape: Shape
    started: Started[NativeEndpoint]


class GenericPool:
    """The generic runtime containers of one gateway, `settings.generic_pool` per shape.

    `runtime_image()` finds or builds the generic runtime image for the base image: its tag
    and the base image's id, or None when the base image is not present.
    """

    def __init__(
        self,
        lifecycle: Lifecycle,
        settings: Settings,
        clock: Callable[[], float],
        runtime_image: Callable[[], Awaitable[tuple[str, str] | None]],
    ) -> None:
        self.lifecycle = lifecycle
        self.runtime_image = runtime_image
        self.settings = settings
        self.clock = clock
        self.size = settings.generic_pool
        self.image: str | None = None
        self.base_id = ""
        self.status = "off (FAAS_GENERIC_POOL=0)" if self.size == 0 else "preparing"
        self._spares: list[Spare] = []
        self._starting: dict[Shape, int] = {}
        self._code: dict[str, list[CodeFile] | str] = {}  # image -> its code, or why not
        self._functions: dict[str, tuple[str, Shape]] = {}  # name -> its image and shape
        self._users: dict[str, set[str]] = {}  # image -> the functions using it
        self._unread: set[str] = set()  # images whose code is still to be read
        self._wanted: set[Shape] | None = None  # None: to be recomputed
        self._tasks: set[asyncio.Future[None]] = set()
        self._retry_at = 0.0
        self._closed = False
        self.dev = DevCodes()  # code pushed by `faas dev` (faas.pool.dev_code)

    # -- set-up ---------------------------------------------------------------------------

    async def prepare(self) -> None:
        """Build (or find) the generic runtime image; until then no spares are started."""
        if self.size == 0:
            return
        self._retry_at = self.clock() + START_RETRY  # also keeps `tick` from re-entering
        try:
            found = await self.runtime_image()
        except FaasError as exc:
            self.status = f"off: {exc.message}"
            log.warning("generic runtime pool is off: %s", exc.message)
            return
        if found is None:
            self.status = (
                f"off: base image {self.settings.base_image} is not present locally "
                "(FAAS_BASE_IMAGE)"
            )
            return
        (self.image, self.base_id), self.status = found, "on"
        self._retry_at = 0.0  # start spares at the next tick

    # -- functions: learnt when synced, so the upkeep never walks every function -----------

    def learn(self, name: str, spec: FunctionSpec, image: str, room: Callable[[int], bool]) -> None:
        """A function was deployed or changed: read its image's code now, not at a tick.

        `room(bytes)` says whether the memory budget has room for another container.
        """
        # Secret files are mounted at creation, and only native runtimes take `/_/load`.
        if spec.secrets or not spec.on_runtime or spec.lang == NODE:  # generic is Python only
            self.forget(name)
            return
        previous = self._functions.get(name)
        self.dev.drop(name)  # deployed again: the deployed code wins over pushed code
        self._functions[name] = (image, Shape.of(spec))
        self._users.setdefault(image, set()).add(name)
        if previous is not None and previous[0] != image:
            self._unuse(name, previous[0])
        if image not in self._code:
            self._unread.add(image)
        self._wanted = None
        self._read_unread(room)

    def forget(self, name: str) -> None:
        """A removed function: its code is dropped once no function uses its image."""
        previous = self._functions.pop(name, None)
        self.dev.drop(name)
        if previous is not None:
            self._unuse(name, previous[0])
            self._wanted = None

    def _unuse(self, name: str, image: str) -> None:
        users = self._users.get(image, set())
        users.discard(name)
        if not users:
            self._users.pop(image, None)
            self._code.pop(image, None)
            self._unread.discard(image)

    # -- upkeep (called once a second by faas.pool.maintenance) -----------------------------

    def tick(self, room: Callable[[int], bool]) -> None:
        """Keep `size` spares of every shape an eligible function needs, and no others.

        Costs the number of shapes, not of functions: what functions need is kept up to date
        by `learn` and `forget`.
        """
        if self._closed:
            return
        if self.image is None:
            if self.size and self.clock() >= self._retry_at:
                self._spawn(self.prepare())
            return
        self._read_unread(room)
        if not self.lifecycle.stack_id:
            return  # spares carry the stack's label, known once Redis answers
        wanted = self._wanted_shapes()
        for spare in [s for s in self._spares if s.shape not in wanted]:
            self._remove(spare)
        for shape in wanted:
            self._fill(shape, room)

    def _read_unread(self, room: Callable[[int], bool]) -> None:
        if self.image is None or self._closed or not self.lifecycle.stack_id:
            return  # the code is checked against the base image's id, known once prepared
        for image in self._unread:
            self._code[image] = "being read from its image"
            self._spawn(self._read_code(image, room))
        self._unread.clear()

    def _wanted_shapes(self) -> set[Shape]:
        """The shapes of the functions a spare can serve; recomputed only after a change."""
        if self._wanted is None:
            self._wanted = {
                shape
                for image, shape in self._functions.values()
                if isinstance(self._code.get(image), list)
            }
        return self._wanted

    def _fill(self, shape: Shape, room: Callable[[int], bool]) -> None:
        if self._closed or self.clock() < self._retry_at:
            return
        missing = self.size - self.count(shape) - self._starting.get(shape, 0)
        for _ in range(missing):
            if not room(shape.memory):
                return
            self._starting[shape] = self._starting.get(shape, 0) + 1
            self._spawn(self._start(shape))

    def take(
        self, spec: FunctionSpec, image: str
    ) -> tuple[Started[NativeEndpoint], list[CodeFile]] | None:
        """A spare that can become `spec` (newest first), with the code to load; None if none."""
        code = self._code.get(image)
        pushed = self.dev.get(spec.name)
        if pushed is not None and isinstance(code, list):
            code = pushed.files
        if (
            not isinstance(code, list)
            or spec.secrets
            or spec.redis is not None
            or not spec.on_runtime
        ):
            return None  # secret files and a binding's credentials come with its own container
        shape = Shape.of(spec)
        for index in range(len(self._spares) - 1, -1, -1):
            if self._spares[index].shape == shape:
                return self._spares.pop(index).started, code
        return None

    async def start_for(self, spec: FunctionSpec) -> tuple[Started[NativeEndpoint], list[CodeFile]]:
        """A generic container started now for `spec`'s pushed code (no spare was left):
        the image would serve stale code."""
        pushed = self.dev.get(spec.name)
        if self.image is None or pushed is None:
            raise FunctionFailed(f"function {spec.name!r} has no pushed code to start with")
        return await self.lifecycle.start_generic(Shape.of(spec), self.image), pushed.files

    async def specialise(
        self, endpoint: NativeEndpoint, spec: FunctionSpec, files: list[CodeFile]
    ) -> float:
        """Load `spec`'s code into a taken spare; returns the load time in milliseconds."""
        request = load_request(
            function=spec.name,
            handler=spec.handler,
            concurrency=spec.concurrency,
            env=function_env(spec),
            files=files,
        )
        try:
            response = await endpoint.channel.request(request, self.settings.ready_timeout)
        except TimeoutError:
            raise FunctionInitError(
                f"function {spec.name!r} did not load within {self.settings.ready_timeout:g}s: "
                "raise FAAS_READY_TIMEOUT if its initialisation is slow"
            ) from None
        except DeliveryFailed as exc:
            raise FunctionCrashed(f"a generic runtime container was lost: {exc}") from None
        answer = _json(response.body)
        if response.status == 200:
            load_ms = answer.get("load_ms")
            return float(load_ms) if isinstance(load_ms, int | float) else 0.0
        error = answer.get("error")
        error = error if isinstance(error, dict) else {}
        code, message = error.get("code", "unknown"), error.get("message", "")
        if str(code).startswith("Runtime."):
            raise FunctionInitError(f"function {spec.name!r} failed to start: {code}: {message}")
        raise FunctionCrashed(f"a generic runtime refused to load {spec.name!r}: {code}: {message}")

    async def rename(self, container_id: str, function: str) -> None:
        """`docker ps` shows whose a specialised container is (its labels cannot change)."""
        name = f"faas-{function}-{container_id[:12]}"
        try:
            await self.lifecycle.rename(container_id, name)
        except FaasError as exc:  # only cosmetic
            log.debug("could not rename %s: %s", container_id[:12], exc.message)

    # -- memory ---------------------------------------------------------------------------

    def memory_in_use(self) -> int:
        starting = sum(shape.memory * n for shape, n in self._starting.items())
        return starting + sum(spare.shape.memory for spare in self._spares)

    def shrink(self, needed: int) -> None:
        """Remove spares (oldest first) until `needed` bytes are freed or none is left."""
        while needed > 0 and self._spares:
            spare = self._spares[0]
            needed -= spare.shape.memory
            self._remove(spare)

    # -- lifecycle ------------------------------------------------------------------------

    def count_for(self, spec: FunctionSpec) -> int:
        return self.count(Shape.of(spec))

    def count(self, shape: Shape) -> int:
        return sum(1 for spare in self._spares if spare.shape == shape)

    def counts(self) -> dict[str, int]:
        """For the `faas_containers` gauge, under the function name GAUGE_NAME."""
        return {"creating": sum(self._starting.values()), "ready": len(self._spares)}

    def spare_ids(self) -> list[str]:
        return [spare.started.container_id for spare in self._spares]

    def drop(self, container_id: str) -> None:
        """A spare Docker says has died: never hand it out."""
        for spare in [s for s in self._spares if s.started.container_id == container_id]:
            self._remove(spare)

    def describe(self, spec: FunctionSpec, image: str) -> dict[str, object]:
        code = self._code.get(image)
        reason = None if isinstance(code, list) else (code or "not checked yet")
        if reason is None and spec.redis is not None:
            reason = "has a Redis binding (its credentials are given at container start)"
        if self.image is None:
            reason = self.status
        if spec.secrets:
            reason = "it names secrets, mounted only when a container is created"
        if not spec.on_runtime:
            reason = f"an image function (`contract: {spec.contract}`): not faas's runtime"
        described: dict[str, object] = {
            "eligible": reason is None,
            "reason": reason,
            "spares": self.count(Shape.of(spec)),
        }
        pushed = self.dev.get(spec.name)
        if pushed is not None:  # `faas dev` code serves instead of the image's
            described["dev"] = pushed.describe()
        return described

    async def close(self) -> None:
        self._closed = True
        for spare in list(self._spares):
            self._remove(spare)
        await self.settle()

    async def settle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- internals ------------------------------------------------------------------------

    async def _start(self, shape: Shape) -> None:
        assert self.image is not None
        try:
            started = await self.lifecycle.start_generic(shape, self.image)
        except FaasError as exc:
            self._retry_at = self.clock() + START_RETRY
            log.warning("could not start a generic runtime container: %s", exc.message)
            return
        finally:
            self._starting[shape] -= 1
        spare = Spare(shape, started)
        self._spares.append(spare)
        if self._closed:  # the gateway stopped while it was starting
            self._remove(spare)

    async def _read_code(self, image: str, room: Callable[[int], bool]) -> None:
        """Read `image`'s code; if it can be served, start spares of its shape right away
        (a call just after a deploy finds one, rather than waiting for the next tick)."""
        try:
            image_labels = await self.lifecycle.image_labels(image)
            reason = ineligible_reason(image_labels, self.base_id)
            if reason is not None:
                self._learnt(image, reason)
                return
            tar = await self.lifecycle.read_code(image, str(FUNCTION_DIR))
            if tar is None:
                self._learnt(image, f"no code at {FUNCTION_DIR} in its image")
                return
            self._learnt(image, files_from_tar(tar))
            for shape in {self._functions[name][1] for name in self._users.get(image, ())}:
                self._fill(shape, room)
        except CodeTooLarge as exc:
            self._learnt(image, f"code too large for a generic runtime ({exc})")
        except (FaasError, ValueError) as exc:
            if image in self._users:  # try again at a later tick
                self._code.pop(image, None)
                self._unread.add(image)
            log.warning("could not read the code of %s: %s", image, exc)

    def _learnt(self, image: str, code: list[CodeFile] | str) -> None:
        if image in self._users:  # not redeployed or removed meanwhile
            self._code[image] = code
            self._wanted = None

    def _remove(self, spare: Spare) -> None:
        if spare in self._spares:
            self._spares.remove(spare)
        self._spawn(self._remove_container(spare.started))

    async def _remove_container(self, started: Started[NativeEndpoint]) -> None:
        try:
            await self.lifecycle.remove(started.container_id, started.endpoint)
        except FaasError as exc:  # the reconcile at next start removes it
            log.warning("could not remove generic container %s: %s", started.container_id, exc)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Future[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _json(body: bytes) -> dict[str, object]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}

"""A whole gateway in the test's own event loop: `gateway.app.create_app` over the fake engine
(faas/engines/fake.py) and a real redis-server, driven only through HTTP (httpx over ASGI) with
its lifespan run as uvicorn runs it. No Docker: a cold start costs ~30 ms.

    async with stack.gateway(queue_timeout=0.5) as gw:
        await gw.register("echo")
        response = await gw.call("echo", "/hello")
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from faas import keys
from faas.credentials import ADMIN_USER
from faas.engines.fake import FakeEngine
from faas.manifest.spec import load_manifest
from faas.settings import Settings
from gateway.app import create_app

FIXTURES = Path(__file__).parent.parent / "fixtures" / "functions"
BASE_ID = "sha256:fake-base"  # the base image id the generic runtime reports
RUNTIME_IMAGE = "faas-runtime:fake"
NO_DEPS = {keys.LABEL_DEPS: "false", keys.LABEL_BASE_IMAGE: BASE_ID}
T = TypeVar("T")
_READ_MARK = "x-test-read"

PASSWORD = "fake-gateway-secret"  # FAAS_ADMIN_PASSWORD of every test gateway


def run(scenario: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
    """Run one async scenario, bounded: a hung gateway fails the test, it never hangs it."""

    async def bounded() -> T:
        return await asyncio.wait_for(scenario(), timeout)

    return asyncio.run(bounded())


STEP_TIMEOUT = 60.0  # a lifespan step longer than this is a hang (pytest's limit is 120 s)


async def until(condition: Callable[[], object], timeout: float = 10.0, what: str = "") -> Any:
    """Poll `condition` (sync or async) until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what or condition}")
        await asyncio.sleep(0.01)


def timings(response: httpx.Response) -> dict[str, float]:
    """Server-Timing as {phase: milliseconds}."""
    phases: dict[str, float] = {}
    for part in response.headers["server-timing"].split(","):
        name, _, duration = part.strip().partition(";dur=")
        phases[name] = float(duration)
    return phases


class _Lifespan:
    """The ASGI lifespan protocol as a server speaks it, with the `state` it hands to requests."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._outbox: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Future[None] | None = None

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.state}
        self._task = asyncio.ensure_future(self.app(scope, self._inbox.get, self._outbox.put))
        await self._step("lifespan.startup")

    async def shutdown(self) -> None:
        await self._step("lifespan.shutdown")
        assert self._task is not None
        await self._task

    async def _step(self, message: str) -> None:
        assert self._task is not None
        await self._inbox.put({"type": message})
        answer: asyncio.Future[Any] = asyncio.ensure_future(self._outbox.get())
        await asyncio.wait(
            [answer, self._task], timeout=STEP_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if not answer.done() and not self._task.done():  # hung: show where every task waits
            for task in asyncio.all_tasks():
                task.print_stack(limit=12)
            raise AssertionError(f"{message} did not finish within {STEP_TIMEOUT:g}s")
        if not answer.done():
            answer.cancel()
            await self._task  # raises what ended the app
            raise AssertionError(f"the app ended during {message}")
        reply = answer.result()
        if reply["type"].endswith(".failed"):
            await self._task
            raise AssertionError(f"{message} failed: {reply.get('message')}")


class FakeGateway:
    """One gateway app and an HTTP client to it."""

    def __init__(self, engine: FakeEngine, app: ASGIApp) -> None:
        self.engine = engine
        self._lifespan = _Lifespan(app)
        self._reads: dict[str, asyncio.Event] = {}
        self._marks = itertools.count()
        transport = httpx.ASGITransport(app=self._serve)
        self.http = httpx.AsyncClient(
            transport=transport,
            base_url="http://gateway",
            auth=httpx.BasicAuth(ADMIN_USER, PASSWORD),  # the control plane needs it
        )

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """As a server does: every request gets a copy of the lifespan's state."""
        scope = {**scope, "state": dict(self._lifespan.state)}
        mark = next((v for k, v in scope["headers"] if k == _READ_MARK.encode()), None)
        read = self._reads.pop(mark.decode(), None) if mark is not None else None

        async def receive_and_tell() -> Message:
            message = await receive()
            if read is not None and not message.get("more_body", False):
                read.set()
            return message

        await self._lifespan.app(scope, receive_and_tell, send)

    async def start(self) -> None:
        await self._lifespan.startup()

    async def stop(self) -> None:
        await self.http.aclose()
        await self._lifespan.shutdown()

    @property
    def gateway_id(self) -> str:
        return str(self._lifespan.state["lifecycle"].gateway_id)

    # -- the system API -------------------------------------------------------------------

    async def register(
        self, folder: str | Path, image: str | None = None, **overrides: object
    ) -> dict[str, Any]:
        """Register a fixture folder's function (image `<folder name>:1` unless given, added to
        the engine if missing) with manifest overrides; returns the description."""
        path = folder if isinstance(folder, Path) else FIXTURES / folder
        image = image or f"{path.name}:1"
        if await self.engine.image_labels(image) is None:
            self.engine.add_image(image, path, labels=NO_DEPS)
        manifest = {**load_manifest(path).to_manifest(), **overrides}
        response = await self.http.post(
            "/system/functions", json={"manifest": manifest, "image": image, "code_hash": image}
        )
        assert response.status_code in (200, 201), response.text
        return dict(response.json())

    async def describe(self, name: str) -> dict[str, Any]:
        response = await self.http.get(f"/system/function/{name}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def container_ids(self, name: str) -> list[str]:
        return [i["container_id"] for i in (await self.describe(name))["instances"]]

    async def counts(self, name: str) -> dict[str, int]:
        containers = (await self.describe(name))["containers"]
        return {state: n for state, n in containers.items() if n}

    async def until_counts(self, name: str, expected: dict[str, int], timeout: float = 10) -> None:
        """Wait until the function's containers by state are `expected` (zeros left out)."""

        async def matches() -> bool:
            return await self.counts(name) == expected

        await until(matches, timeout, f"{name}'s containers to be {expected}")

    async def pool(self, name: str, action: str, count: int | None = None) -> dict[str, Any]:
        body: dict[str, object] = {"action": action}
        if count is not None:
            body["count"] = count
        response = await self.http.post(f"/system/function/{name}/pool", json=body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    # -- calls ----------------------------------------------------------------------------

    async def call(
        self, name: str, path: str = "/", body: bytes = b"", **headers: str
    ) -> httpx.Response:
        return await self.http.post(
            f"/function/{name}{path}", content=body, headers=_headers(headers)
        )

    async def call_in_background(
        self, name: str, path: str = "/", **headers: str
    ) -> asyncio.Task[httpx.Response]:
        """Send a call on a task; return once the gateway has read all of it (the pool decides
        for it before the gateway awaits anything else), so a call sent next is decided after."""
        mark = str(next(self._marks))
        self._reads[mark] = read = asyncio.Event()
        task = asyncio.create_task(self.call(name, path, b"", **{_READ_MARK: mark}, **headers))
        read_all = asyncio.ensure_future(read.wait())
        await asyncio.wait([task, read_all], return_when=asyncio.FIRST_COMPLETED)
        read_all.cancel()
        return task


def _headers(headers: dict[str, str]) -> dict[str, str]:
    return {key.replace("_", "-"): value for key, value in headers.items()}


@dataclass
class Stack:
    """What a test's gateways share: the fake engine, one Redis, a home and a socket folder."""

    engine: FakeEngine
    redis_url: str
    home: Path
    sockets: Path

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "redis_url": self.redis_url,
            "home": self.home,
            "socket_dir": self.sockets,
            "generic_pool": 0,
            "memory_budget": 2**30,
            "ready_timeout": 10.0,
            "async_shutdown_grace": 1.0,
            "admin_password": PASSWORD,
            **overrides,
        }
        return Settings(**values)

    def runtime_image(self) -> Callable[[], Awaitable[tuple[str, str] | None]]:
        """The generic runtime image, registered in the fake engine (no Docker build)."""
        self.engine.add_image(RUNTIME_IMAGE)

        async def found() -> tuple[str, str] | None:
            return RUNTIME_IMAGE, BASE_ID

        return found

    @contextlib.asynccontextmanager
    async def gateway(self, **settings: Any) -> AsyncIterator[FakeGateway]:
        """A started gateway; shut down (every instance removed) on exit."""
        runtime_image = self.runtime_image() if settings.get("generic_pool") else None
        app = create_app(self.settings(**settings), engine=self.engine, runtime_image=runtime_image)
        gateway = FakeGateway(self.engine, app)
        await gateway.start()
        try:
            yield gateway
        finally:
            await gateway.stop()

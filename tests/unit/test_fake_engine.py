"""The fake engine: real runtimes as local processes, behaving as the Docker engine does."""

from __future__ import annotations

import asyncio
import calendar
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from faas import keys
from faas.build.code_bundle import files_from_tar, load_request
from faas.contracts.base import CallRequest
from faas.contracts.native import SOCKET_NAME, NativeEndpoint, seal_when_bound, unix_placement
from faas.contracts.transport import Address, probe
from faas.engines.base import ContainerConfig, ContainerEvent
from faas.engines.fake import FakeEngine
from faas.errors import ConfigError, DockerError, DockerUnavailable, FunctionInitError
from faas.manifest.spec import load_manifest
from faas.pool.hardening import FUNCTION_DIR, Shape, function_container, generic_container

FIXTURES = Path(__file__).parent.parent / "fixtures" / "functions"
T = TypeVar("T")
STAMP = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ")


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(scenario(), 20)

    return asyncio.run(bounded())


@pytest.fixture
def engine(fake_engine: FakeEngine) -> FakeEngine:
    fake_engine.add_image("echo:1", FIXTURES / "echo", labels={"faas.deps": "false"})
    return fake_engine


@pytest.fixture
def sockets() -> Iterator[Path]:
    """Short paths: a Unix socket's path must stay under 108 bytes."""
    folder = Path(tempfile.mkdtemp(prefix="ff-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


class Launched:
    """An instance created and started like faas.pool.lifecycle does, ready for calls."""

    def __init__(self, container_id: str, socket_dir: Path) -> None:
        self.id = container_id
        self.endpoint = NativeEndpoint(Address(path=str(socket_dir / SOCKET_NAME)))


async def launch(
    engine: FakeEngine,
    sockets: Path,
    folder: str = "echo",
    image: str = "echo:1",
    name: str = "faas-echo-1",
    gateway: str = "gw-1",
) -> Launched:
    socket_dir = sockets / name
    socket_dir.mkdir()
    placement = unix_placement(socket_dir, None)
    spec = load_manifest(FIXTURES / folder)
    config = function_container(
        spec, image, container_name=name, gateway_id=gateway, placement=placement, stack_id="s1"
    )
    container_id = await engine.create(config)
    await engine.start(container_id)
    launched = Launched(container_id, socket_dir)
    await until_ready(engine, launched)
    return launched


async def until_ready(engine: FakeEngine, launched: Launched) -> None:
    socket_dir = Path(str(launched.endpoint.address.path)).parent
    while not await probe(launched.endpoint.address):
        seal_when_bound(socket_dir)  # as the native contract's readiness check does
        assert (await engine.state(launched.id)).running, await engine.logs(launched.id)
        await asyncio.sleep(0.002)


def echo_call(path: bytes = b"/hello", body: bytes = b"hi") -> CallRequest:
    return CallRequest("POST", path, b"", [(b"content-type", b"text/plain")], body)


class Recorder:
    """Collects the events of one `events()` stream on a task."""

    def __init__(self, engine: FakeEngine, labels: dict[str, str]) -> None:
        self.events: list[ContainerEvent] = []
        self.task = asyncio.create_task(self._follow(engine, labels))

    async def _follow(self, engine: FakeEngine, labels: dict[str, str]) -> None:
        async for event in engine.events(labels):
            self.events.append(event)

    @classmethod
    async def start(cls, engine: FakeEngine, labels: dict[str, str]) -> Recorder:
        recorder = cls(engine, labels)
        await asyncio.sleep(0)  # the task runs up to its first wait: subscribed
        return recorder

    async def until(self, count: int) -> list[tuple[str, str]]:
        while len(self.events) < count:
            await asyncio.sleep(0.002)
        return [(event.container_id, event.action) for event in self.events]


def test_an_instance_serves_calls_with_no_engine_call(engine: FakeEngine, sockets: Path) -> None:
    async def scenario() -> None:
        launched = await launch(engine, sockets)
        engine.calls.clear()
        response = await launched.endpoint.call(echo_call(), "call-1", 5.0)
        assert response.status == 200
        assert response.handler_ms is not None
        answer = json.loads(response.body)
        assert (answer["path"], answer["call_id"]) == ("/hello", "call-1")
        assert engine.calls == []  # a warm call goes to the socket, never to the engine
        state = await engine.state(launched.id)
        assert (state.exists, state.running, state.paused) == (True, True, False)
        launched.endpoint.close()

    run(scenario)


def test_pause_stops_answering_and_resume_brings_it_back(engine: FakeEngine, sockets: Path) -> None:
    async def scenario() -> None:
        launched = await launch(engine, sockets)
        await engine.pause(launched.id)
        assert (await engine.state(launched.id)).paused
        with pytest.raises(TimeoutError):
            await launched.endpoint.call(echo_call(), "call-1", 0.2)
        with pytest.raises(DockerError, match="paused"):
            await engine.pause(launched.id)
        await engine.resume(launched.id)
        state = await engine.state(launched.id)
        assert (state.running, state.paused) == (True, False)
        response = await launched.endpoint.call(echo_call(), "call-2", 5.0)
        assert json.loads(response.body)["call_id"] == "call-2"
        with pytest.raises(DockerError, match="not paused"):
            await engine.resume(launched.id)
        launched.endpoint.close()

    run(scenario)


def test_crash_and_oom_kill_are_reported_as_docker_does(engine: FakeEngine, sockets: Path) -> None:
    async def scenario() -> None:
        events = await Recorder.start(engine, {keys.LABEL_GATEWAY: "gw-1"})
        other = await Recorder.start(engine, {keys.LABEL_GATEWAY: "gw-2"})
        crashed = await launch(engine, sockets, name="faas-echo-1")
        killed = await launch(engine, sockets, name="faas-echo-2")
        before = time.time()
        await engine.crash(crashed.id)
        state = await engine.state(crashed.id)
        assert (state.exists, state.running, state.exit_code, state.oom_killed) == (
            True,
            False,
            137,
            False,
        )
        assert state.finished_at is not None and before <= state.finished_at <= time.time()
        await engine.oom_kill(killed.id)
        state = await engine.state(killed.id)
        assert (state.running, state.exit_code, state.oom_killed) == (False, 137, True)
        assert await events.until(3) == [
            (crashed.id, "die"),
            (killed.id, "oom"),
            (killed.id, "die"),
        ]
        assert events.events[0].labels[keys.LABEL_FUNCTION] == "echo"
        assert other.events == []
        with pytest.raises(DockerError, match="not running"):
            await engine.pause(crashed.id)
        with pytest.raises(DockerError, match="not running"):
            await engine.crash(crashed.id)
        events.task.cancel()
        other.task.cancel()

    run(scenario)


def test_remove_kills_forgets_and_reports_die_then_destroy(
    engine: FakeEngine, sockets: Path
) -> None:
    async def scenario() -> None:
        events = await Recorder.start(engine, {})
        launched = await launch(engine, sockets)
        pid = engine.pid(launched.id)
        assert pid is not None
        await engine.pause(launched.id)  # a paused instance is removed all the same
        await engine.remove(launched.id)
        assert await events.until(2) == [(launched.id, "die"), (launched.id, "destroy")]
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        assert not (await engine.state(launched.id)).exists
        assert await engine.logs(launched.id) == b""
        assert await engine.list({}) == []
        await engine.remove(launched.id)  # already gone: removed
        with pytest.raises(DockerError, match="No such container"):
            await engine.start(launched.id)
        events.task.cancel()

    run(scenario)


def test_an_init_failure_exits_and_explains_itself_in_the_logs(
    engine: FakeEngine, sockets: Path
) -> None:
    engine.add_image("bad:1", FIXTURES / "bad-handler")

    async def scenario() -> None:
        events = await Recorder.start(engine, {keys.LABEL_FUNCTION: "bad-handler"})
        with pytest.raises(AssertionError, match="faas_init_error"):
            await launch(engine, sockets, folder="bad-handler", image="bad:1", name="faas-bad")
        [(container_id, action)] = await events.until(1)
        state = await engine.state(container_id)
        assert (action, state.running) == ("die", False)
        assert state.exit_code not in (None, 0, 137)
        events.task.cancel()

    run(scenario)


def test_logs_carry_docker_timestamps_and_honour_tail_and_since(engine: FakeEngine) -> None:
    lines = "import time\nfor w in ('one', 'two', 'three'):\n    print(w); time.sleep(0.01)"
    config = ContainerConfig(
        image="echo:1",
        name="printer",
        labels={keys.LABEL_MANAGED: "true"},
        environment={},
        command=(sys.executable, "-c", lines),
    )

    async def scenario() -> None:
        container_id = await engine.create(config)
        assert await engine.logs(container_id) == b""  # created, not started
        started = time.time_ns()
        await engine.start(container_id)
        while (await engine.state(container_id)).running:
            await asyncio.sleep(0.005)
        assert (await engine.state(container_id)).exit_code == 0
        assert await engine.logs(container_id) == b"one\ntwo\nthree\n"
        assert await engine.logs(container_id, tail=1) == b"three\n"
        assert await engine.logs(container_id, tail=0) == b""
        stamped = (await engine.logs(container_id, timestamps=True)).splitlines()
        assert all(STAMP.match(line) for line in stamped), stamped
        assert [line.split(b" ", 1)[1] for line in stamped] == [b"one", b"two", b"three"]
        first, second = (_epoch_ns(line.split(b" ", 1)[0]) for line in stamped[:2])
        assert started < first < second <= time.time_ns()  # each line's arrival time
        since = (first + second) / 2e9  # between the two lines (they are 10 ms apart)
        assert await engine.logs(container_id, since=since) == b"two\nthree\n"
        tail = await engine.logs(container_id, since=since, tail=1, timestamps=True)
        assert tail == stamped[2] + b"\n"

    run(scenario)


def _epoch_ns(stamp: bytes) -> int:
    """Docker's log timestamp as epoch nanoseconds."""
    whole, fraction = stamp.decode().rstrip("Z").split(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) * 10**9 + int(fraction)


def test_list_filters_on_labels_in_any_state(engine: FakeEngine, sockets: Path) -> None:
    async def scenario() -> None:
        running = await launch(engine, sockets, name="faas-echo-1", gateway="gw-1")
        created = await engine.create(
            ContainerConfig(
                image="echo:1",
                name="idle",
                labels={keys.LABEL_MANAGED: "true", keys.LABEL_GATEWAY: "gw-2"},
                environment={},
                command=("true",),
            )
        )
        await engine.create(  # not managed by faas: never listed
            ContainerConfig(
                image="echo:1", name="foreign", labels={}, environment={}, command=("true",)
            )
        )
        found = {c.id: c.state for c in await engine.list({})}
        assert found == {running.id: "running", created: "created"}
        [mine] = await engine.list({keys.LABEL_GATEWAY: "gw-1"})
        assert (mine.id, mine.labels[keys.LABEL_FUNCTION]) == (running.id, "echo")
        assert await engine.list({keys.LABEL_GATEWAY: "gw-3"}) == []
        await engine.pause(running.id)
        assert [c.state for c in await engine.list({keys.LABEL_GATEWAY: "gw-1"})] == ["paused"]
        await engine.rename(running.id, "faas-echo-renamed")
        assert (await engine.state("faas-echo-renamed")).paused  # found by its new name
        with pytest.raises(DockerError, match="already in use"):
            await engine.rename(created, "faas-echo-renamed")

    run(scenario)


def test_images_answer_labels_and_archives_of_their_code(
    engine: FakeEngine, tmp_path: Path
) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "handler.py").write_text("def handle(event, context):\n    return 'ok'\n")
    (tmp_path / "lib" / "data.txt").write_text("data")
    engine.add_image("code:1", tmp_path, labels={"faas.deps": "false"})
    engine.add_image("runtime:1")

    async def scenario() -> None:
        assert await engine.image_labels("code:1") == {"faas.deps": "false"}
        assert await engine.image_labels("missing:1") is None
        tar = await engine.read_archive("code:1", str(FUNCTION_DIR), {})
        assert tar is not None
        with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
            names = archive.getnames()
        assert sorted(names) == [
            "function",
            "function/handler.py",
            "function/lib",
            "function/lib/data.txt",
        ]
        assert [(f.path, f.data) for f in files_from_tar(tar)][1] == ("lib/data.txt", b"data")
        single = await engine.read_archive("code:1", f"{FUNCTION_DIR}/handler.py", {})
        assert single is not None
        with tarfile.open(fileobj=io.BytesIO(single)) as archive:
            assert archive.getnames() == ["handler.py"]
        assert await engine.read_archive("code:1", "/etc", {}) is None
        assert await engine.read_archive("runtime:1", str(FUNCTION_DIR), {}) is None
        with pytest.raises(FunctionInitError, match="image not found"):
            await engine.read_archive("missing:1", str(FUNCTION_DIR), {})

    run(scenario)


def test_a_generic_runtime_loads_code_with_post_load(engine: FakeEngine, sockets: Path) -> None:
    engine.add_image("runtime:1")
    spec = load_manifest(FIXTURES / "echo")
    code_before = sorted(os.listdir(FIXTURES / "echo"))

    async def scenario() -> None:
        socket_dir = sockets / "generic"
        socket_dir.mkdir()
        config = generic_container(
            Shape.of(spec),
            "runtime:1",
            container_name="faas-generic-1",
            gateway_id="gw-1",
            placement=unix_placement(socket_dir, None),
        )
        container_id = await engine.create(config)
        await engine.start(container_id)
        launched = Launched(container_id, socket_dir)
        await until_ready(engine, launched)
        not_loaded = await launched.endpoint.call(echo_call(), "call-0", 5.0)
        assert not_loaded.status == 503
        tar = await engine.read_archive("echo:1", str(FUNCTION_DIR), {})
        assert tar is not None
        request = load_request(
            function="echo",
            handler=spec.handler,
            concurrency=1,
            env={"GREETING": "hi"},
            files=files_from_tar(tar),
        )
        loaded = await launched.endpoint.channel.request(request, 5.0)
        assert (loaded.status, json.loads(loaded.body)["status"]) == (200, "loaded")
        response = await launched.endpoint.call(echo_call(b"/x"), "call-1", 5.0)
        assert json.loads(response.body)["path"] == "/x"
        assert sorted(os.listdir(FIXTURES / "echo")) == code_before  # loaded in its own folder
        launched.endpoint.close()

    run(scenario)


def test_outage_hooks_fail_operations_and_break_event_streams(
    engine: FakeEngine, sockets: Path
) -> None:
    async def scenario() -> None:
        launched = await launch(engine, sockets)
        engine.fail_next("state", DockerUnavailable("docker restarts"))
        with pytest.raises(DockerUnavailable, match="docker restarts"):
            await engine.state(launched.id)
        assert (await engine.state(launched.id)).running  # only the next one failed
        with pytest.raises(ValueError, match="unknown operation"):
            engine.fail_next("stat", DockerUnavailable("typo"))

        events = await Recorder.start(engine, {})
        engine.set_available(False)
        with pytest.raises(DockerUnavailable):
            await events.task
        for operation in (engine.ping(), engine.list({}), engine.remove(launched.id)):
            with pytest.raises(DockerUnavailable):
                await operation
        with pytest.raises(DockerUnavailable):
            await anext(engine.events({}))
        engine.set_available(True)
        await engine.ping()
        response = await launched.endpoint.call(echo_call(), "call-1", 5.0)  # it kept running
        assert response.status == 200
        launched.endpoint.close()

    run(scenario)


def test_tcp_instances_are_refused_clearly(engine: FakeEngine) -> None:
    config = ContainerConfig(
        image="echo:1", name="tcp", labels={}, environment={"FAAS_PORT": "8080"}, network="n1"
    )

    async def scenario() -> None:
        with pytest.raises(DockerError, match="network n1 not found"):
            await engine.create(config)
        assert await engine.ensure_network("n1") == "127.0.0.1"
        with pytest.raises(ConfigError, match="Unix sockets only"):
            await engine.create(config)
        with pytest.raises(ConfigError, match="Unix-socket transport"):
            await engine.address("any", "n1")
        with pytest.raises(FunctionInitError, match="image not found"):
            await engine.create(ContainerConfig(image="nope", name="x", labels={}, environment={}))

    run(scenario)


def test_close_kills_every_instance_and_ends_event_streams(sockets: Path) -> None:
    engine = FakeEngine()
    engine.add_image("echo:1", FIXTURES / "echo")

    async def scenario() -> list[int]:
        events = await Recorder.start(engine, {})
        launched = [await launch(engine, sockets, name=f"faas-echo-{n}") for n in range(3)]
        await engine.pause(launched[0].id)
        pids = [engine.pid(instance.id) for instance in launched]
        await engine.close()
        await events.task  # the stream ended, after the three deaths
        assert sorted(e.container_id for e in events.events) == sorted(i.id for i in launched)
        assert engine.calls and await engine.list({}) == []
        return [pid for pid in pids if pid is not None]

    pids = run(scenario)
    assert len(pids) == 3
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


ORPHAN_SCRIPT = """
import asyncio, os, signal, sys
from pathlib import Path
from faas.engines.base import ContainerConfig
from faas.engines.fake import FakeEngine

async def main():
    engine = FakeEngine()
    engine.add_image("echo:1", Path(sys.argv[1]))
    socket_dir = sys.argv[3]
    config = ContainerConfig(
        image="echo:1", name="orphan", labels={}, binds={socket_dir: "/run/faas"},
        environment={"FAAS_SOCKET": "/run/faas/runtime.sock", "FAAS_HANDLER": "handler.handle"},
    )
    container_id = await engine.create(config)
    await engine.start(container_id)
    print(engine.pid(container_id), flush=True)
    if sys.argv[2] == "killed":
        os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


@pytest.mark.parametrize("ending", ["exits", "killed"])
def test_no_instance_outlives_the_interpreter(ending: str, sockets: Path) -> None:
    """Not closed: killed at exit; the interpreter killed: killed by the kernel with it."""
    done = subprocess.run(
        [sys.executable, "-c", ORPHAN_SCRIPT, str(FIXTURES / "echo"), ending, str(sockets)],
        capture_output=True,
        timeout=20,
        env={**os.environ, "TMPDIR": str(sockets)},  # where a killed one leaves its scratch
    )
    pid = int(done.stdout)
    deadline = time.monotonic() + 5
    while _alive(pid):
        assert time.monotonic() < deadline, f"instance {pid} outlived its interpreter"
        time.sleep(0.01)


def _alive(pid: int) -> bool:
    """Running or stopped; a zombie (its new parent has not reaped it yet) is dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"

"""One instance of the fake engine: its image, its host paths, its process, output and exit.

What Docker does for a container, done for a child process: container paths become host
folders (binds, a scratch folder per tmpfs, the image's code folder), the output of both streams
is kept line by line with the time each line arrived (for `docker logs --timestamps`), the exit
is recorded only once the output is drained (Docker waits for its log copier before it reports
a container stopped), and every process of the instance dies with it (its own process group
stands for the container's PID namespace).
"""

from __future__ import annotations

import asyncio
import atexit
import compileall
import contextlib
import dataclasses
import functools
import hashlib
import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath

import faas
from faas import keys
from faas.engines.base import ContainerConfig, ContainerEvent, ContainerState, newest_within
from faas.errors import FaasError

# Where every faas image keeps its function's code (faas.pool.hardening.FUNCTION_DIR).
FUNCTION_DIR = "/opt/faas/function"
# The environment faas's image builder gives every image (faas.build.images).
IMAGE_ENV = {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1", "HOME": "/tmp"}
# -S: no site import (the runtime needs only the standard library); PYTHONPATH finds faas.
RUNTIME_COMMAND = (sys.executable, "-S", "-m", "faas.runtime")
_SOURCE_ROOT = str(Path(faas.__file__).resolve().parent.parent)
_DRAIN_TIMEOUT = 2.0  # Docker's own bound on waiting for the log copier after an exit
_PAUSE_TIMEOUT = 2.0


def docker_timestamp(epoch_ns: int) -> bytes:
    """Docker's log timestamp: RFC 3339, UTC, nine fixed fraction digits."""
    seconds, nanos = divmod(epoch_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)).encode() + b".%09dZ" % nanos


class OutputLog:
    """An instance's output across its runs, as `docker logs` returns it."""

    def __init__(self) -> None:
        self._lines: list[tuple[int, bytes]] = []  # (arrival, epoch ns; the line as written)
        self._lock = threading.Lock()

    def append(self, line: bytes) -> None:
        with self._lock:
            self._lines.append((time.time_ns(), line))

    def render(
        self,
        tail: int | None,
        since: float | None,
        timestamps: bool,
        until: float | None = None,
        max_bytes: int | None = None,
    ) -> bytes:
        """Lines from `since` to `until` (epoch seconds), the last `tail` of them, the newest
        that fit in `max_bytes`."""
        with self._lock:
            lines = list(self._lines)
        if since is not None:
            lines = [entry for entry in lines if entry[0] >= since * 1e9]
        if until is not None:
            lines = [entry for entry in lines if entry[0] <= until * 1e9]
        if tail is not None:
            lines = lines[len(lines) - tail :] if tail > 0 else []
        if timestamps:
            rendered = [docker_timestamp(ns) + b" " + line for ns, line in lines]
        else:
            rendered = [line for _, line in lines]
        return newest_within(rendered, max_bytes)


@dataclasses.dataclass(frozen=True)
class Exit:
    """How a run ended, as Docker reports it (a signal is 128 + its number)."""

    code: int
    finished_at: float  # epoch seconds
    oom_killed: bool


# A helper process that outlives this interpreter only to kill every instance it leaves: it is
# told each process group started and ended, and at the end of its input (this interpreter has
# exited or been killed, and the kernel closed the pipe) it SIGKILLs those still listed.
_GUARDIAN = """
import os, signal, sys
groups = set()
for line in sys.stdin:
    group = int(line)
    if group > 0:
        groups.add(group)
    else:
        groups.discard(-group)
for group in groups:
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
"""


class _Guardian:
    def __init__(self) -> None:
        self._popen = subprocess.Popen(
            [sys.executable, "-S", "-c", _GUARDIAN],
            stdin=subprocess.PIPE,
            start_new_session=True,  # a ^C to the test run must not end it first
        )
        assert self._popen.stdin is not None
        self._pipe = self._popen.stdin.fileno()

    def watch(self, group: int) -> None:
        self._send(group)

    def forget(self, group: int) -> None:
        self._send(-group)

    def _send(self, number: int) -> None:
        with contextlib.suppress(OSError):  # one write under PIPE_BUF: atomic across threads
            os.write(self._pipe, b"%d\n" % number)

    def stop(self) -> None:
        assert self._popen.stdin is not None
        self._popen.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._popen.wait(_DRAIN_TIMEOUT)


@functools.cache
def _guardian() -> _Guardian:
    guardian = _Guardian()
    atexit.register(guardian.stop)  # after every FakeEngine's shut_down (atexit runs LIFO)
    return guardian


class Process:
    """One run of an instance: a child process in its own process group."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        log: OutputLog,
        on_exit: Callable[[Process], None],
    ) -> None:
        self.paused = False
        self.oom_killed = False  # set before an OOM kill, reported with the exit
        self.exit: Exit | None = None
        self.exited = threading.Event()
        self._log = log
        self._on_exit = on_exit
        self._popen = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,  # one pipe keeps the two streams in the order written
            start_new_session=True,
        )
        self.pid = self._popen.pid
        _guardian().watch(self.pid)
        self._reader = threading.Thread(target=self._read, name=f"fake-out-{self.pid}", daemon=True)
        self._reader.start()
        threading.Thread(target=self._wait, name=f"fake-wait-{self.pid}", daemon=True).start()

    def signal(self, signum: int) -> None:
        """Send `signum` to every process of the instance (nothing once it has exited)."""
        if self.exit is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signum)

    async def wait_stopped(self) -> bool:
        """Wait until every thread of the process is stopped (as `docker pause` returns once
        the cgroup is frozen); False if it exited or did not stop in time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _PAUSE_TIMEOUT
        while not self.exited.is_set() and loop.time() < deadline:
            if _all_stopped(self.pid):
                return True
            await asyncio.sleep(0.0005)
        return False

    async def wait_exited(self, timeout: float) -> bool:
        """Wait (without blocking the event loop) until the exit is recorded."""
        if self.exited.is_set():
            return True
        return await asyncio.to_thread(self.exited.wait, timeout)

    def _read(self) -> None:
        pipe = self._popen.stdout
        assert pipe is not None
        with pipe:
            for line in iter(pipe.readline, b""):
                self._log.append(line)

    def _wait(self) -> None:
        status = self._popen.wait()
        finished_at = time.time()
        self.signal(signal.SIGKILL)  # what it forked dies with it, as in a container
        _guardian().forget(self.pid)
        self._reader.join(_DRAIN_TIMEOUT)
        code = 128 - status if status < 0 else status
        self.exit = Exit(code, finished_at, self.oom_killed)
        self.paused = False
        self.exited.set()
        self._on_exit(self)


def _all_stopped(pid: int) -> bool:
    """Whether every thread of `pid` is in the stopped state (T) per /proc."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        for task in tasks:
            stat = Path(f"/proc/{pid}/task/{task}/stat").read_text()
            # The state follows the command name, which is in parentheses and may hold any byte.
            if stat[stat.rindex(")") + 2] not in "Tt":
                return False
    except (FileNotFoundError, ProcessLookupError):
        return False
    return True


@dataclasses.dataclass(frozen=True)
class Image:
    """An image: its id, labels, environment and the host folder of its function's code."""

    ref: str
    id: str
    function_dir: Path | None  # None: a generic runtime image
    labels: dict[str, str]
    env: dict[str, str]

    @classmethod
    def of(
        cls, ref: str, function_dir: Path | None, labels: Mapping[str, str], env: Mapping[str, str]
    ) -> Image:
        """The image faas's builder would make: IMAGE_ENV, plus FAAS_GENERIC=1 without code;
        its id derives from its content, as Docker's does."""
        environment = {**IMAGE_ENV, **({"FAAS_GENERIC": "1"} if function_dir is None else {})}
        environment.update(env)
        folder = None if function_dir is None else Path(function_dir).resolve()
        identity = json.dumps([str(folder), sorted(labels.items()), environment])
        image_id = "sha256:" + hashlib.sha256(identity.encode()).hexdigest()
        return cls(ref, image_id, folder, dict(labels), environment)

    def archive(self, path: str) -> bytes | None:
        """A tar of `path` as Docker's get_archive returns it (the folder's own name first);
        None when the image has no such path (only its code folder exists here)."""
        inner = PurePosixPath(path)
        if self.function_dir is None or not inner.is_relative_to(FUNCTION_DIR):
            return None
        host = self.function_dir / inner.relative_to(FUNCTION_DIR)
        if not host.exists():
            return None
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            tar.add(host, arcname=inner.name)
        return buffer.getvalue()


@dataclasses.dataclass
class Instance:
    """A created instance, and its current run once started."""

    id: str
    name: str
    config: ContainerConfig
    image: Image
    scratch: Path  # host side of its tmpfs mounts, /tmp and HOME
    log: OutputLog = dataclasses.field(default_factory=OutputLog)
    process: Process | None = None  # None until started

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.config.labels)

    @property
    def live(self) -> Process | None:
        """The process while it runs (paused included)."""
        process = self.process
        return process if process is not None and process.exit is None else None

    def start(self, on_exit: Callable[[Process], None]) -> None:
        """Run the runtime (or the config's command) with the container's paths on the host."""
        paths = self._paths()
        for folder in paths.values():
            folder.mkdir(parents=True, exist_ok=True)
        env = {"PATH": os.environ.get("PATH", os.defpath)}
        for name, value in {**self.image.env, **self.config.environment}.items():
            env[name] = _translate(value, paths)
        env.pop("FAAS_RUN_AS", None)  # processes keep the current user (see faas.engines.fake)
        env.setdefault("FAAS_FUNCTION_DIR", _translate(FUNCTION_DIR, paths))
        env.setdefault("TMPDIR", _translate("/tmp", paths))
        env["PYTHONPATH"] = _SOURCE_ROOT
        workdir = FUNCTION_DIR if self.image.function_dir else "/tmp"  # as faas's images
        argv = self.config.command or RUNTIME_COMMAND
        if self.config.entrypoint is not None:  # replaced, as Docker does: its command follows
            argv = (*self.config.entrypoint, *self.config.command)
        self.process = Process(argv, env, Path(_translate(workdir, paths)), self.log, on_exit)

    def state(self) -> ContainerState:
        process = self.process
        if process is None:  # created: Docker reports exit code 0 and no finish time
            return ContainerState(exists=True, exit_code=0)
        ended = process.exit
        if ended is None:  # Docker reports a paused container as running and paused
            return ContainerState(exists=True, running=True, paused=process.paused)
        return ContainerState(
            exists=True,
            exit_code=ended.code,
            oom_killed=ended.oom_killed,
            finished_at=ended.finished_at,
        )

    @property
    def status(self) -> str:
        """Docker's one-word state: created, running, paused or exited."""
        process = self.process
        if process is None:
            return "created"
        if process.exit is not None:
            return "exited"
        return "paused" if process.paused else "running"

    def _paths(self) -> dict[str, Path]:
        """Container path -> host path: the code, /tmp and each tmpfs, then the binds."""
        code = self.image.function_dir or self.scratch / FUNCTION_DIR.lstrip("/")
        paths = {FUNCTION_DIR: code, "/tmp": self.scratch / "tmp"}
        for inner in self.config.tmpfs:
            paths[inner] = self.scratch / inner.lstrip("/")
        for host, inner in self.config.binds.items():
            paths[inner] = Path(host)
        for host, inner in self.config.readonly_binds:  # read-only: not enforced here
            paths[inner] = Path(host)
        return paths

    def translate(self, path: str) -> str:
        """Container path -> host path, as the instance's process sees it."""
        return _translate(path, self._paths())


def in_bind(config: ContainerConfig, path: str) -> bool:
    """Whether container path `path` is inside one of the config's bind mounts."""
    return any(path.startswith(inner.rstrip("/") + "/") for inner in config.binds.values())


def _translate(value: str, paths: Mapping[str, Path]) -> str:
    """`value` with a leading container path replaced by its host path (longest match)."""
    for inner in sorted(paths, key=len, reverse=True):
        if value == inner or value.startswith(inner.rstrip("/") + "/"):
            return str(paths[inner]) + value[len(inner) :]
    return value


@functools.cache
def compile_runtime() -> None:
    """Bytecode for the runtime, as images have: instances write none (PYTHONDONTWRITEBYTECODE)
    and compiling the runtime at every start would cost more than the rest of its startup."""
    spec = importlib.util.find_spec("faas.runtime")
    assert spec is not None and spec.origin is not None
    sources = [Path(faas.__file__), Path(spec.origin)]
    for location in spec.submodule_search_locations or ():
        sources.extend(Path(location).rglob("*.py"))
    for source in sources:
        compileall.compile_file(source, quiet=2)


class EventStream:
    """One `events()` consumer: a queue on its own event loop, fed from any thread."""

    def __init__(self, labels: Mapping[str, str]) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[ContainerEvent | FaasError | None] = asyncio.Queue()
        self.labels = dict(labels)

    def put(self, item: ContainerEvent | FaasError | None) -> None:
        with contextlib.suppress(RuntimeError):  # its loop is closed: nobody is listening
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)


def labels_match(labels: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    """Labelled faas.managed=true and every label in `wanted`, as the Docker engine filters."""
    if labels.get(keys.LABEL_MANAGED) != "true":
        return False
    return all(labels.get(key) == value for key, value in wanted.items())

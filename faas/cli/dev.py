"""`faas dev [PATH]`: deploy a function folder, then put each edit into service as it is saved.

Edits to the code of a function without dependencies are pushed to the gateway
(`PUT /system/function/{name}/code`) and served by a generic runtime at the next call: no image
build, well under a second. A changed requirements.txt (or an image function's files) rebuilds
the image; a changed faas.yaml registers again (limits, environment and timeout are applied when
a container is created, so no build), then pushes the code. The function's log lines are
printed as they come.

Ctrl-C leaves the gateway as `faas dev` found it: a function it deployed is removed with its
containers; with `--keep`, or when the function was deployed before, the folder as it is then
is built and deployed, so what stays is an ordinary deploy, never pushed code.

The folder is polled (every 0.1 s by default): no dependency, and editors that replace files
on save are seen the same way as those that write in place.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import click

from faas.build.dev_bundle import code_hash, folder_code, to_json
from faas.build.folder import build_folder
from faas.build.images import REQUIREMENTS, _function_files
from faas.cli.group import Context, cli, pass_ctx
from faas.client import GatewayClient, GatewayError
from faas.errors import FaasError
from faas.manifest.spec import MANIFEST_FILE, FunctionSpec, load_manifest
from faas.pool.log_pages import timestamp

Snapshot = dict[str, tuple[int, int]]  # path -> (mtime_ns, size)
# Why the gateway cannot take pushed code *yet*: worth waiting for, not a reason to rebuild.
_PASSING = ("preparing", "being read from its image", "not checked yet")
LOG_EVERY = 0.5  # seconds between log polls
# Each poll reads the newest lines, the archive of removed containers included (a container
# with old code is removed right after an edit; `since` would read running ones only), and
# prints those it has not printed yet.
LOG_TAIL = 200


def snapshot(folder: Path) -> Snapshot:
    """What the watch compares: every file an image build would take, and the manifest."""
    seen: Snapshot = {}
    for path in [*_function_files(folder), folder / MANIFEST_FILE]:
        try:
            stat = path.stat()
        except OSError:  # removed meanwhile, or no manifest: load_manifest will say so
            continue
        seen[path.relative_to(folder).as_posix()] = (stat.st_mtime_ns, stat.st_size)
    return seen


def changed(before: Snapshot, after: Snapshot) -> set[str]:
    return {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}


def needs_build(paths: set[str], old: FunctionSpec, new: FunctionSpec) -> bool:
    """Whether these changes reach the image: dependencies, or an image function's files."""
    return REQUIREMENTS in paths or not (old.on_runtime and new.on_runtime)


class DevSession:
    """One `faas dev` run: the function it serves and how its edits reach the gateway."""

    def __init__(
        self,
        client: GatewayClient,
        build: Callable[[Path], tuple[FunctionSpec, Any]],
        folder: Path,
        echo: Callable[[str], None],
    ) -> None:
        self.client = client
        self.build = build
        self.folder = folder
        self.echo = echo
        self.spec = load_manifest(folder)
        self.image = ""
        self.code_hash = ""  # of the code last put into service
        self.pushing = False  # edits are pushed (True) or built (False)
        self.existed = False
        self.deployed = False  # registered by this session: the exit has something to do
        self.seen: Snapshot = {}
        self._log_start = timestamp(time.time() - 1.0)  # older lines are not this session's
        self._next_logs = 0.0
        self._printed: set[str] = set()  # each line starts with its nanosecond timestamp

    # -- start -----------------------------------------------------------------------------

    def start(self) -> None:
        self.client.health()  # before building: an unreachable gateway says so at once
        try:
            self.client.function(self.spec.name)
            self.existed = True
        except GatewayError as exc:
            if exc.status != 404:
                raise
        self.seen = snapshot(self.folder)
        record = self._deploy("deploying")
        if self.existed:
            self.echo(
                f"note: {self.spec.name} was deployed already; on exit it stays deployed, "
                "built from this folder as it is then"
            )
        self.pushing = self._can_push()
        how = "pushed to a generic runtime" if self.pushing else "rebuilt into an image"
        self.echo(f"serving {self.spec.name} at {record['url']}")
        self.echo(f"watching {self.folder} (edits are {how}); Ctrl-C to stop")

    def _deploy(self, verb: str) -> dict[str, Any]:
        t0 = time.perf_counter()
        self.echo(f"{verb} {self.spec.name}...")
        spec, built = self.build(self.folder)
        record = self.client.register(spec.to_manifest(), built.tag, built.code_hash)
        self.spec, self.image, self.deployed = spec, built.tag, True
        self.code_hash = code_hash(folder_code(self.folder))
        self.echo(f"{spec.name} deployed ({built.tag}) in {time.perf_counter() - t0:.1f} s")
        return record

    def _can_push(self, wait: float = 30.0) -> bool:
        """Whether the gateway's generic runtimes serve the function; waits while the gateway
        is still reading the new image's code. Says why not when they do not."""
        deadline = time.monotonic() + wait
        while True:
            generic = self.client.function(self.spec.name).get("generic") or {}
            reason = generic.get("reason")
            if generic.get("eligible"):
                return True
            if reason not in _PASSING or time.monotonic() > deadline:
                self.echo(f"edits rebuild the image: generic runtimes do not serve it ({reason})")
                return False
            time.sleep(0.1)

    # -- the loop --------------------------------------------------------------------------

    def step(self) -> None:
        """Apply what changed since the last step, then print new log lines."""
        now = snapshot(self.folder)
        paths = changed(self.seen, now)
        if paths:
            self.seen = now
            try:
                self._apply(paths)
            except FaasError as exc:  # a broken edit: say so, keep watching for the fix
                self.echo(f"error: {exc.message}")
        if time.monotonic() >= self._next_logs:
            self._next_logs = time.monotonic() + LOG_EVERY
            self.print_logs()

    def _apply(self, paths: set[str]) -> None:
        t0 = time.perf_counter()
        names = ", ".join(sorted(paths))
        new = load_manifest(self.folder) if MANIFEST_FILE in paths else self.spec
        if new.name != self.spec.name:
            raise FaasError(f"name: faas dev serves {self.spec.name}; restart it for {new.name}")
        if needs_build(paths, self.spec, new) or not self.pushing:
            self._deploy(f"{names} changed: building")
            self.pushing = self._can_push()
            return
        registered = new != self.spec
        if registered:  # limits, environment...: applied at container creation, no build
            self.client.register(new.to_manifest(), self.image, "")
            self.spec = new
            self.pushing = self._can_push()
            if not self.pushing:
                self._deploy("building")
                return
        files = folder_code(self.folder)
        digest = code_hash(files)
        if digest == self.code_hash and not registered:
            return  # saved without a change
        try:
            self.client.push_code(self.spec.name, to_json(files))
        except GatewayError as exc:
            if exc.status != 409:
                raise
            self.echo(f"the gateway cannot take pushed code ({exc.message})")
            self._deploy("building")
            self.pushing = self._can_push()
            return
        self.code_hash = digest
        self.echo(f"{names} changed: serving in {(time.perf_counter() - t0) * 1e3:.0f} ms")
        for problem in syntax_errors(self.folder, paths):
            self.echo(f"warning: {problem} (its calls fail until it is fixed)")

    def print_logs(self) -> None:
        try:
            lines: list[str] = self.client.logs(self.spec.name, tail=LOG_TAIL)["lines"]
        except FaasError:
            return  # the gateway restarting: the next poll catches up
        for line in lines:
            if line >= self._log_start and line not in self._printed:
                self.echo(f"  | {line}")
        if lines:  # what is older than this page cannot come back
            self._printed = {line for line in [*self._printed, *lines] if line >= lines[0]}

    # -- exit ------------------------------------------------------------------------------

    def stop(self, keep: bool) -> None:
        name = self.spec.name
        if not self.deployed:
            return
        if keep or self.existed:
            try:
                record = self._deploy("keeping it: building")
                self.echo(f"{name} stays deployed at {record['url']}")
            except FaasError as exc:
                self.echo(f"error: {exc.message}")
                self.client.drop_code(name)
                self.echo(f"{name} stays deployed with its last image that built ({self.image})")
            return
        self.client.remove(name)
        self.echo(f"removed {name} and its containers (`faas dev --keep` leaves it deployed)")


def syntax_errors(folder: Path, paths: set[str]) -> list[str]:
    """Syntax errors of the changed Python files, said at once rather than at the next call."""
    problems = []
    for rel in sorted(p for p in paths if p.endswith(".py")):
        try:
            compile((folder / rel).read_bytes(), rel, "exec", dont_inherit=True)
        except SyntaxError as exc:
            problems.append(f"{rel}:{exc.lineno}: SyntaxError: {exc.msg}")
        except (OSError, ValueError):  # removed meanwhile; NUL bytes: the runtime will say
            continue
    return problems


@cli.command()
@click.argument("path", default=".", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--keep", is_flag=True, help="On exit, leave the function deployed.")
@click.option("--interval", default=0.1, show_default=True, help="Seconds between folder checks.")
@pass_ctx
def dev(ctx: Context, path: Path, keep: bool, interval: float) -> None:
    """Deploy PATH, then put each saved edit into service (Ctrl-C removes the function)."""
    from faas.engines.docker import DockerBackend

    backend = DockerBackend()
    folder = path.resolve()

    def build(where: Path) -> tuple[FunctionSpec, Any]:
        return build_folder(backend, where, ctx.settings)

    signal.signal(signal.SIGTERM, _interrupt)  # `kill` cleans up as Ctrl-C does
    with ctx.client(timeout=120) as client:
        session = DevSession(client, build, folder, lambda line: click.echo(line))
        try:
            session.start()
            while True:
                time.sleep(interval)
                session.step()
        except KeyboardInterrupt:
            click.echo("")
        finally:
            # A second Ctrl-C must not stop the clean-up half way.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            session.stop(keep)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt

"""Shared fixtures: real Docker, real Redis, real gateway processes.

Tests that need a service skip when it is missing locally and fail when CI=true, so a CI run
can never pass by skipping the tests that matter.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from faas import credentials, keys
from faas.build.images import BuiltImage, build_function_image
from faas.client import ControlPlaneAuth, GatewayClient
from faas.engines.base import ManagedContainer
from faas.engines.docker import DockerBackend
from faas.engines.fake import FakeEngine
from faas.errors import FaasError
from faas.manifest.spec import load_manifest
from faas.settings import DEFAULT_BASE_IMAGE, Settings
from tests.integration.image_fixtures import user_image  # noqa: F401  (a fixture: images users bring)
from tests.integration.node_fixtures import deploy_folder, node_base_image, node_settings  # noqa: F401

CI = os.environ.get("CI") == "true"
FIXTURES = Path(__file__).parent / "fixtures" / "functions"
REPO = Path(__file__).parent.parent
STARTED_GATEWAYS: set[str] = set()  # ids of the gateways this test run started


def need(ok: object, reason: str) -> None:
    """Skip locally, fail in CI: a missing service must never turn CI green."""
    if ok:
        return
    if CI:
        pytest.fail(f"{reason} (CI=true: this test needs it)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    condition: Callable[[], object], timeout: float = 30.0, interval: float = 0.02
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s: {condition}")


# -- services ----------------------------------------------------------------------------------


@pytest.fixture
def fake_engine() -> Iterator[FakeEngine]:
    """An engine without Docker: each instance is the real runtime as a local process (see
    faas/engines/fake.py); every one is killed at teardown, whatever the test did."""
    engine = FakeEngine()
    yield engine
    engine.shut_down()


@pytest.fixture(scope="session")
def docker_backend() -> Iterator[DockerBackend]:
    backend = DockerBackend()
    try:
        backend.ping()
    except FaasError as exc:
        need(False, f"Docker Engine is not available: {exc.message}")
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def base_image(docker_backend: DockerBackend) -> str:
    image = os.environ.get("FAAS_BASE_IMAGE") or DEFAULT_BASE_IMAGE
    need(
        docker_backend.image_exists(image),
        f"base image {image} is not present: run `faas images bootstrap` and set FAAS_BASE_IMAGE",
    )
    return image


class RedisServer:
    """A redis-server of the test run's own that requires a password, as the platform's Redis
    does: every test that uses it proves faas works with credentials. `url` carries the
    password (the tests' own clients); gateways get it from a file (see `Gateway`)."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.password = secrets.token_urlsafe(16)
        self.url = f"redis://:{self.password}@127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = shutil.which("redis-server")
        assert exe is not None
        self.process = subprocess.Popen(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--requirepass",
                self.password,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.answers, 10)

    def _command(self, command: bytes, timeout: float) -> bytes:
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(b"AUTH " + self.password.encode() + b"\r\n" + command + b"\r\n")
            reply = b""
            while reply.count(b"\r\n") < 2:
                chunk = sock.recv(64)
                if not chunk:
                    break
                reply += chunk
            return reply.split(b"\r\n")[1]

    def answers(self) -> bool:
        try:
            return self._command(b"PING", 0.5).startswith(b"+PONG")
        except OSError:
            return False

    def flush(self) -> None:
        assert self._command(b"FLUSHALL", 2).startswith(b"+OK")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    need(
        shutil.which("redis-server"), "redis-server is not installed (apt-get install redis-server)"
    )
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


# -- gateway processes -------------------------------------------------------------------------


class Gateway:
    """A real `python -m gateway` process on a free port. `http` and `client()` carry the
    credentials of its FAAS_HOME (created before it starts, as `faas up` does), on control
    plane routes only."""

    def __init__(
        self, redis_url: str, home: Path, socket_dir: Path, extra_env: dict[str, str]
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.home = home
        self.log = home / f"gateway-{self.port}.log"
        # The Redis password from a 0600 file, as `faas up` gives it (never in the URL).
        parts = urlsplit(redis_url)
        redis_env = {"FAAS_REDIS_URL": redis_url}
        if parts.password:
            password_file = home / "redis-password"
            password_file.write_text(parts.password + "\n")
            password_file.chmod(0o600)
            plain = parts._replace(netloc=f"{parts.hostname}:{parts.port}")
            redis_env = {
                "FAAS_REDIS_URL": urlunsplit(plain),
                "FAAS_REDIS_PASSWORD_FILE": str(password_file),
            }
        self.env = {
            **os.environ,
            "FAAS_PORT": str(self.port),
            "FAAS_BIND": "127.0.0.1",
            **redis_env,
            "FAAS_HOME": str(home),
            "FAAS_SOCKET_DIR": str(socket_dir),
            # Pool tests count cold starts and containers per function; the generic pool,
            # on by default, is tested on its own (tests/integration/test_generic.py).
            "FAAS_GENERIC_POOL": "0",
            **extra_env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.settings = Settings.from_env(self.env)
        self.password = credentials.ensure(self.settings) if self.settings.auth else None
        auth = ControlPlaneAuth(self.password, self.url) if self.password else None
        self.http = httpx.Client(base_url=self.url, timeout=60, trust_env=False, auth=auth)

    def start(self) -> Gateway:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway"],
                env=self.env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until(self.healthy, 30, 0.05)
        except AssertionError:
            self.stop()
            raise AssertionError(
                f"gateway did not start:\n{self.log.read_text()[-3000:]}"
            ) from None
        self.id = self.http.get("/healthz").json()["gateway"]
        STARTED_GATEWAYS.add(self.id)
        return self

    def healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"gateway exited:\n{self.log.read_text()[-3000:]}")
        try:
            return self.http.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the gateway; one that has not ended after a minute is killed (so it cannot go
        on reading the queue under the next tests) and the test fails with its log."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)
            raise AssertionError(
                f"gateway on port {self.port} did not stop within 60s; killed. Its log:\n"
                + self.log.read_text()[-6000:]
            ) from None

    def client(self) -> GatewayClient:
        return GatewayClient(self.url, settings=self.settings)

    def cli_env(self) -> dict[str, str]:
        """What the `faas` CLI needs to drive this gateway: its URL and its home's credentials."""
        return {"FAAS_GATEWAY": self.url, "FAAS_HOME": str(self.home)}


@pytest.fixture
def make_gateway(
    redis_server: RedisServer, docker_backend: DockerBackend, tmp_path: Path
) -> Iterator[Callable[..., Gateway]]:
    """Start gateways sharing one Redis; all are stopped (gracefully) at the end of the test."""
    socket_dir = Path(tempfile.mkdtemp(prefix="faas-", dir="/tmp"))  # short: sun_path is 108 bytes
    started: list[Gateway] = []

    def make(**extra_env: str) -> Gateway:
        gateway = Gateway(redis_server.url, tmp_path, socket_dir, extra_env).start()
        started.append(gateway)
        return gateway

    redis_server.flush()
    yield make
    hung = []
    for gateway in started:  # every one, even after one hangs: none may outlive its test
        try:
            gateway.stop()
        except AssertionError as exc:
            hung.append(str(exc))
        gateway.http.close()
    shutil.rmtree(socket_dir, ignore_errors=True)
    assert not hung, "\n\n".join(hung)


@pytest.fixture
def gateway(make_gateway: Callable[..., Gateway]) -> Gateway:
    return make_gateway()


@pytest.fixture(scope="session")
def build(
    docker_backend: DockerBackend, base_image: str
) -> Callable[[Path], tuple[dict[str, object], BuiltImage]]:
    """Build a function folder's image (cached by content hash across the session)."""
    settings = Settings.from_env()

    def _build(folder: Path) -> tuple[dict[str, object], BuiltImage]:
        spec = load_manifest(folder)
        built = build_function_image(
            docker_backend,
            folder,
            spec.name,
            base_image=base_image,
            ca_bundle=settings.build_ca_bundle,
        )
        return spec.to_manifest(), built

    return _build


@pytest.fixture
def deploy(
    build: Callable[[Path], tuple[dict[str, object], BuiltImage]],
) -> Callable[[Gateway, Path], dict[str, object]]:
    def _deploy(gateway: Gateway, folder: Path) -> dict[str, object]:
        manifest, built = build(folder)
        with gateway.client() as client:
            return client.register(manifest, built.tag, built.code_hash)

    return _deploy


@pytest.fixture
def register(
    build: Callable[[Path], tuple[dict[str, object], BuiltImage]],
) -> Callable[..., dict[str, object]]:
    """Register a fixture's image with manifest overrides (one build, many configurations)."""

    def _register(gateway: Gateway, folder: Path, **overrides: object) -> dict[str, object]:
        manifest, built = build(folder)
        response = gateway.http.post(
            "/system/functions",
            json={
                "manifest": {**manifest, **overrides},
                "image": built.tag,
                "code_hash": built.code_hash,
            },
        )
        assert response.status_code in (200, 201), response.text
        return dict(response.json())

    return _register


def run_containers(labels: dict[str, str] | None = None) -> list[ManagedContainer]:
    """Managed containers of this test run's gateways only: other test runs (developers,
    parallel checkouts) may share the Docker Engine and use the same function names."""
    found = DockerBackend().list_managed(labels)
    return [c for c in found if c.labels.get(keys.LABEL_GATEWAY) in STARTED_GATEWAYS]


# -- leaks -------------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def no_leaked_containers() -> Iterator[None]:
    """Every container the test run's gateways created is gone when it ends."""
    yield
    backend = DockerBackend()
    try:
        found = backend.list_managed()
    except FaasError:
        return
    leaked = [c for c in found if c.labels.get(keys.LABEL_GATEWAY) in STARTED_GATEWAYS]
    for container in leaked:
        backend.remove(container.id)
    assert not leaked, "containers left behind: " + ", ".join(
        f"{c.labels.get(keys.LABEL_FUNCTION, '?')} ({c.state})" for c in leaked
    )

"""Generic mode of the runtime (faas.runtime): no function at start, `POST /_/load` later.

Most tests run a `Server(None, ...)` in-process. A load changes process-wide state (os.environ,
the working directory, sys.path, sys.modules), so the `generic` fixture restores all of it and
every test names its modules uniquely.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import py_compile
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from faas import runtime as rt
from faas.runtime.loading import install_files
from tests.unit import test_runtime
from tests.unit.test_runtime import (
    TIMEOUT,
    Client,
    Response,
    can_connect,
    raw_request,
    run_env,
    wait_until,
)

MTIME = 1_700_000_000
image_runtime = test_runtime.image_runtime  # fixtures shared with the runtime's tests
runtime_process = test_runtime.runtime_process


def unique(prefix: str) -> str:
    """A module name no other test (or earlier load) has imported."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def file_entry(path: str, data: str | bytes, mode: int = 0o644, mtime: int = MTIME) -> Any:
    raw = data.encode() if isinstance(data, str) else data
    encoded = base64.b64encode(raw).decode("ascii")
    return {"path": path, "mode": mode, "mtime": mtime, "data": encoded}


def load_body(
    handler: str,
    files: list[Any],
    function: str = "fn",
    concurrency: int = 1,
    env: dict[str, str] | None = None,
) -> bytes:
    body = {
        "function": function,
        "handler": handler,
        "concurrency": concurrency,
        "env": env or {},
        "files": files,
    }
    return json.dumps(body).encode()


class Generic:
    """A running unloaded Server, its function dir and a client on it."""

    def __init__(self, server: rt.Server, function_dir: Path) -> None:
        self.server = server
        self.function_dir = function_dir
        self.client = Client(server.address)

    def load(self, body: bytes) -> Response:
        return self.client.request("POST", "/_/load", body=body)

    def health(self) -> Any:
        response = self.client.request("GET", "/_/health")
        assert response.status == 200
        return response.json()


@pytest.fixture
def generic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Generic]:
    # Short, not tmp_path: a Unix socket path must fit in 108 bytes.
    sock_dir = Path(tempfile.mkdtemp(prefix="faas-gen-"))
    function_dir = tmp_path / "function"
    function_dir.mkdir()
    saved_env = os.environ.copy()
    monkeypatch.chdir(os.getcwd())  # restored at teardown, after the load's chdir
    monkeypatch.setattr(sys, "path", list(sys.path))
    server = rt.Server(None, socket_path=str(sock_dir / "s.sock"), function_dir=str(function_dir))
    server.start()
    state = Generic(server, function_dir)
    try:
        yield state
    finally:
        state.client.close()
        server.stop()
        os.environ.clear()
        os.environ.update(saved_env)
        for name, module in list(sys.modules.items()):
            if str(getattr(module, "__file__", None) or "").startswith(str(function_dir)):
                del sys.modules[name]
        sys.path_importer_cache.pop(str(function_dir), None)
        shutil.rmtree(sock_dir, ignore_errors=True)


# --- Loading ---------------------------------------------------------------------------------


def test_load_installs_files_env_and_cwd_then_serves(generic: Generic) -> None:
    mod, pkg = unique("handler"), unique("pkg")
    source = (
        "import os\n"
        f"import {pkg}.sub\n"
        "AT_IMPORT = (os.environ.get('GREETING'), os.getcwd())\n"
        "def handle(event, context):\n"
        "    faas = [os.environ[k] for k in ('FAAS_FUNCTION_NAME', 'FAAS_HANDLER',"
        " 'FAAS_CONCURRENCY')]\n"
        "    return {'at_import': AT_IMPORT, 'now': os.environ['GREETING'],\n"
        f"            'sub': {pkg}.sub.VALUE, 'faas': faas, 'cold': context.cold,\n"
        "            'name': context.function_name, 'body': event.text()}\n"
    )
    files = [
        file_entry(f"{mod}.py", source),
        file_entry(f"{pkg}/__init__.py", ""),
        file_entry(f"{pkg}/sub.py", "VALUE = 'from the package'\n", mtime=MTIME - 60),
        file_entry("bin/run.sh", "#!/bin/sh\n", mode=0o100777),
        file_entry("data.bin", bytes(range(256)), mode=0o666),
    ]
    health = generic.health()
    assert health == {"status": "ok", "loaded": False, "function": None, "calls": 0}

    loaded = generic.load(load_body(f"{mod}.handle", files, "greeter", env={"GREETING": "hi"}))
    assert loaded.status == 200, loaded.body
    answer = loaded.json()
    assert answer.keys() == {"status", "function", "load_ms"}
    assert (answer["status"], answer["function"]) == ("loaded", "greeter")
    assert isinstance(answer["load_ms"], float) and answer["load_ms"] >= 0

    root = generic.function_dir
    expected = {
        f"{mod}.py": (0o444, MTIME),
        f"{pkg}/__init__.py": (0o444, MTIME),
        f"{pkg}/sub.py": (0o444, MTIME - 60),
        "bin/run.sh": (0o555, MTIME),  # mode & 0o555: read-only, no setuid or sticky bits
        "data.bin": (0o444, MTIME),
    }
    for path, (mode, mtime) in expected.items():
        info = (root / path).stat()
        assert (stat.S_IMODE(info.st_mode), info.st_mtime) == (mode, mtime), path
    assert (root / "data.bin").read_bytes() == bytes(range(256))
    for folder in (pkg, "bin"):  # read-only too, as in the function's image
        assert stat.S_IMODE((root / folder).stat().st_mode) == 0o555, folder

    assert generic.health() == {"status": "ok", "loaded": True, "function": "greeter", "calls": 0}
    first = generic.client.request("POST", "/call/", body=b"payload")
    assert first.status == 200, first.body
    assert first.json() == {
        "at_import": ["hi", str(root)],
        "now": "hi",
        "sub": "from the package",
        "faas": ["greeter", f"{mod}.handle", "1"],
        "cold": True,
        "name": "greeter",
        "body": "payload",
    }
    assert generic.client.request("POST", "/call/").json()["cold"] is False
    assert generic.health()["calls"] == 2
    assert os.getcwd() == str(root) and sys.path[0] == str(root)


def test_shipped_pyc_stays_valid(generic: Generic, tmp_path: Path) -> None:
    # A .pyc is used only if its source's size and mtime match: ship one compiled from
    # different code of the same size; it is what gets imported if the mtime survives.
    mod = unique("compiled")
    build = tmp_path / "build"
    build.mkdir()
    source = build / f"{mod}.py"
    source.write_text("def handle(event, context):\n    return 'from the pyc'\n")
    os.utime(source, (MTIME, MTIME))
    pyc = Path(importlib.util.cache_from_source(str(source)))
    py_compile.compile(str(source), cfile=str(pyc), doraise=True)
    shipped = "def handle(event, context):\n    return 'from the src'\n"
    assert len(shipped) == len(source.read_text())
    files = [
        file_entry(f"{mod}.py", shipped),
        file_entry(f"__pycache__/{pyc.name}", pyc.read_bytes()),
    ]
    assert generic.load(load_body(f"{mod}.handle", files)).status == 200
    assert generic.client.request("GET", "/call/").body == b"from the pyc"


def test_call_before_load_is_503(generic: Generic) -> None:
    response = generic.client.request("GET", "/call/x")
    assert response.status == 503
    assert response.json()["error"]["code"] == "not_loaded"
    assert generic.health() == {"status": "ok", "loaded": False, "function": None, "calls": 0}


def test_second_load_is_409_and_other_methods_405(generic: Generic) -> None:
    mod = unique("handler")
    files = [file_entry(f"{mod}.py", "def handle(event, context):\n    return 'one'\n")]
    assert generic.load(load_body(f"{mod}.handle", files, "one")).status == 200
    again = generic.load(load_body(f"{mod}.handle", files, "two"))
    assert (again.status, again.json()["error"]["code"]) == (409, "already_loaded")
    assert generic.client.request("GET", "/_/load").status == 405
    assert generic.health()["function"] == "one"
    assert generic.client.request("GET", "/call/").body == b"one"


def test_load_into_a_normal_server_is_409() -> None:
    sock_dir = Path(tempfile.mkdtemp(prefix="faas-gen-"))
    server = rt.Server(lambda event, context: "own", socket_path=str(sock_dir / "s.sock"))
    server.start()
    client = Client(server.address)
    try:
        response = client.request("POST", "/_/load", body=load_body("x.handle", []))
        assert (response.status, response.json()["error"]["code"]) == (409, "already_loaded")
        assert client.request("GET", "/_/health").json()["loaded"] is True
    finally:
        client.close()
        server.stop()
        shutil.rmtree(sock_dir, ignore_errors=True)


GOOD_FILE = file_entry("ok.py", "def handle(event, context):\n    return 1\n")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b"\xff\xfe",
        b"[" * 100_000,
        json.dumps({"handler": "ok.handle", "files": []}).encode(),
        json.dumps({"function": "", "handler": "ok.handle"}).encode(),
        json.dumps({"function": "f", "handler": 3}).encode(),
        load_body("ok.handle", [GOOD_FILE], concurrency=0),
        json.dumps({"function": "f", "handler": "ok.handle", "concurrency": True}).encode(),
        json.dumps({"function": "f", "handler": "ok.handle", "env": {"K": 1}}).encode(),
        json.dumps({"function": "f", "handler": "ok.handle", "env": {"A=B": "v"}}).encode(),
        json.dumps({"function": "f", "handler": "ok.handle", "env": ["K"]}).encode(),
        json.dumps({"function": "f", "handler": "ok.handle", "files": {"a": 1}}).encode(),
        load_body("ok.handle", [GOOD_FILE, "ok.py"]),
        load_body("ok.handle", [GOOD_FILE, file_entry("../x.py", "")]),
        load_body("ok.handle", [GOOD_FILE, file_entry("/etc/x.py", "")]),
        load_body("ok.handle", [GOOD_FILE, file_entry("", "")]),
        load_body("ok.handle", [GOOD_FILE, file_entry(".", "")]),
        load_body("ok.handle", [GOOD_FILE, file_entry("a/../b.py", "")]),
        load_body("ok.handle", [GOOD_FILE, file_entry("a/../../b.py", "")]),
        load_body("ok.handle", [GOOD_FILE, file_entry("a\0b", "")]),
        load_body("ok.handle", [GOOD_FILE, {**file_entry("a.py", ""), "mode": "644"}]),
        load_body("ok.handle", [GOOD_FILE, {**file_entry("a.py", ""), "mtime": None}]),
        load_body("ok.handle", [GOOD_FILE, {**file_entry("a.py", ""), "data": "no base64!"}]),
        load_body("ok.handle", [GOOD_FILE, {"path": "a.py", "mode": 420, "mtime": 1}]),
    ],
)
def test_bad_load_is_400_and_nothing_is_written_or_loaded(generic: Generic, body: bytes) -> None:
    response = generic.load(body)
    assert (response.status, response.json()["error"]["code"]) == (400, "bad_request")
    assert list(generic.function_dir.iterdir()) == []
    assert generic.health()["loaded"] is False
    assert generic.client.request("GET", "/call/").status == 503


@pytest.mark.parametrize(
    ("source", "attr", "code", "message"),
    [
        (
            "import does_not_exist_xyz\n",
            "handle",
            rt.IMPORT_MODULE_ERROR,
            "Unable to import module '{mod}': No module named 'does_not_exist_xyz'",
        ),
        (
            "def other(event, context):\n    pass\n",
            "handle",
            rt.HANDLER_NOT_FOUND,
            "Handler 'handle' missing on module '{mod}'",
        ),
        ("raise ValueError('no config')\n", "handle", rt.INIT_ERROR, "ValueError: no config"),
    ],
)
def test_failed_load_is_500_with_the_init_code_and_stays_unloaded(
    generic: Generic,
    capsys: pytest.CaptureFixture[str],
    source: str,
    attr: str,
    code: str,
    message: str,
) -> None:
    mod = unique("broken")
    response = generic.load(load_body(f"{mod}.{attr}", [file_entry(f"{mod}.py", source)]))
    assert response.status == 500
    error = {"code": code, "message": message.format(mod=mod)}
    assert response.json() == {"error": error}
    last_line = capsys.readouterr().err.splitlines()[-1]
    assert json.loads(last_line) == {"faas_init_error": error}  # what the gateway's logs show
    assert generic.health() == {"status": "ok", "loaded": False, "function": None, "calls": 0}
    assert generic.client.request("GET", "/call/").status == 503


def test_load_with_concurrency_starts_the_pool(
    generic: Generic, monkeypatch: pytest.MonkeyPatch
) -> None:
    mod = unique("slow")
    both_running = threading.Barrier(2, timeout=TIMEOUT)
    monkeypatch.setattr(rt, "_test_barrier", both_running, raising=False)  # for the handler
    source = (
        "import threading\n"
        "from faas import runtime\n"
        "def handle(event, context):\n"
        "    runtime._test_barrier.wait()  # fails unless two calls run at once\n"
        "    return threading.current_thread().name\n"
    )
    body = load_body(f"{mod}.handle", [file_entry(f"{mod}.py", source)], concurrency=2)
    assert generic.load(body).status == 200
    assert generic.server.concurrency == 2
    first, second = Client(generic.server.address), Client(generic.server.address)
    first.send(raw_request("GET", "/call/"))
    second.send(raw_request("GET", "/call/"))
    names = {first.read().body, second.read().body}
    first.close()
    second.close()
    assert names == {b"faas-call-0", b"faas-call-1"}
    assert os.environ["FAAS_CONCURRENCY"] == "2"


def test_install_files_checks_everything_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsafe file path"):
        install_files(str(tmp_path), [file_entry("a.py", "x"), file_entry("../b.py", "y")])
    assert list(tmp_path.iterdir()) == []
    install_files(str(tmp_path), [file_entry("./a/b/c.txt", "deep", mode=0o600)])
    assert (tmp_path / "a/b/c.txt").read_text() == "deep"
    assert stat.S_IMODE((tmp_path / "a/b/c.txt").stat().st_mode) == 0o400


# --- The process -----------------------------------------------------------------------------


def test_generic_process_binds_at_once_then_loads_and_serves(
    runtime_process: list[str], tmp_path: Path
) -> None:
    sock_dir = Path(tempfile.mkdtemp(prefix="faas-gen-"))
    function_dir = tmp_path / "function"
    function_dir.mkdir()
    socket_path = str(sock_dir / "s.sock")
    env = run_env(function_dir, FAAS_GENERIC="1", FAAS_SOCKET=socket_path)
    proc = subprocess.Popen(runtime_process, env=env, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: can_connect(socket_path))
        client = Client(socket_path)
        assert client.request("GET", "/_/health").json()["loaded"] is False
        source = (
            "import os\n"
            "def handle(event, context):\n"
            "    return {'cwd': os.getcwd(), 'key': os.environ['KEY'], 'cold': context.cold}\n"
        )
        body = load_body("handler.handle", [file_entry("handler.py", source)], env={"KEY": "v"})
        assert client.request("POST", "/_/load", body=body).status == 200
        assert client.request("GET", "/call/").json() == {
            "cwd": str(function_dir),
            "key": "v",
            "cold": True,
        }
        client.close()
        proc.terminate()
        assert proc.wait(TIMEOUT) == 0
        assert proc.stderr is not None
        banner = proc.stderr.readline()
        assert banner == f"faas runtime: generic, waiting for /_/load on {socket_path}\n"
    finally:
        proc.kill()
        proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
        shutil.rmtree(sock_dir, ignore_errors=True)
    assert not os.path.exists(socket_path)

"""Host isolation (issue 11, item 5), on real Docker: nothing a function does puts bytes on the
host's disk, other local users cannot reach a function's socket, and a generic runtime's
loaded code is as read-only as in the function's own image."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from faas.contracts.native import SOCKET_NAME
from tests.conftest import FIXTURES, Gateway, need, wait_until

INTRUDER = FIXTURES / "intruder"
Register = Callable[..., dict[str, object]]


@pytest.fixture
def open_parent() -> Iterator[Path]:
    """A world-readable folder (as a home folder often is) to hold the gateway's sockets."""
    parent = Path(tempfile.mkdtemp(prefix="faas-iso-", dir="/tmp"))
    parent.chmod(0o755)
    yield parent
    shutil.rmtree(parent, ignore_errors=True)


def instance_dirs(sockets: Path) -> list[Path]:
    return [path for path in sockets.iterdir() if path.is_dir()]


def host_bytes(folder: Path) -> int:
    """Bytes of regular files under `folder` (what a function could have left on the disk)."""
    folder.chmod(0o700)  # sealed 0500: its owner may list it anyway; be sure for the walk
    total = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    folder.chmod(0o500)
    return total


@pytest.mark.parametrize("generic_pool", ["0", "1"], ids=["own-image", "generic"])
def test_a_function_cannot_write_to_the_host_or_its_code(
    make_gateway: Callable[..., Gateway], register: Register, open_parent: Path, generic_pool: str
) -> None:
    sockets = open_parent / "sockets"
    gateway = make_gateway(FAAS_SOCKET_DIR=str(sockets), FAAS_GENERIC_POOL=generic_pool)
    register(gateway, INTRUDER)
    if generic_pool == "1":  # the call must be served by a spare that loads the code
        wait_until(
            lambda: gateway.http.get("/system/function/intruder").json()["generic"]["spares"],
            120,
            0.1,
        )
    response = gateway.http.post("/function/intruder?mib=50")
    assert response.status_code == 200, response.text
    start = "prewarm" if generic_pool == "1" else "cold"
    assert response.headers["x-faas-start"] == start
    report = response.json()
    assert report["uid"] == 10001
    # The socket folder was closed before the function's code ran: no write, no listing.
    assert report["socket_dir"] == "EACCES"
    assert report["socket_dir_mkdir"] == "EACCES"
    assert report["socket_dir_list"] == "EACCES"
    assert report["root"] == "EROFS"
    # Own image: the read-only root filesystem; generic: a tmpfs the function does not own.
    assert report["code_dir"] in ("EROFS", "EACCES")
    assert report["own_code"] in ("EROFS", "EACCES")
    assert report["own_code_chmod"] in ("EROFS", "EPERM")
    assert report["tmp"] == "ENOSPC"  # bounded (64 MiB), in the container's memory, not on disk
    assert report["run"].count("faas") == 1  # its own socket folder, no other in sight
    # On the host: the instance's folder holds its socket and nothing else, sealed.
    (folder,) = [d for d in instance_dirs(sockets) if (d / SOCKET_NAME).exists()] or [None]
    assert folder is not None
    assert folder.stat().st_mode & 0o777 == 0o500
    assert [p.name for p in folder.iterdir()] == [SOCKET_NAME]
    assert host_bytes(folder) == 0
    assert sockets.stat().st_mode & 0o777 == 0o700
    # And the instance serves on.
    again = gateway.http.post("/function/intruder?mib=1")
    assert again.status_code == 200 and again.headers["x-faas-start"] == "warm"


def test_other_local_users_cannot_reach_a_functions_socket(
    make_gateway: Callable[..., Gateway], register: Register, open_parent: Path
) -> None:
    need(os.geteuid() == 0 and shutil.which("setpriv"), "needs root and setpriv")
    sockets = open_parent / "sockets"
    gateway = make_gateway(FAAS_SOCKET_DIR=str(sockets))
    register(gateway, INTRUDER)
    assert gateway.http.post("/function/intruder?mib=1").status_code == 200
    (path,) = [d / SOCKET_NAME for d in instance_dirs(sockets) if (d / SOCKET_NAME).exists()]
    connect = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        f"    s.connect({str(path)!r})\n"
        "except OSError as exc:\n"
        "    sys.exit(type(exc).__name__)\n"
        "print('connected')\n"
    )
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    as_nobody = subprocess.run(
        [*nobody, sys.executable, "-c", connect], capture_output=True, text=True, timeout=30
    )
    assert as_nobody.returncode != 0 and "PermissionError" in as_nobody.stderr, as_nobody
    # The same program as the gateway's own user connects: the socket itself is fine.
    as_owner = subprocess.run(
        [sys.executable, "-c", connect], capture_output=True, text=True, timeout=30
    )
    assert as_owner.stdout.strip() == "connected", as_owner

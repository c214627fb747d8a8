"""What keeps a function's code off the host and its own code read-only (see design.md,
Containers), from the runtime's side.

- The socket folder is bind-mounted from the host, writable so that the runtime can create its
  socket there. With FAAS_SOCKET_SEALED=1 the gateway closes the folder (no write bit) once the
  socket exists, and the runtime waits for that before it runs any of the function's code:
  nothing the function does can then put a byte in that host folder.
- A generic container starts as root with only CAP_SETUID/CAP_SETGID (FAAS_RUN_AS names the
  function's uid:gid): `POST /_/load` writes the code as root, then the process becomes the
  function's user for good, so the code is as read-only to the function as in its own image.
"""

from __future__ import annotations

import os
import time

SEAL_TIMEOUT = 30.0  # the gateway's default FAAS_READY_TIMEOUT: it gives up by then anyway


def sealing_requested() -> bool:
    return os.environ.get("FAAS_SOCKET_SEALED") == "1"


def wait_sealed(folder: str, timeout: float = SEAL_TIMEOUT) -> bool:
    """Wait until nobody may write into `folder`; False if that does not happen in time."""
    deadline = time.monotonic() + timeout
    while os.stat(folder).st_mode & 0o222:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.0005)
    return True


def drop_privileges() -> None:
    """Become FAAS_RUN_AS (`uid:gid`) for good, when started as root; OSError if that fails."""
    wanted = os.environ.get("FAAS_RUN_AS", "")
    if not wanted or os.geteuid() != 0:
        return
    uid_text, _, gid_text = wanted.partition(":")
    try:
        uid, gid = int(uid_text), int(gid_text or uid_text)
    except ValueError:
        raise OSError(f"FAAS_RUN_AS={wanted!r} is not uid:gid") from None
    if uid == 0:
        raise OSError("FAAS_RUN_AS must not be root")
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)  # also clears every capability: there is no way back

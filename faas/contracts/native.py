"""The native contract: faas's own in-container runtime (`faas.runtime`), over a Unix socket in a
per-instance host directory (FAAS_SOCKET_DIR) or over TCP on the functions' network
(FAAS_TRANSPORT=tcp). The runtime listens where FAAS_SOCKET or FAAS_PORT says, and binds only
after loading the handler: an instance that accepts a connection is ready.

The runtime takes the call under `/call<path>` with `x-call-id` and `x-faas-timeout-ms`, and
answers with a Content-Length and `x-faas-handler-ms`, which is taken off the response here.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path, PurePosixPath

from faas.contracts.base import HOP_BY_HOP, CallRequest, CallResponse, Placement
from faas.contracts.transport import Address, Channel, probe
from faas.errors import ConfigError
from faas.settings import Settings

HANDLER_MS = b"x-faas-handler-ms"
RUNTIME_DIR = PurePosixPath("/run/faas")  # bind-mounted per instance, holds the socket
SOCKET_NAME = "runtime.sock"
TCP_PORT = 8080
SEALED_MODE = 0o500  # the gateway's user may list and connect; nobody may write
_MAX_SOCKET_PATH = 107  # sun_path is 108 bytes including the terminating NUL


class NativeContract:
    """Places native runtimes per FAAS_TRANSPORT and tells when they answer."""

    def __init__(self, settings: Settings) -> None:
        self._unix = settings.transport == "unix"
        self._sockets = settings.sockets
        self._network = settings.function_network
        self._max_response = settings.max_response

    def place(self, token: str, wants_network: bool) -> Placement:
        if not self._unix:
            return tcp_placement(self._network)
        return unix_placement(self._socket_dir(token), self._network if wants_network else None)

    async def ready(self, placement: Placement, host: str) -> bool:
        if placement.host_dir is not None:
            seal_when_bound(placement.host_dir)
        return await probe(address(placement, host))

    def endpoint(self, placement: Placement, host: str) -> NativeEndpoint:
        return NativeEndpoint(address(placement, host), self._max_response)

    def release(self, placement: Placement) -> None:
        if placement.host_dir is not None:
            with contextlib.suppress(OSError):
                placement.host_dir.chmod(0o700)  # sealed: its owner reopens it to remove it
            shutil.rmtree(placement.host_dir, ignore_errors=True)

    def _socket_dir(self, token: str) -> Path:
        path = self._sockets / token
        if len(str(path / SOCKET_NAME)) > _MAX_SOCKET_PATH:
            raise ConfigError(
                f"socket path {path / SOCKET_NAME} is longer than {_MAX_SOCKET_PATH} bytes: "
                "set FAAS_SOCKET_DIR to a shorter directory"
            )
        close_to_others(self._sockets)
        path.mkdir(parents=True, exist_ok=False)
        # The function runs as another uid and creates its socket here; the folder is sealed
        # (seal_when_bound) before any of its code runs.
        path.chmod(0o777)
        return path


def close_to_others(sockets: Path) -> None:
    """The folder of every instance's socket folder: its owner's only (0700), so no other local
    user reaches a function's socket. (Docker bind-mounts through it as root.)"""
    sockets.mkdir(parents=True, exist_ok=True)
    if sockets.stat().st_mode & 0o777 != 0o700:
        try:
            sockets.chmod(0o700)
        except PermissionError:
            raise ConfigError(
                f"cannot make {sockets} private (0700): set FAAS_SOCKET_DIR to a folder of "
                "the gateway's own user"
            ) from None


def seal_when_bound(host_dir: Path) -> None:
    """Once the runtime's socket exists, nobody may write into its folder again: the function
    cannot put a byte on the host's disk there (the runtime waits for this before loading any
    code, see faas.runtime.confine). Connecting needs write permission on the socket only."""
    if (host_dir / SOCKET_NAME).exists():
        host_dir.chmod(SEALED_MODE)


def unix_placement(host_dir: Path, network: str | None) -> Placement:
    """The runtime listens on a socket in `host_dir`, bind-mounted at RUNTIME_DIR."""
    return Placement(
        network=network,
        environment={"FAAS_SOCKET": str(RUNTIME_DIR / SOCKET_NAME), "FAAS_SOCKET_SEALED": "1"},
        binds={str(host_dir): str(RUNTIME_DIR)},
        host_dir=host_dir,
    )


def tcp_placement(network: str) -> Placement:
    """The runtime listens on TCP_PORT, reached at its address on `network`."""
    return Placement(network=network, environment={"FAAS_PORT": str(TCP_PORT)}, over_network=True)


def address(placement: Placement, host: str) -> Address:
    if placement.host_dir is not None:
        return Address(path=str(placement.host_dir / SOCKET_NAME))
    return Address(host=host, port=TCP_PORT)


class NativeEndpoint:
    """A running native runtime: a keep-alive channel to it."""

    def __init__(self, address: Address, max_response: int | None = None) -> None:
        self.address = address
        self.channel = Channel(address, max_response)

    def __str__(self) -> str:
        return str(self.address)

    async def call(self, request: CallRequest, call_id: str, timeout: float) -> CallResponse:
        response = await self.channel.request(encode_call(request, call_id, timeout), timeout)
        handler_ms = _pop_float(response.headers, HANDLER_MS)
        return CallResponse(response.status, response.headers, response.body, handler_ms)

    def close(self) -> None:
        self.channel.close()


def encode_call(request: CallRequest, call_id: str, timeout: float) -> bytes:
    """The request as the runtime expects it: target under /call, always a Content-Length."""
    target = b"/call" + request.target
    if request.query:
        target += b"?" + request.query
    lines = [f"{request.method} ".encode() + target + b" HTTP/1.1"]
    for name, value in request.headers:
        lower = name.lower()
        if lower in HOP_BY_HOP or lower.startswith(b"x-faas-") or lower == b"x-call-id":
            continue
        lines.append(name + b": " + value)
    lines.append(b"x-call-id: " + call_id.encode())
    lines.append(b"x-faas-timeout-ms: " + str(int(timeout * 1000)).encode())
    lines.append(b"content-length: " + str(len(request.body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + request.body


def _pop_float(headers: list[tuple[bytes, bytes]], name: bytes) -> float | None:
    for index, (key, value) in enumerate(headers):
        if key.lower() == name:
            del headers[index]
            with contextlib.suppress(ValueError):
                return float(value)
            return None
    return None

"""The native contract: faas's own in-container runtime (`faas.runtime`), over a Unix socket in a
per-instance host directory or over TCP on the functions' network.

The runtime takes the call under `/call<path>` with `x-call-id` and `x-faas-timeout-ms`, and
answers with a Content-Length and `x-faas-handler-ms`, which is taken off the response here.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from faas.contracts.base import HOP_BY_HOP, CallRequest, CallResponse
from faas.contracts.transport import Address, Channel

HANDLER_MS = b"x-faas-handler-ms"


class NativeEndpoint:
    """A running native runtime: a keep-alive channel to it, and its host-side socket folder."""

    def __init__(self, address: Address, host_dir: Path | None = None) -> None:
        self.address = address
        self.host_dir = host_dir  # removed with the instance (Unix socket transport only)
        self.channel = Channel(address)

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

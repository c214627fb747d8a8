"""The function-contract seam: how the pool sends one call to a running instance.

A contract decides how an instance listens (the native runtime on a Unix socket or TCP port;
later an HTTP image on its port, or a Lambda Runtime API image) and how a call is put on the
wire and its answer read back. The pool sees only an `Endpoint` per instance.

Failure semantics every endpoint keeps, because the pool's retry rules depend on them:
`ConnectFailed` (nothing accepted the request: never delivered, safe to send elsewhere),
`ConnectionLost` (the instance dropped the connection: maybe delivered, never re-sent) and
`TimeoutError` (no answer within the call's timeout).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# Headers that describe one HTTP connection, not the message: never forwarded across a hop.
HOP_BY_HOP = frozenset(
    b"connection keep-alive proxy-authenticate proxy-authorization te trailer trailers "
    b"transfer-encoding upgrade host content-length".split()
)


@dataclass(frozen=True)
class CallRequest:
    """An HTTP call as the gateway received it; `target` is the path after the function name."""

    method: str
    target: bytes  # raw path (percent-encoded), "" or starting with "/"
    query: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    force_cold: bool = False


@dataclass
class CallResponse:
    """The function's answer; `handler_ms` is the handler's own time when the contract says it."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    handler_ms: float | None = None


class Endpoint(Protocol):
    """One running instance, ready for calls."""

    async def call(self, request: CallRequest, call_id: str, timeout: float) -> CallResponse:
        """Send one call and return the answer (see the module doc for the errors)."""

    def close(self) -> None:
        """Drop pooled connections (the instance is being removed)."""

"""The function-contract seam: how the pool sends one call to a running instance.

A contract decides how an instance listens (the native runtime on a Unix socket or TCP port;
later an HTTP image on its port, or a Lambda Runtime API image) and how a call is put on the
wire and its answer read back. The pool sees only an `Endpoint` per instance, and
starts instances through a `Contract`: `place` before creating one (where it will listen, as
environment, binds and a network for the engine to arrange), `ready` while it starts (does it
answer yet?), `endpoint` once it does, `release` when it is removed.

Failure semantics every endpoint keeps, because the pool's retry rules depend on them:
`ConnectFailed` (nothing accepted the request: never delivered, safe to send elsewhere),
`ConnectionLost` (the instance dropped the connection: maybe delivered, never re-sent) and
`TimeoutError` (no answer within the call's timeout).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

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


@dataclass(frozen=True)
class Placement:
    """Where one new instance will listen, as its engine must arrange it."""

    network: str | None  # the engine network to join; None: no network at all
    environment: Mapping[str, str]  # tells the instance where to listen
    binds: Mapping[str, str] = field(default_factory=dict)  # host dir -> instance dir
    host_dir: Path | None = None  # made for this instance; `release` removes it
    over_network: bool = False  # reached at the instance's address on `network`


E_co = TypeVar("E_co", bound=Endpoint, covariant=True)


class Contract(Protocol[E_co]):
    """How the instances of one kind of function listen, answer readiness and take calls."""

    def place(self, token: str, wants_network: bool) -> Placement:
        """Reserve where a new instance (unique `token`) will listen; `wants_network`: the
        function itself needs the network (a contract reached over it joins it anyway)."""

    async def ready(self, placement: Placement, host: str) -> bool:
        """One readiness check; `host` is the instance's address when `over_network`, else ""."""

    def endpoint(self, placement: Placement, host: str) -> E_co:
        """The endpoint of a ready instance."""

    def release(self, placement: Placement) -> None:
        """Undo `place` (the instance is gone or never started)."""

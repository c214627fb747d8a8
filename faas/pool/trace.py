"""One call's trace: how long each phase took and how each attempt was served.

The invoker fills it in as the call goes (queue wait, container start, generic load, handler);
the gateway turns it into the `Server-Timing` and `X-Faas-Start` headers, the queue into its
call record. Pure data: no clock of its own, no I/O.
"""

from __future__ import annotations

from faas.pool.policy import StartKind


class CallTrace:
    """Phases of one call in milliseconds, in Server-Timing order (None until measured), and
    the start kind of each attempt.

    A call is attempted again when its container turned out to be dead before the request was
    delivered; the last attempt's kind is the one the response reports.
    """

    queue: float | None = None  # waiting for a container at the function's scale limit
    create: float | None = None  # creating a container (cold)
    start: float | None = None  # starting (cold) or resuming (paused) it
    ready: float | None = None  # until the runtime answered (cold)
    load: float | None = None  # loading the code into a generic runtime (prewarm)
    handler: float | None = None  # the handler, as the runtime measured it
    total: float | None = None  # the whole call, as the invoker saw it

    def __init__(self) -> None:
        self.attempts: list[StartKind] = []

    def attempt(self, kind: StartKind) -> None:
        """A new attempt, served as `kind` (counted even if it then fails)."""
        self.attempts.append(kind)

    def became(self, kind: StartKind) -> None:
        """The current attempt is served another way (no spare to load: started cold)."""
        self.attempts[-1] = kind

    @property
    def kind(self) -> StartKind | None:
        """How the call was served: the last attempt's kind (None if none was made)."""
        return self.attempts[-1] if self.attempts else None

    def timings(self) -> dict[str, float]:
        """The measured phases, in Server-Timing order (spelt out: this runs on every call)."""
        out: dict[str, float] = {}
        if self.queue is not None:
            out["queue"] = self.queue
        if self.create is not None:
            out["create"] = self.create
        if self.start is not None:
            out["start"] = self.start
        if self.ready is not None:
            out["ready"] = self.ready
        if self.load is not None:
            out["load"] = self.load
        if self.handler is not None:
            out["handler"] = self.handler
        if self.total is not None:
            out["total"] = self.total
        return out

    def server_timing(self) -> str:
        """The `Server-Timing` header value."""
        return ", ".join(f"{k};dur={v:.3f}" for k, v in self.timings().items())

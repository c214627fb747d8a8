"""What the pool tells about its calls and containers: per-function counts, the recent
synchronous calls (`GET /system/calls/{id}`), Prometheus metrics and `describe`.

Called once per finished call; kept to dictionary updates so it costs the warm path little.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from faas.errors import FaasError
from faas.pool.generic import GAUGE_NAME, GenericPool
from faas.pool.metrics import Metrics
from faas.pool.policy import FunctionPool, StartKind
from faas.pool.recent import RecentSyncCalls
from faas.pool.trace import CallTrace


@dataclass
class FunctionStats:
    calls: int = 0
    errors: int = 0
    starts: dict[str, int] = field(default_factory=lambda: {k.value: 0 for k in StartKind})


class Accounting:
    """`pools()` maps every registered function to its pool (read at scrape and describe)."""

    def __init__(
        self,
        metrics: Metrics,
        recent: RecentSyncCalls,
        pools: Callable[[], dict[str, FunctionPool]],
        generic: GenericPool | None,
    ) -> None:
        self.metrics = metrics
        self.recent = recent
        self._pools = pools
        self._generic = generic
        self._stats: dict[str, FunctionStats] = {}
        metrics.watch_pools(self._pool_counts)

    def add(self, name: str) -> None:
        self._stats.setdefault(name, FunctionStats())

    def forget(self, name: str) -> None:
        self._stats.pop(name, None)
        self.metrics.forget(name)

    def begin(self, name: str) -> FunctionStats:
        """A call started (counted at once, so `describe` shows calls in flight)."""
        stats = self._stats[name]
        stats.calls += 1
        return stats

    def finish(
        self,
        stats: FunctionStats,
        name: str,
        call_id: str,
        trace: CallTrace,
        status: int,
        error: FaasError | None,
        started_at: float,
        seconds: float,
    ) -> None:
        """A call ended (`status` 0: it failed before any response)."""
        kind = trace.kind
        if kind is not None:
            stats.starts[kind.value] += 1
        failed = error is not None or status >= 500
        if failed:
            stats.errors += 1
        self.metrics.observe_call(name, status, kind.value if kind else None, seconds)
        if trace.queue is not None:
            self.metrics.queue_wait.labels(name).observe(trace.queue / 1e3)
        self.recent.add(
            call_id,
            {
                "call_id": call_id,
                "function": name,
                "mode": "sync",
                "status": "failed" if failed else "succeeded",
                "http_status": status,
                "start": kind.value if kind else None,
                "timings": trace.timings(),
                "error": {"code": error.code, "message": error.message} if error else None,
                "created_at": started_at,
                "finished_at": started_at + seconds,
                "attempts": 1,
            },
        )

    def describe(self, name: str) -> dict[str, object]:
        """The function's containers, counts and generic-pool eligibility, for the API."""
        pool = self._pools().get(name)
        stats = self._stats.get(name, FunctionStats())
        return {
            "containers": pool.counts() if pool else {},
            "instances": [
                {
                    "container_id": i.container_id,
                    "state": i.state.value,
                    "address": str(i.endpoint) if i.endpoint else None,
                    "calls": i.calls,
                    "inflight": i.inflight,
                    "prewarmed": i.prewarmed,
                }
                for i in pool or ()
            ],
            "calls": stats.calls,
            "errors": stats.errors,
            "starts": dict(stats.starts),
            "generic": (
                self._generic.describe(pool.spec, pool.image)
                if self._generic is not None and pool is not None
                else None
            ),
        }

    def _pool_counts(self) -> dict[str, dict[str, int]]:
        counts = {name: pool.counts() for name, pool in self._pools().items()}
        if self._generic is not None:
            counts[GAUGE_NAME] = self._generic.counts()
        return counts

"""The function behind the gateway, as the benchmark drives it.

`Control` is the control plane: describe the function, drain, prestart and pause its pool (not
on any measured path, so httpx is fine there). `Target` adds the measured calls: one lean
keep-alive connection (`faas_bench.wire`), and `record` files each reply under its series by
the start kind the gateway reports.

Pool control (`POST /system/function/{name}/pool`) may be missing from an older gateway: it
answers 404 "no route" or 405, which becomes `NotAvailable` so a mode that needs it is
skipped with a line that says why, instead of failing the run. So does a gateway without a
generic runtime pool (no `generic` in the function's description, or the pool off), and a
function that cannot use one (its own dependencies, another base image).
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from faas.client import GatewayClient, error_from
from faas_bench.results import Series
from faas_bench.timing import CallTiming
from faas_bench.wire import Connection, Reply, address_from_url, request_bytes

# What `generic.reason` says while the gateway is still getting ready to answer (its runtime
# image being built, the function's code not read yet): wait. Any other reason is final.
GENERIC_PENDING = ("preparing", "not checked yet", "being read from its image")


class NotAvailable(Exception):
    """The gateway cannot do what a mode needs; the message says what and why."""


class Control:
    def __init__(
        self,
        gateway_url: str,
        name: str,
        timeout: float = 120.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = gateway_url.rstrip("/")
        self.name = name
        self.client = GatewayClient(self.url, timeout, transport)
        self.missing: str | None = None  # set once pool control turned out to be unavailable

    def close(self) -> None:
        self.client.close()

    def describe(self) -> dict[str, Any]:
        return self.client.function(self.name)

    def instances(self) -> list[dict[str, Any]]:
        return list(self.describe().get("instances") or [])

    def generic(self) -> dict[str, Any] | None:
        """The function's generic runtime status (`eligible`, `reason`, `spares`); None when
        the gateway has no generic runtime pool."""
        value = self.describe().get("generic")
        return dict(value) if isinstance(value, dict) else None

    def pool(self, action: str, **extra: Any) -> dict[str, Any]:
        if self.missing is not None:
            raise NotAvailable(self.missing)
        response = self.client.request(
            "POST", f"/system/function/{self.name}/pool", json={"action": action, **extra}
        )
        if response.status_code == 405 or (
            response.status_code == 404 and "no route" in response.text
        ):
            self.missing = (
                f"this gateway has no pool control (POST /system/function/{self.name}/pool "
                f"answered {response.status_code}); update the gateway"
            )
            raise NotAvailable(self.missing)
        if response.status_code >= 400:
            error = error_from(response)
            raise NotAvailable(f"pool {action}: {error.message}")
        data = response.json()
        return dict(data) if isinstance(data, dict) else {}

    def drain(self) -> int:
        return int(self.pool("drain").get("removed", 0))

    def prestart(self, count: int = 1) -> None:
        self.pool("prestart", count=count)

    def pause(self) -> None:
        self.pool("pause")


class Target:
    """Calls to one deployed function through the gateway, and its pool's state."""

    def __init__(
        self, gateway_url: str, name: str, *, method: str, path: str, payload: bytes
    ) -> None:
        self.url = gateway_url.rstrip("/")
        self.name = name
        self.control = Control(self.url, name)
        self.connection = Connection(address_from_url(self.url))
        self.target = f"/function/{name}{path}"
        self._plain = request_bytes(method, self.target, payload)
        self._cold = request_bytes(method, self.target, payload, {"X-Faas-Force": "cold"})

    def call(self, force_cold: bool = False, connection: Connection | None = None) -> Reply:
        return (connection or self.connection).exchange(self._cold if force_cold else self._plain)

    def ensure_warm(self) -> dict[str, Any]:
        """At least one running idle container that has served a call; returns it."""
        self.call()
        ready = [i for i in self.control.instances() if i.get("state") == "ready"]
        if not ready:
            raise RuntimeError("no ready container after a call (is it paused or draining?)")
        return max(ready, key=lambda i: int(i.get("calls") or 0))

    def wait_for_spare(self, timeout: float = 60.0, interval: float = 0.02) -> None:
        """Wait until a generic runtime container is ready to take the function's next call.

        NotAvailable when the gateway has no generic runtime pool or the function cannot use
        one (with the gateway's reason); RuntimeError when none is ready within `timeout` s.
        """
        deadline = time.monotonic() + timeout
        while True:
            generic = self.control.generic()
            if generic is None:
                raise NotAvailable(
                    f"this gateway has no generic runtime pool (GET /system/function/{self.name} "
                    'has no "generic"): update the gateway'
                )
            eligible = bool(generic.get("eligible"))
            reason = str(generic.get("reason") or "")
            if eligible and int(generic.get("spares") or 0) >= 1:
                return
            if not eligible and not reason.startswith(GENERIC_PENDING):
                raise NotAvailable(
                    f"no generic runtime for {self.name!r}: {reason or 'not eligible'}"
                )
            if time.monotonic() >= deadline:
                waiting = f"still {reason!r}" if not eligible else "no spare container"
                raise RuntimeError(
                    f"no generic runtime container ready within {timeout:g}s ({waiting})"
                )
            time.sleep(interval)

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until no container of the function is still being created."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            counts = self.control.describe().get("containers") or {}
            if not counts.get("creating"):
                return
            time.sleep(0.05)

    def starts(self) -> dict[str, int]:
        """The gateway's start-kind counters for the function."""
        return {k: int(v) for k, v in (self.control.describe().get("starts") or {}).items()}

    def close(self) -> None:
        self.connection.close()
        self.control.close()


def record(
    series: Series, reply: Reply, *, phase: str | None = None, without: str | None = None
) -> None:
    """File a gateway reply: a sample, a dropped sample of the wrong start kind, or an error.

    A reply of the right start kind whose Server-Timing lacks `phase`, or has `without`, is of
    the wrong kind too: a generic runtime's first call has a `load` phase, the first call of a
    pre-started container of the function's own image has none.
    """
    if "x-faas-start" not in reply.headers:
        series.error(describe_error(reply))
        return
    timing = CallTiming.from_headers(reply.headers)
    if reply.status >= 500:
        series.error(f"HTTP {reply.status} from the function")
        return
    if series.expect is not None and timing.start != series.expect:
        series.drop(timing.start)
        return
    if phase is not None and phase not in timing.phases:
        series.drop(f"{timing.start} without {phase}")
        return
    if without is not None and without in timing.phases:
        series.drop(f"{timing.start} with {without}")
        return
    series.add(reply.elapsed_ms, dict(timing.phases))


def describe_error(reply: Reply) -> str:
    """A gateway error reply as one line: `HTTP 429 at_scale_limit: ...`."""
    try:
        error = json.loads(reply.body)["error"]
        return f"HTTP {reply.status} {error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {reply.status}: {reply.body[:200].decode('utf-8', 'replace')}"

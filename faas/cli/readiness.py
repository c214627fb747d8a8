"""`faas deploy` returns once the function can be served without a cold start, when its
manifest allows one: a ready (or paused) container of its own (scale.min > 0), or a generic
runtime ready for its shape (no dependencies, no secrets: faas.pool.generic). Otherwise, or
after READY_TIMEOUT, it returns at once: the first call will then be a cold start.

Read from the gateway's record (`containers`, `generic`), polled: no new API.
"""

from __future__ import annotations

import time
from typing import Any

from faas.client import GatewayClient

READY_TIMEOUT = 15.0
# Generic-pool states that change by themselves within seconds (faas.pool.generic).
_PENDING = ("not checked yet", "being read from its image", "preparing")


def servable(record: dict[str, Any]) -> bool | None:
    """True: a warm or generic container is ready; False: none will be (a cold start it is);
    None: not yet known or not yet ready."""
    containers = record.get("containers") or {}
    if containers.get("ready", 0) or containers.get("paused", 0):
        return True
    scale_min = int(((record.get("config") or {}).get("scale") or {}).get("min", 0))
    generic = record.get("generic")
    if generic and generic.get("eligible"):
        return True if generic.get("spares", 0) else None
    if generic and str(generic.get("reason") or "") in _PENDING:
        return None
    return None if scale_min > 0 else False


def wait_until_servable(client: GatewayClient, name: str, timeout: float = READY_TIMEOUT) -> bool:
    """Whether a warm or generic container is ready for `name` (False: the first call will be
    cold, by the manifest's choice or because none got ready within `timeout`)."""
    deadline = time.monotonic() + timeout
    interval = 0.05
    while True:
        verdict = servable(client.function(name))
        if verdict is not None:
            return verdict
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
        interval = min(interval * 1.5, 0.5)

"""Every Redis key and Docker label faas uses, in one place: the whole schema reads from here."""

from __future__ import annotations

# Docker labels. `faas.managed` + `faas.role` find everything faas created; `faas.gateway`
# says which gateway process owns a function container, so a gateway that starts after a
# crash removes only containers whose owner no longer sends heartbeats.
LABEL_MANAGED = "faas.managed"
LABEL_FUNCTION = "faas.function"
LABEL_ROLE = "faas.role"
LABEL_GATEWAY = "faas.gateway"
LABEL_CODE_HASH = "faas.code-hash"

ROLE_FUNCTION = "function"
ROLE_REDIS = "redis"
ROLE_GATEWAY = "gateway"

MANAGED_FILTER = f"{LABEL_MANAGED}=true"

# Redis keys.
PREFIX = "faas:"
FUNCTIONS = PREFIX + "functions"  # hash: name -> JSON function record


def gateway_heartbeat(gateway_id: str) -> str:
    """String key with a TTL, refreshed while the gateway lives."""
    return f"{PREFIX}gateway:{gateway_id}"


def function_logs(name: str) -> str:
    """List of log lines kept from the function's removed containers (capped)."""
    return f"{PREFIX}logs:{name}"

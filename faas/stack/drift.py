"""Which of the environment's settings differ from the ones the running gateway started with.

A gateway reads its FAAS_* settings once, at start. `faas up` against a running stack starts
nothing, so a changed FAAS_BASE_IMAGE (say) would silently not apply: `faas up` compares the
environment with what the gateway was started with and says how to apply the difference.

What is kept (FAAS_HOME/gateway-settings.json) is a digest of each value, never the value:
some of them (FAAS_ADMIN_PASSWORD, FAAS_REDIS_URL) hold secrets.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path

from faas.settings import Settings

# Settings that say *which* stack this is (another one is started, not this one changed), and
# those `faas up` itself sets for its gateways.
_NOT_COMPARED = frozenset(
    {
        "FAAS_GATEWAY",
        "FAAS_HOME",
        "FAAS_REDIS_URL",
        "FAAS_PORT",
        "FAAS_BIND",
        "FAAS_ADMIN_PASSWORD_FILE",
        "FAAS_SECRETS_KEY_FILE",
        "FAAS_REDIS_PASSWORD_FILE",
    }
)
SETTINGS_FILE = "gateway-settings.json"


def compared_names() -> list[str]:
    names = {str(f.metadata["env"]) for f in fields(Settings)} | {"FAAS_REDIS_IMAGE"}
    return sorted(names - _NOT_COMPARED)


def fingerprint(env: Mapping[str, str]) -> dict[str, str]:
    """Each set setting's name with a digest of its value (unset and empty are alike)."""
    return {
        name: hashlib.sha256(env[name].encode()).hexdigest()[:16]
        for name in compared_names()
        if env.get(name)
    }


def record(home: Path, env: Mapping[str, str]) -> None:
    path = home / SETTINGS_FILE
    path.write_text(json.dumps(fingerprint(env), sort_keys=True))
    path.chmod(0o600)


def changed(home: Path, env: Mapping[str, str]) -> list[str]:
    """Names set, unset or changed since the gateway started; [] when unknown."""
    try:
        started = json.loads((home / SETTINGS_FILE).read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(started, dict):
        return []
    now = fingerprint(env)
    return sorted(name for name in {*started, *now} if started.get(name) != now.get(name))

"""The embedded Redis's configuration: password, protected mode, bounded memory, no root.

The configuration reaches redis-server on its standard input (`redis-server -`), or, in the
container variant, as a file mounted read-only from a 0700 directory of FAAS_HOME: the
password is never on a command line, where `ps` or `docker inspect` would show it.

`maxmemory` with `noeviction`: past the limit Redis refuses writes (callers get 503 "Redis is
full") instead of evicting keys, because an evicted key here is a queued call, a function
record or a consumer group: silently lost work. Finished call records are what grows; they
are bounded by age (FAAS_ASYNC_RESULT_TTL) and count (FAAS_ASYNC_RESULT_MAX).
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from faas import keys
from faas.engines.base import ContainerConfig
from faas.engines.docker import DockerBackend

UNPRIVILEGED_USER = "nobody"
REDIS_IMAGE = "redis:7-alpine"
REDIS_CONTAINER = "faas-redis"
CONTAINER_CONF = "/etc/faas-redis.conf"


@dataclass(frozen=True)
class RedisConfig:
    port: int
    binds: Sequence[str]
    password: str
    maxmemory: int
    daemon: bool = True  # the redis-server process; the container runs in the foreground

    def render(self) -> str:
        """redis.conf text. Paths are relative: redis-server starts inside its data directory
        (so an unprivileged user needs no access to the directories above it)."""
        lines = [
            f"port {self.port}",
            "bind " + " ".join(self.binds),
            "protected-mode yes",
            f'requirepass "{_quoted(self.password)}"',
            "dir ./",
            "appendonly yes",
            "appendfsync everysec",
            'save ""',
            f"maxmemory {self.maxmemory}",
            "maxmemory-policy noeviction",
        ]
        if self.daemon:
            lines += ["daemonize yes", "pidfile redis.pid", "logfile redis.log"]
        return "\n".join(lines) + "\n"


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def unprivileged() -> tuple[int, int] | None:
    """(uid, gid) to run redis-server as when faas runs as root; None when it does not."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam(UNPRIVILEGED_USER)
    return entry.pw_uid, entry.pw_gid


def hand_over(data: Path, owner: tuple[int, int] | None) -> None:
    """Make `data` (and what an earlier run left in it) private to the user Redis runs as."""
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o700)
    if owner is None:
        return
    for path in [data, *data.rglob("*")]:
        os.lchown(path, *owner)


def run_in_container(
    backend: DockerBackend, config: RedisConfig, home: Path, image: str, network: str
) -> None:
    """Redis in a container (no redis-server binary here), run by the image's entrypoint as
    its `redis` user. The configuration is a file bind-mounted read-only, never part of the
    container's command: readable inside (0644) but inside a 0700 directory of FAAS_HOME, so
    no other local user can reach it."""
    folder = home / "redis-conf"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    conf = folder / "redis.conf"
    conf.unlink(missing_ok=True)
    descriptor = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    inside = RedisConfig(6379, ["0.0.0.0"], config.password, config.maxmemory, daemon=False)
    with os.fdopen(descriptor, "w") as file:
        file.write(inside.render().replace("dir ./\n", "dir /data\n"))
    conf.chmod(0o644)
    backend.remove_by_name(REDIS_CONTAINER)
    backend.run_container(
        ContainerConfig(
            image=image,
            name=REDIS_CONTAINER,
            labels={keys.LABEL_MANAGED: "true", keys.LABEL_ROLE: keys.ROLE_REDIS},
            environment={},
            command=("redis-server", CONTAINER_CONF),
            user="",
            memory=config.maxmemory + 256 * 2**20,  # Redis's own overhead above maxmemory
            cpus=1.0,
            read_only=False,
            tmpfs={},
            cap_drop=(),
            security_opt=("no-new-privileges",),
            network=network,
            binds={str(conf): CONTAINER_CONF},
            ports={6379: [(h, config.port) for h in config.binds]},
        )
    )

"""Secrets as read-only files in the instances of the functions that name them.

Each instance of a function with `secrets:` gets a host folder of its own, written just before
its container is created and mounted read-only at both paths functions look in:

    /var/openfaas/secrets/NAME    OpenFaaS's path
    /run/secrets/NAME             Docker's (Swarm secrets)

Host layout: `$FAAS_HOME/secret-mounts` (FAAS_SECRET_MOUNT_DIR) is 0700, so no other local
user reaches what is below it; each instance's folder `<gateway id>.<token>` is 0555 and its
files 0444, so the function's non-root user (any uid) can read them through the mount and
nobody can write them. The folder goes when its container is removed, every folder of the
gateway when it stops, and a crashed gateway's folders at the next sweep of a live one.

`SecretWatch` polls the secrets' change feed (one Redis round trip a second per gateway, never
per call) and retires the warm instances of functions that use a changed secret, as a redeploy
does: calls in flight finish, later calls start instances that mount the new value.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from faas.engines.base import ContainerConfig
from faas.errors import ConfigError, FaasError, FunctionInitError, SecretNotFound
from faas.manifest.spec import FunctionSpec
from faas.pool.policy import FunctionPool, Instance, State

log = logging.getLogger(__name__)

MOUNT_POINTS = ("/var/openfaas/secrets", "/run/secrets")
WATCH_INTERVAL = 1.0
SWEEP_EVERY = 30  # watch rounds between sweeps of crashed gateways' folders


class SecretValues(Protocol):
    """What the pool reads of the stack's secrets (faas.registry.secrets.SecretStore)."""

    async def values(self, names: tuple[str, ...]) -> dict[str, bytes]: ...

    async def changes(self, since: int) -> tuple[int, list[str]]: ...


class SecretFiles:
    """The secret folders of one gateway's instances."""

    def __init__(self, root: Path, gateway_id: str, store: SecretValues | None) -> None:
        self.root = root
        self.gateway_id = gateway_id
        self._store = store
        self._owned: dict[str, Path] = {}  # container id -> its folder

    async def prepare(self, spec: FunctionSpec) -> Path | None:
        """Write the folder of a new instance of `spec`; None when it names no secrets."""
        if not spec.secrets:
            return None
        if self._store is None:
            raise FunctionInitError(f"function {spec.name!r} names secrets, but none are kept here")
        try:
            values = await self._store.values(spec.secrets)
        except SecretNotFound as exc:  # removed since the deploy: the call's answer is 502
            raise FunctionInitError(
                f"function {spec.name!r} needs secret {exc.name!r}, which does not exist: "
                "create it with `faas secret create`"
            ) from None
        except ConfigError as exc:  # sealed with another key than this gateway's
            raise FunctionInitError(f"function {spec.name!r}: {exc.message}") from None
        try:
            return self._write(values)
        except OSError as exc:  # a full disk, a folder made by someone else: say which setting
            raise FunctionInitError(
                f"function {spec.name!r}: cannot write its secret files under {self.root} "
                f"({exc.strerror or exc}); check FAAS_SECRET_MOUNT_DIR"
            ) from None

    def mount(self, config: ContainerConfig, folder: Path | None) -> ContainerConfig:
        """`config` with `folder` mounted read-only at every MOUNT_POINT."""
        if folder is None:
            return config
        mounts = tuple((str(folder), inner) for inner in MOUNT_POINTS)
        return replace(config, readonly_binds=(*config.readonly_binds, *mounts))

    def own(self, container_id: str, folder: Path | None) -> None:
        if folder is not None:
            self._owned[container_id] = folder

    def release(self, container_id: str) -> None:
        """The container is removed: so are its files."""
        self.discard(self._owned.pop(container_id, None))

    def discard(self, folder: Path | None) -> None:
        if folder is None:
            return
        with contextlib.suppress(FileNotFoundError):
            folder.chmod(0o700)  # 0555 would refuse unlinking its files
        shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        """The gateway stops (its containers are gone): remove every folder it wrote."""
        for folder in self._owned.values():
            self.discard(folder)
        self._owned.clear()

    async def sweep(self, alive: Callable[[str], Awaitable[bool]]) -> int:
        """Remove the folders of gateways that no longer live; return how many."""
        try:
            folders = [p for p in self.root.iterdir() if p.is_dir()]
        except FileNotFoundError:
            return 0
        by_gateway: dict[str, list[Path]] = {}
        for folder in folders:
            gateway = folder.name.partition(".")[0]
            if gateway != self.gateway_id:
                by_gateway.setdefault(gateway, []).append(folder)
        removed = 0
        for gateway, theirs in by_gateway.items():
            if not await alive(gateway):
                for folder in theirs:
                    self.discard(folder)
                removed += len(theirs)
        return removed

    def _write(self, values: dict[str, bytes]) -> Path:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.root.chmod(0o700)  # also when it existed with a looser mode
        folder = self.root / f"{self.gateway_id}.{secrets.token_hex(6)}"
        folder.mkdir(mode=0o700)
        try:
            for name, value in values.items():
                # O_EXCL | O_NOFOLLOW: a fresh file, never through a planted link.
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                fd = os.open(folder / name, flags, 0o400)
                with os.fdopen(fd, "wb") as file:
                    file.write(value)
                os.chmod(folder / name, 0o444)
            folder.chmod(0o555)
        except BaseException:
            self.discard(folder)
            raise
        return folder


class SecretWatch:
    """Retires the instances of functions whose secrets changed (any gateway changed them),
    and sweeps the folders of dead gateways; one round a second."""

    def __init__(
        self,
        store: SecretValues,
        files: SecretFiles,
        pools: Callable[[], Iterable[FunctionPool]],
        discard: Callable[[FunctionPool, Instance], None],
        alive: Callable[[str], Awaitable[bool]],
    ) -> None:
        self._store = store
        self._files = files
        self._pools = pools
        self._discard = discard
        self._alive = alive
        self._revision: int | None = None
        self._lock = asyncio.Lock()  # one reader of the feed at a time: each change once

    def retire(self, names: Iterable[str]) -> int:
        """Retire every live instance of functions naming one of `names`; return how many."""
        changed = set(names)
        retired = 0
        for pool in list(self._pools()):
            if changed.isdisjoint(pool.spec.secrets):
                continue
            # One being created serves the call it was started for, then drains: discarding
            # it would fail that call, and it may well have read the new value already.
            starting = [i for i in pool.instances if i.state is State.CREATING]
            for instance in pool.retire():
                retired += 1
                if instance.inflight == 0 and instance not in starting:
                    self._discard(pool, instance)
        return retired

    async def round(self) -> None:
        """Read the change feed once; the first round only learns the revision. The gateway
        that changes a secret runs one at once, so its own instances go before it answers."""
        async with self._lock:
            first = self._revision is None
            revision, names = await self._store.changes(-1 if first else self._revision or 0)
            self._revision = revision
        if names and not first:
            retired = self.retire(names)
            if retired:
                log.info("secrets %s changed: retired %d instance(s)", sorted(names), retired)

    async def run(self) -> None:
        rounds = 0
        while True:
            try:
                await self.round()
                if rounds % SWEEP_EVERY == 0:
                    await self._files.sweep(self._alive)
            except FaasError as exc:  # Redis away: try again next round
                log.warning("secret watch: %s", exc.message)
            except OSError as exc:
                log.warning("secret watch: cannot sweep %s: %s", self._files.root, exc)
            rounds += 1
            await asyncio.sleep(WATCH_INTERVAL)

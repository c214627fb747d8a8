"""What faas keeps in Redis about functions and gateways (key names in `faas.keys`).

Function records live here so a restarted gateway still knows every function. Redis errors
are translated once into RedisUnavailable.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions

from faas import keys
from faas.errors import RedisUnavailable
from faas.manifest.spec import FunctionSpec, parse_manifest

LOG_ARCHIVE_LINES = 5000  # per function, from containers already removed
# Replies of a Redis that answers but will not serve us yet (or at all): unavailable, not a bug.
_REFUSALS = ("DENIED", "NOAUTH", "WRONGPASS", "NOPERM", "LOADING", "MASTERDOWN", "READONLY")


@dataclass(frozen=True)
class FunctionRecord:
    """A registered function: its validated spec and the image that runs it."""

    spec: FunctionSpec
    image: str
    code_hash: str
    created_at: float
    updated_at: float
    version: int = 1

    @property
    def name(self) -> str:
        return self.spec.name

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "image": self.image,
            "code_hash": self.code_hash,
            "config": self.spec.to_manifest(),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "version": self.version,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FunctionRecord:
        return cls(
            spec=parse_manifest(data["config"]),
            image=data["image"],
            code_hash=data.get("code_hash", ""),
            created_at=float(data["created_at"]),
            updated_at=float(data["updated_at"]),
            version=int(data.get("version", 1)),
        )


@contextlib.asynccontextmanager
async def translated(action: str) -> AsyncIterator[None]:
    """Redis errors as faas errors, for every module that talks to Redis (registry, queue)."""
    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
        raise RedisUnavailable(
            f"Redis does not answer ({action}): start it (`faas up`) or check FAAS_REDIS_URL"
        ) from exc
    except redis.exceptions.ResponseError as exc:
        if not str(exc).startswith(_REFUSALS):
            raise
        raise RedisUnavailable(
            f"Redis refuses ({action}): {str(exc).split('. ')[0]}; check FAAS_REDIS_URL "
            "(password, protected mode)"
        ) from exc


def connect(url: str) -> aioredis.Redis:
    """A client for FAAS_REDIS_URL; connects lazily, on first use."""
    return aioredis.Redis.from_url(
        url, socket_connect_timeout=2.0, socket_timeout=5.0, health_check_interval=30
    )


class Registry:
    """Function records, gateway heartbeats and archived logs in Redis."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client

    async def ping(self) -> None:
        async with translated("ping"):
            await self._redis.ping()

    async def put(self, spec: FunctionSpec, image: str, code_hash: str) -> FunctionRecord:
        """Register or update; the creation time and a version counter carry over."""
        now = time.time()
        previous = await self.get(spec.name)
        record = FunctionRecord(
            spec=spec,
            image=image,
            code_hash=code_hash,
            created_at=previous.created_at if previous else now,
            updated_at=now,
            version=previous.version + 1 if previous else 1,
        )
        async with translated("store function"):
            await self._redis.hset(keys.FUNCTIONS, spec.name, json.dumps(record.to_json()))
        return record

    async def get(self, name: str) -> FunctionRecord | None:
        async with translated("read function"):
            raw = await self._redis.hget(keys.FUNCTIONS, name)
        return FunctionRecord.from_json(json.loads(raw)) if raw else None

    async def all(self) -> list[FunctionRecord]:
        async with translated("list functions"):
            raw = await self._redis.hgetall(keys.FUNCTIONS)
        records = [FunctionRecord.from_json(json.loads(value)) for value in raw.values()]
        return sorted(records, key=lambda r: r.name)

    async def delete(self, name: str) -> bool:
        async with translated("remove function"):
            removed = await self._redis.hdel(keys.FUNCTIONS, name)
            await self._redis.delete(keys.function_logs(name))
        return bool(removed)

    async def stack_id(self) -> str:
        """This stack's id: created once, then the same for every gateway and CLI using it."""
        async with translated("read the stack id"):
            await self._redis.set(keys.STACK_ID, secrets.token_hex(6), nx=True)
            raw = await self._redis.get(keys.STACK_ID)
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    # -- gateways -------------------------------------------------------------------------

    async def heartbeat(self, gateway_id: str, ttl: float) -> None:
        async with translated("heartbeat"):
            await self._redis.set(
                keys.gateway_heartbeat(gateway_id), str(time.time()), px=int(ttl * 1000)
            )

    async def gateway_alive(self, gateway_id: str) -> bool:
        async with translated("read heartbeat"):
            return bool(await self._redis.exists(keys.gateway_heartbeat(gateway_id)))

    async def live_gateways(self) -> list[str]:
        prefix = keys.gateway_heartbeat("")
        async with translated("list gateways"):
            found = [key async for key in self._redis.scan_iter(match=prefix + "*")]
        return [(k.decode() if isinstance(k, bytes) else str(k))[len(prefix) :] for k in found]

    async def forget_gateway(self, gateway_id: str) -> None:
        async with translated("clear heartbeat"):
            await self._redis.delete(keys.gateway_heartbeat(gateway_id))

    # -- logs of removed containers -------------------------------------------------------

    async def archive_logs(self, name: str, lines: Iterable[str]) -> None:
        batch = list(lines)
        if not batch:
            return
        key = keys.function_logs(name)
        async with translated("archive logs"):
            pipe = self._redis.pipeline(transaction=False)
            pipe.rpush(key, *batch)
            pipe.ltrim(key, -LOG_ARCHIVE_LINES, -1)
            await pipe.execute()

    async def archived_logs(self, name: str, tail: int | None = None) -> list[str]:
        start = -tail if tail else 0
        async with translated("read logs"):
            raw = await self._redis.lrange(keys.function_logs(name), start, -1)
        return [x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in raw]

"""Secrets in Redis: names in the clear, values sealed with the stack's key (`faas.secret_box`).

One hash (`keys.SECRETS`) holds every secret of the stack, so every gateway on that Redis sees
the same ones. Each create, update and remove bumps a revision and notes the name at it, in the
same script (like the function records' feed in `faas.registry.store`): a gateway polls the
revision and learns which secrets changed, to retire the instances that mounted old values.
Nothing here ever logs or returns a value except `values()`, which the pool uses to write the
files of a starting instance.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from faas import keys
from faas.errors import SecretExists, SecretNotFound
from faas.registry.redis_errors import translated
from faas.secret_box import SecretBox

# KEYS: secrets, revision, changes. ARGV: mode (create, update, delete), name, sealed value.
# Returns 1 when done, 0 when the name exists (create) or does not (update, delete).
_WRITE = """
local exists = redis.call('HEXISTS', KEYS[1], ARGV[2])
if (ARGV[1] == 'create') == (exists == 1) then return 0 end
if ARGV[1] == 'delete' then
  redis.call('HDEL', KEYS[1], ARGV[2])
else
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
end
redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[2]), ARGV[2])
return 1
"""
# KEYS: revision, changes. ARGV: the revision the reader has. Returns {revision, names changed
# since}; every name ever changed when Redis's count is behind the reader's (it lost data).
_CHANGES = """
local revision = tonumber(redis.call('GET', KEYS[1]) or '0')
local since = tonumber(ARGV[1])
if since == revision then return {revision, {}} end
if since > revision then since = -1 end
return {revision, redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. since, '+inf')}
"""
_WRITE_KEYS = (keys.SECRETS, keys.SECRETS_REVISION, keys.SECRETS_CHANGES)


class SecretStore:
    """The stack's secrets: create, update, remove, list names; values only for mounting."""

    def __init__(self, client: aioredis.Redis, box: SecretBox) -> None:
        self._redis = client
        self._box = box
        self._write = client.register_script(_WRITE)
        self._changes = client.register_script(_CHANGES)

    async def names(self) -> list[str]:
        async with translated("list secrets"):
            raw = await self._redis.hkeys(keys.SECRETS)
        return sorted(name.decode() if isinstance(name, bytes) else name for name in raw)

    async def create(self, name: str, value: bytes) -> None:
        if not await self._store("create", name, self._box.seal(value)):
            raise SecretExists(
                f"name: a secret named {name!r} exists already; "
                "replace its value with `faas secret update` (PUT /system/secrets)"
            )

    async def update(self, name: str, value: bytes) -> None:
        if not await self._store("update", name, self._box.seal(value)):
            raise SecretNotFound(name)

    async def remove(self, name: str) -> None:
        if not await self._store("delete", name, b""):
            raise SecretNotFound(name)

    async def missing(self, names: tuple[str, ...]) -> list[str]:
        """Those of `names` that are not secrets of the stack."""
        if not names:
            return []
        async with translated("check secrets"):
            found = await self._redis.hmget(keys.SECRETS, list(names))
        return [name for name, token in zip(names, found, strict=True) if token is None]

    async def values(self, names: tuple[str, ...]) -> dict[str, bytes]:
        """The plain values of `names`; SecretNotFound names the first that does not exist."""
        if not names:
            return {}
        async with translated("read secrets"):
            found = await self._redis.hmget(keys.SECRETS, list(names))
        values: dict[str, bytes] = {}
        for name, token in zip(names, found, strict=True):
            if token is None:
                raise SecretNotFound(name, "secrets")
            values[name] = self._box.open(token if isinstance(token, bytes) else token.encode())
        return values

    async def changes(self, since: int) -> tuple[int, list[str]]:
        """The revision now and the names created, updated or removed after `since`."""
        async with translated("read secret changes"):
            revision, names = await self._changes(
                (keys.SECRETS_REVISION, keys.SECRETS_CHANGES), [since]
            )
        return int(revision), [name.decode() for name in names]

    async def _store(self, mode: str, name: str, sealed: bytes) -> bool:
        async with translated(f"{mode} secret"):
            return bool(await self._write(_WRITE_KEYS, [mode, name, sealed]))

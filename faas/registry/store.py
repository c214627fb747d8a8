"""What faas keeps in Redis about functions and gateways (key names in `faas.keys`).

Function records live here so a restarted gateway still knows every function. Every put and
delete bumps a revision counter in the same Lua script and notes the name at that revision, so
a reader that knows the revision it last saw fetches only what changed since (`changes`): one
small round trip when nothing did, however many functions are registered.
"""

from __future__ import annotations

import functools
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from faas import keys
from faas.manifest.spec import FunctionSpec, parse_manifest
from faas.registry.bindings import DataBindings
from faas.registry.redis_errors import translated

LOG_ARCHIVE_LINES = 5000  # per function, from containers already removed
RECONNECT_RETRIES = 2
_ARCHIVE_BATCH = 256  # lines read at once when paging the archive

# KEYS: revision, functions, changes, notices. ARGV: name, record JSON. Returns the new revision.
_PUT = """
local revision = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], revision, ARGV[1])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', 64, '*', 'revision', revision)
return revision
"""
# KEYS: revision, functions, changes, notices, archived logs. ARGV: name. Returns 1 if it existed.
_DELETE = """
local removed = redis.call('HDEL', KEYS[2], ARGV[1])
if removed == 1 then
  local revision = redis.call('INCR', KEYS[1])
  redis.call('ZADD', KEYS[3], revision, ARGV[1])
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', 64, '*', 'revision', revision)
end
redis.call('DEL', KEYS[5])
return removed
"""
# KEYS: revision, functions, changes. ARGV: the revision the reader has (-1: none).
# Returns {revision} when nothing changed; {revision, 'all', {name, json, ...}} for a full read
# (a new reader, or a Redis that lost data and restarted its count, or has none: a reader at
# revision 0 would otherwise never see that records it knows are gone); otherwise
# {revision, 'some', names, records} where a removed name's record is nil.
_CHANGES = """
local stored = redis.call('GET', KEYS[1])
local revision = tonumber(stored or '0')
local since = tonumber(ARGV[1])
if since == revision and stored then return {revision} end
if since < 0 or since > revision or not stored then
  return {revision, 'all', redis.call('HGETALL', KEYS[2])}
end
local names = redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. since, '+inf')
local records = {}
for i, name in ipairs(names) do
  records[i] = redis.call('HGET', KEYS[2], name)
end
return {revision, 'some', names, records}
"""
_FEED_KEYS = (
    keys.FUNCTIONS_REVISION,
    keys.FUNCTIONS,
    keys.FUNCTIONS_CHANGES,
    keys.FUNCTIONS_NOTICES,
)
_NO_NOTICE = "0-0"  # the position before any notice


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

    @functools.cached_property
    def _config(self) -> dict[str, Any]:
        # Rendering a spec costs ~40 us: GET /system/functions would pay it for every function.
        return self.spec.to_manifest()

    def to_json(self) -> dict[str, Any]:
        """A new dict each time; its "config" is shared by every call: never mutate it."""
        return {
            "name": self.name,
            "image": self.image,
            "code_hash": self.code_hash,
            "config": self._config,
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


@dataclass(frozen=True)
class Changes:
    """What changed in the registry since a revision a reader saw."""

    revision: int  # pass it to the next `changes` call
    records: list[FunctionRecord]  # new or changed (every record when `complete`)
    removed: list[str]
    complete: bool  # a full read: a function not in `records` no longer exists


def connect(url: str, password: str | None = None) -> aioredis.Redis:
    """A client for FAAS_REDIS_URL (with `password` when the URL has none); connects lazily.

    After a Redis restart every pooled connection is broken: a command that meets one is
    retried at once on a new connection, twice at most (a Redis really down still answers 503
    within milliseconds). Only connection errors: a timeout may mean the command ran."""
    return aioredis.Redis.from_url(
        url,
        password=password or None,
        socket_connect_timeout=2.0,
        socket_timeout=5.0,
        health_check_interval=5,
        retry=Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.05), RECONNECT_RETRIES),
        retry_on_error=[redis.exceptions.ConnectionError],
    )


class Registry:
    """Function records, gateway heartbeats and archived logs in Redis."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client
        self.bindings = DataBindings(client)
        self._put = client.register_script(_PUT)
        self._delete = client.register_script(_DELETE)
        self._changes = client.register_script(_CHANGES)

    async def ping(self) -> None:
        async with translated("ping"):
            await self._redis.ping()

    async def put(self, spec: FunctionSpec, image: str, code_hash: str) -> FunctionRecord:
        """Register or update; the creation time and a version counter carry over."""
        record, _ = await self.put_at(spec, image, code_hash)
        return record

    async def put_at(
        self, spec: FunctionSpec, image: str, code_hash: str
    ) -> tuple[FunctionRecord, int]:
        """`put`, and the registry revision it made (what other gateways must apply)."""
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
        await self.bindings.grant(spec)  # before the record: no record without its Redis user
        async with translated("store function"):
            revision = await self._put(_FEED_KEYS, [spec.name, json.dumps(record.to_json())])
        return record, int(revision)

    async def get(self, name: str) -> FunctionRecord | None:
        async with translated("read function"):
            raw = await self._redis.hget(keys.FUNCTIONS, name)
        return FunctionRecord.from_json(json.loads(raw)) if raw else None

    async def changes(self, since: int | None) -> Changes:
        """Records put and names deleted after revision `since`; every record when None."""
        async with translated("read function changes"):
            reply = await self._changes(_FEED_KEYS, [-1 if since is None else since])
        revision = int(reply[0])
        if len(reply) == 1:
            return Changes(revision, [], [], complete=False)
        if reply[1] == b"all":
            raw = reply[2]
            records = [FunctionRecord.from_json(json.loads(value)) for value in raw[1::2]]
            return Changes(revision, records, [], complete=True)
        changed, removed = [], []
        for name, value in zip(reply[2], reply[3], strict=True):
            if value is None:
                removed.append(name.decode())
            else:
                changed.append(FunctionRecord.from_json(json.loads(value)))
        return Changes(revision, changed, removed, complete=False)

    async def next_change(self, after: str | None, timeout: float) -> str:
        """Wait up to `timeout` seconds for a put or delete noticed after position `after` of
        the change feed; return the position to wait after next time. With None, the feed's
        current end, at once (read it before catching up: nothing after it is missed)."""
        if after is None:
            async with translated("read the function change notices"):
                last: Any = await self._redis.xrevrange(keys.FUNCTIONS_NOTICES, count=1)
            return _text(last[0][0]) if last else _NO_NOTICE
        async with translated("wait for function changes"):
            reply: Any = await self._redis.xread(  # RESP2: [[stream, [(id, fields), ...]]]
                {keys.FUNCTIONS_NOTICES: after}, count=64, block=max(1, int(timeout * 1000))
            )
        return _text(reply[0][1][-1][0]) if reply else after

    async def delete(self, name: str) -> bool:
        """Remove a function and its archived logs."""
        async with translated("remove function"):
            removed = await self._delete((*_FEED_KEYS, keys.function_logs(name)), [name])
        await self.bindings.revoke(name)
        return bool(removed)

    async def stack_id(self, known: str = "") -> str:
        """This stack's id: created once, then the same for every gateway and CLI using it.
        When Redis has none, `known` (kept under FAAS_HOME, see faas.identity) goes back in."""
        async with translated("read the stack id"):
            await self._redis.set(keys.STACK_ID, known or secrets.token_hex(6), nx=True)
            raw = await self._redis.get(keys.STACK_ID)
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    async def keep_stack_id(self, stack_id: str) -> bool:
        """Put `stack_id` back if Redis lost it; True when it had (Redis lost its data)."""
        async with translated("check the stack id"):
            return bool(await self._redis.set(keys.STACK_ID, stack_id, nx=True))

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
            await self._redis.delete(
                keys.gateway_heartbeat(gateway_id), keys.gateway_applied(gateway_id)
            )

    async def record_applied(self, gateway_id: str, revision: int, ttl: float) -> None:
        """Say that this gateway serves the registry as of `revision`."""
        async with translated("record the applied revision"):
            await self._redis.set(keys.gateway_applied(gateway_id), revision, px=int(ttl * 1000))

    async def applied(self, gateway_ids: list[str]) -> list[int | None]:
        """The revision each gateway has applied (None: it has not said)."""
        if not gateway_ids:
            return []
        async with translated("read applied revisions"):
            raw = await self._redis.mget([keys.gateway_applied(g) for g in gateway_ids])
        return [None if value is None else int(value) for value in raw]

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

    async def archived_page(
        self, name: str, before: str | None, limit: int, max_bytes: int
    ) -> tuple[list[str], bool]:
        """The newest archived lines that sort before `before` (a log line's timestamp), at
        most `limit` lines and `max_bytes` characters, read from the end in batches (the
        archive is never read whole); and whether older lines were left out."""
        key = keys.function_logs(name)
        newest_first: list[str] = []
        size = 0
        end = -1
        async with translated("read logs"):
            while True:
                raw = await self._redis.lrange(key, end - _ARCHIVE_BATCH + 1, end)
                for item in reversed(raw):
                    line = item.decode("utf-8", "replace") if isinstance(item, bytes) else item
                    if before is not None and line >= before:
                        continue
                    if len(newest_first) >= limit or size + len(line) > max_bytes:
                        return newest_first[::-1], True
                    newest_first.append(line)
                    size += len(line)
                if len(raw) < _ARCHIVE_BATCH:
                    return newest_first[::-1], False
                end -= _ARCHIVE_BATCH


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value

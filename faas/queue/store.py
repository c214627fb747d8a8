"""Every Redis command of the queue: the calls stream, call records, retries, dead letters and
the consumer groups of stream triggers (key names in `faas.keys`).

Durability: `enqueue` returns only after Redis has executed the XADD, which Redis appends to its
AOF before it replies. Under `faas up` (`--appendonly yes --appendfsync everysec`) a queued call
survives a crash or restart of Redis itself; only a crash of the machine can lose the last second.
`--appendfsync always` closes that second too (the reliability tests run so).

Atomicity: whatever must not be half-done is one Lua script or one MULTI/EXEC:
- enqueue: the Idempotency-Key check, its SET, the XADD and the call record;
- finishing an attempt: XACK + XDEL of the entry with the record update (and, for a retry, the
  message parked for its due time; for a dead call, the dead-letter entry);
- moving due retries back into the stream; redriving a dead letter.
An acknowledged entry is deleted at once, so the calls stream holds exactly the unfinished
work: nothing is trimmed, and a pending entry is never dropped. Stream triggers read the user's
own stream, which faas acknowledges but never trims or deletes from.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions

from faas import keys
from faas.errors import BadRequest, CallNotFound, IdempotencyConflict, QueueFull
from faas.queue.ops import Op, encode
from faas.queue.records import CallStatus, Malformed, Message, unpack
from faas.queue.scripts import APPLY, CLAIM_OWN, DEAD, ENQUEUE, MOVE_DUE, REDRIVE
from faas.registry.redis_errors import translated

log = logging.getLogger(__name__)

Entry = tuple[str, dict[bytes, bytes]]
RedisClient = aioredis.Redis  # for the queue's other modules, which never import redis
MAX_RAW = 4096  # characters of a malformed entry kept in its dead letter


class QueueStore:
    def __init__(self, client: aioredis.Redis, keep_finished: int = 10_000) -> None:
        self.redis = client
        self.keep_finished = keep_finished  # finished call records kept (oldest deleted)
        self._enqueue = client.register_script(ENQUEUE)
        self._claim_own = client.register_script(CLAIM_OWN)
        self._move_due = client.register_script(MOVE_DUE)
        self._dead = client.register_script(DEAD)
        self._redrive = client.register_script(REDRIVE)
        self._apply = client.register_script(APPLY)

    # -- the calls stream -----------------------------------------------------------------

    async def ensure_group(self) -> None:
        await self.ensure_stream_group(keys.CALLS, keys.CALLS_GROUP, "0")

    async def ensure_stream_group(self, stream: str, group: str, start: str) -> None:
        async with translated("create consumer group"):
            try:
                await self.redis.xgroup_create(stream, group, id=start, mkstream=True)
            except redis.exceptions.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def enqueue(
        self,
        message: Message,
        record: dict[str, str],
        *,
        idempotency: tuple[str, str] | None = None,
        idempotency_ttl: float = 86400.0,
        max_backlog: int = 0,
    ) -> tuple[str, bool]:
        """Queue a call; returns (call id, False when an Idempotency-Key replayed it).

        `idempotency` is (Redis key, request fingerprint). Raises IdempotencyConflict when the
        key was used for a different request, QueueFull at `max_backlog`.
        """
        idem_key, fingerprint = idempotency or ("", "")
        args: list[Any] = [
            message.call_id,
            fingerprint,
            max(1, int(idempotency_ttl)),
            max_backlog,
            len(record),
        ]
        for key, value in record.items():
            args += [key, value]
        for name, data in message.fields(with_created=False).items():
            args += [name, data]
        async with translated("queue the call"):
            answer = await self._enqueue(
                keys=[keys.CALLS, keys.call_record(message.call_id), idem_key], args=args
            )
        outcome, call_id = (_text(x) for x in answer)
        if outcome == "conflict":
            raise IdempotencyConflict(
                f"this Idempotency-Key was already used for a different request (call {call_id}):"
                " send the same request again, or use a new key"
            )
        if outcome == "full":
            raise QueueFull(
                f"the async queue holds {max_backlog} calls not yet run (FAAS_ASYNC_MAX_BACKLOG):"
                " retry later, or add gateways to consume faster",
                retry_after=5.0,
            )
        return call_id, outcome == "new"

    async def read(self, consumer: str, count: int, block_ms: int) -> list[Message]:
        async with translated("read the calls stream"):
            try:
                answer: Any = await self.redis.xreadgroup(
                    keys.CALLS_GROUP, consumer, {keys.CALLS: ">"}, count=count, block=block_ms
                )
            except redis.exceptions.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                await self.ensure_group()  # Redis lost its data (restart without AOF, flush)
                return []
        entries = [(_text(i), f) for _, batch in answer or [] for i, f in batch]
        return [m for m, _ in await self._decode([(i, f, 1) for i, f in entries])]

    async def reclaim(
        self, consumer: str, min_idle: float, count: int
    ) -> list[tuple[Message, int]]:
        """Take over entries idle for `min_idle` seconds (their consumer died or gave them back).

        Returns each message with how many times it has been delivered, this time included.
        """
        entries = await self.reclaim_entries(
            keys.CALLS, keys.CALLS_GROUP, consumer, min_idle, count
        )
        return await self._decode(entries)

    async def _decode(
        self, entries: list[tuple[str, dict[bytes, bytes], int]]
    ) -> list[tuple[Message, int]]:
        """Messages of the calls stream; entries faas did not write go to the dead letters
        (one log line each), so one bad XADD never stops a consumer."""
        out: list[tuple[Message, int]] = []
        for entry_id, fields, deliveries in entries:
            try:
                out.append((Message.from_fields(entry_id, fields), deliveries))
            except Malformed as exc:
                log.warning("%s; moved to the dead letters", exc)
                await self._bury(entry_id, fields, str(exc))
        return out

    async def _bury(self, entry_id: str, fields: dict[bytes, bytes], problem: str) -> None:
        raw = {k.decode("latin-1"): v.decode("latin-1") for k, v in fields.items()}
        letter = {
            "reason": "malformed",
            "code": "malformed_entry",
            "error": problem,
            "attempts": "0",
            "dead_at": repr(time.time()),
            "stream": keys.CALLS,
            "entry": entry_id,
            "raw": json.dumps(raw)[:MAX_RAW],
        }
        async with translated("dead-letter a malformed entry"):
            pipe = self.redis.pipeline(transaction=True)
            pipe.xadd(keys.DEAD_LETTERS, _m(letter))
            pipe.xack(keys.CALLS, keys.CALLS_GROUP, entry_id)
            pipe.xdel(keys.CALLS, entry_id)
            await pipe.execute()

    async def reclaim_entries(
        self, stream: str, group: str, consumer: str, min_idle: float, count: int
    ) -> list[tuple[str, dict[bytes, bytes], int]]:
        claimed: list[Entry] = []
        cursor: Any = "0-0"
        async with translated("reclaim idle entries"):
            for _ in range(10):  # bounded scan of the pending entries list
                try:
                    answer = await self.redis.xautoclaim(
                        stream, group, consumer, int(min_idle * 1000), cursor, count=count
                    )
                except redis.exceptions.ResponseError as exc:
                    if "NOGROUP" in str(exc):
                        return []
                    raise
                cursor = answer[0]
                claimed += [(_text(i), f) for i, f in answer[1] if f is not None]
                if _text(cursor) == "0-0" or len(claimed) >= count:
                    break
            if not claimed:
                return []
            pipe = self.redis.pipeline(transaction=False)
            for entry_id, _ in claimed:
                pipe.xpending_range(stream, group, entry_id, entry_id, 1)
            pending = await pipe.execute()
        out = []
        for (entry_id, fields), info in zip(claimed, pending, strict=True):
            out.append((entry_id, fields, int(info[0]["times_delivered"]) if info else 1))
        return out

    async def claim_own(
        self,
        consumer: str,
        ids: Sequence[str],
        *,
        idle: float = 0.0,
        stream: str = "",
        group: str = "",
    ) -> list[str]:
        """Refresh our claim on `ids` (idle 0), or hand them back (idle = visibility timeout).

        Returns the ids another consumer holds now."""
        if not ids:
            return []
        args: list[Any] = [group or keys.CALLS_GROUP, consumer, int(idle * 1000), *ids]
        async with translated("heartbeat"):
            lost = await self._claim_own(keys=[stream or keys.CALLS], args=args)
        return [_text(x) for x in lost]

    async def apply(self, ops: Sequence[Op]) -> None:
        """Write a batch of attempt outcomes atomically (one script call)."""
        args: list[Any] = [
            keys.CALLS_GROUP,
            keys.CALL_PREFIX,
            keys.RETRY_SUFFIX,
            self.keep_finished,
        ]
        for op in ops:
            args += encode(op)
        names = [keys.CALLS, keys.CALLS_DELAYED, keys.DEAD_LETTERS, keys.CALLS_FINISHED]
        async with translated("record call outcomes"):
            await self._apply(keys=names, args=args)

    async def move_due(self, now: float, limit: int = 500) -> tuple[int, float | None]:
        """Move retries whose time has come back into the stream; returns (moved, next due)."""
        async with translated("move due retries"):
            moved, nxt = await self._move_due(
                keys=[keys.CALLS_DELAYED, keys.CALLS],
                args=[repr(now), limit, keys.CALL_PREFIX, keys.RETRY_SUFFIX],
            )
        return int(moved), float(nxt) if nxt else None

    async def record(self, call_id: str) -> dict[bytes, bytes] | None:
        async with translated("read the call"):
            raw: Any = await self.redis.hgetall(keys.call_record(call_id))
        return dict(raw) if raw else None

    async def depth(self) -> dict[str, int]:
        async with translated("queue depth"):
            pipe = self.redis.pipeline(transaction=False)
            pipe.xlen(keys.CALLS)
            pipe.zcard(keys.CALLS_DELAYED)
            pipe.xlen(keys.DEAD_LETTERS)
            queued, delayed, dead = await pipe.execute()
        return {"queued": int(queued), "delayed": int(delayed), "dead_letters": int(dead)}

    async def prune_consumers(self, me: str, idle: float) -> None:
        """Remove consumers (gateways long gone) that hold no pending entries."""
        async with translated("prune consumers"):
            try:
                consumers = await self.redis.xinfo_consumers(keys.CALLS, keys.CALLS_GROUP)
            except redis.exceptions.ResponseError:
                return
            for consumer in consumers:
                name = _text(consumer["name"])
                if name != me and not consumer["pending"] and consumer["idle"] > idle * 1000:
                    await self.redis.xgroup_delconsumer(keys.CALLS, keys.CALLS_GROUP, name)

    async def forget_consumer(self, me: str) -> None:
        """On a clean stop: leave the group if nothing is pending for us."""
        async with translated("leave the group"):
            pending = await self.redis.xpending_range(
                keys.CALLS, keys.CALLS_GROUP, "-", "+", 1, consumername=me
            )
            if not pending:
                await self.redis.xgroup_delconsumer(keys.CALLS, keys.CALLS_GROUP, me)

    # -- dead letters ---------------------------------------------------------------------

    async def dead_letters(
        self, function: str | None, limit: int, before: str = "+"
    ) -> list[tuple[str, dict[bytes, bytes]]]:
        """Newest first; `before` pages (exclusive)."""
        out: list[tuple[str, dict[bytes, bytes]]] = []
        cursor = before if before == "+" else f"({before}"
        async with translated("list dead letters"):
            while len(out) < limit:
                batch: Any = await self.redis.xrevrange(keys.DEAD_LETTERS, cursor, "-", count=500)
                if not batch:
                    break
                for entry_id, fields in batch:
                    if function is None or unpack(fields)[0].get("fn") == function:
                        out.append((_text(entry_id), fields))
                cursor = f"({_text(batch[-1][0])}"
        return out[:limit]

    async def dead_letter(self, entry_id: str) -> dict[bytes, bytes]:
        async with translated("read the dead letter"):
            try:
                found: Any = await self.redis.xrange(keys.DEAD_LETTERS, entry_id, entry_id)
            except redis.exceptions.ResponseError:
                found = []
        if not found:
            raise CallNotFound(
                f"no dead letter with id {entry_id!r} (see `faas dead-letters list`)"
            )
        return dict(found[0][1])

    async def redrive(self, entry_id: str) -> str:
        """Queue a dead letter again as a fresh call (same call id); returns the call id."""
        async with translated("redrive"):
            try:
                call_id = await self._redrive(
                    keys=[keys.DEAD_LETTERS, keys.CALLS], args=[entry_id, keys.CALL_PREFIX]
                )
            except redis.exceptions.ResponseError as exc:
                if str(exc).startswith("MALFORMED"):
                    raise BadRequest(
                        f"dead letter {entry_id} was never a faas call (reason: malformed): "
                        "it cannot be redriven; its fields are under `raw`"
                    ) from None
                call_id = None
        if not call_id:
            raise CallNotFound(
                f"no dead letter with id {entry_id!r} (see `faas dead-letters list`)"
            )
        return _text(call_id)

    async def dead_letter_item(
        self, stream: str, group: str, entry_id: str, message: Message, meta: dict[str, str]
    ) -> None:
        """A stream trigger's item gives up: into the dead letters, acknowledged on its stream."""
        flat: list[Any] = []
        for key, value in {**message.fields(), **meta}.items():
            flat += [key, value]
        pipe = self.redis.pipeline(transaction=True)
        record = keys.call_record(message.call_id)
        pipe.hset(
            record,
            mapping=_m(
                {
                    "status": CallStatus.DEAD.value,
                    "function": message.function,
                    "kind": message.kind.value,
                    "created": repr(message.created),
                    "reason": meta.get("reason", ""),
                    "error": meta.get("error", ""),
                    "attempts": meta.get("attempts", "0"),
                }
            ),
        )
        await self._dead(keys=[keys.DEAD_LETTERS, record], args=["", *flat], client=pipe)
        pipe.xack(stream, group, entry_id)
        async with translated("dead-letter a trigger item"):
            await pipe.execute()

    # -- stream triggers ------------------------------------------------------------------

    async def read_stream(
        self, stream: str, group: str, consumer: str, count: int, block_ms: int
    ) -> list[Entry]:
        async with translated("read a trigger stream"):
            answer: Any = await self.redis.xreadgroup(
                group, consumer, {stream: ">"}, count=count, block=block_ms
            )
        return [(_text(i), f) for _, entries in answer or [] for i, f in entries]

    async def ack(self, stream: str, group: str, ids: Sequence[str]) -> None:
        if ids:
            async with translated("acknowledge trigger items"):
                await self.redis.xack(stream, group, *ids)


def now() -> float:
    return time.time()


def _m(fields: dict[str, Any]) -> dict[Any, Any]:
    """redis-py's hset wants Mapping[EncodableT, EncodableT]; our field dicts are that."""
    return fields


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

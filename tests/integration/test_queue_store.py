"""The queue's Redis scripts and transactions against a real redis-server (no Docker)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from faas import keys
from faas.errors import CallNotFound, IdempotencyConflict, QueueFull
from faas.queue.ops import Dead, Finish, Retry, Start
from faas.queue.records import Message, unpack
from faas.queue.store import QueueStore
from faas.registry.store import connect
from tests.conftest import RedisServer

T = TypeVar("T")


@pytest.fixture
def run(redis_server: RedisServer) -> Callable[[Callable[[QueueStore], Awaitable[T]]], T]:
    redis_server.flush()

    def _run(body: Callable[[QueueStore], Awaitable[T]]) -> T:
        async def main() -> T:
            client = connect(redis_server.url)
            try:
                store = QueueStore(client)
                await store.ensure_group()
                return await body(store)
            finally:
                await client.aclose()

        return asyncio.run(main())

    return _run


def message(call_id: str = "c1", body: bytes = b"x") -> Message:
    return Message(call_id=call_id, function="echo", body=body)


def test_enqueue_writes_the_entry_and_the_record(run: Any) -> None:
    async def body(store: QueueStore) -> None:
        assert await store.enqueue(message(), {"function": "echo"}) == ("c1", True)
        (read,) = await store.read("g1", 10, 10)
        assert (read.call_id, read.function, read.body, read.attempt) == ("c1", "echo", b"x", 0)
        record = await store.record("c1")
        assert record is not None and record[b"status"] == b"queued"
        assert abs(read.created - float(record[b"created"])) < 1e-6

    run(body)


def test_idempotency_key_replays_and_conflicts(run: Any) -> None:
    async def body(store: QueueStore) -> None:
        idem = ("faas:idem:k", "fingerprint-1")
        assert await store.enqueue(message("c1"), {}, idempotency=idem) == ("c1", True)
        assert await store.enqueue(message("c2"), {}, idempotency=idem) == ("c1", False)
        with pytest.raises(IdempotencyConflict, match="c1"):
            await store.enqueue(message("c3"), {}, idempotency=("faas:idem:k", "other"))
        assert await store.redis.xlen(keys.CALLS) == 1
        assert await store.record("c2") is None

    run(body)


def test_backlog_limit(run: Any) -> None:
    async def body(store: QueueStore) -> None:
        await store.enqueue(message("c1"), {}, max_backlog=1)
        with pytest.raises(QueueFull):
            await store.enqueue(message("c2"), {}, max_backlog=1)

    run(body)


def test_outcomes_ack_and_delete_in_one_transaction(run: Any) -> None:
    async def body(store: QueueStore) -> None:
        for n in range(3):
            await store.enqueue(message(f"c{n}"), {"function": "echo"})
        done, retry, dead = await store.read("g1", 10, 10)
        await store.apply([Start(done, {"status": "running"})])
        await store.apply(
            [
                Finish(done, {"status": "succeeded"}, ttl=60),
                Retry(retry, retry.next_attempt(counted=True), 0.0, {"status": "queued"}),
                Dead(dead, {"status": "dead"}, {"reason": "max_attempts", "attempts": "3"}),
            ]
        )
        assert await store.redis.xlen(keys.CALLS) == 0  # acknowledged entries are deleted
        assert (await store.redis.xpending(keys.CALLS, keys.CALLS_GROUP))["pending"] == 0
        record = await store.record("c0")
        assert record is not None
        assert (record[b"status"], record[b"executions"], record[b"completions"]) == (
            b"succeeded",
            b"1",
            b"1",
        )
        assert 0 < await store.redis.ttl(keys.call_record("c0")) <= 60
        # The retry waits in the delayed set until it is due, then goes back to the stream.
        assert await store.move_due(now=-1.0) == (0, 0.0)
        assert await store.move_due(now=1.0) == (1, None)
        (again,) = await store.read("g1", 10, 10)
        assert (again.call_id, again.attempt) == ("c1", 1)
        assert not await store.redis.exists(keys.call_retry("c1"))
        # The dead one is in the dead letters with its reason; redrive queues it afresh.
        ((letter_id, fields),) = await store.dead_letters(None, 10)
        assert (unpack(fields)[0]["id"], fields[b"reason"]) == ("c2", b"max_attempts")
        dead_record = await store.record("c2")
        assert dead_record is not None
        assert dead_record[b"dead_letter_id"].decode() == letter_id
        assert await store.redrive(letter_id) == "c2"
        assert await store.dead_letters(None, 10) == []
        with pytest.raises(CallNotFound):
            await store.redrive(letter_id)
        (redriven,) = await store.read("g1", 10, 10)
        assert (redriven.call_id, redriven.attempt, redriven.body) == ("c2", 0, b"x")
        record = await store.record("c2")
        assert record is not None and record[b"status"] == b"queued"

    run(body)


def test_heartbeat_keeps_a_claim_and_hand_back_releases_it(run: Any) -> None:
    async def body(store: QueueStore) -> None:
        await store.enqueue(message("c1"), {})
        (mine,) = await store.read("g1", 10, 10)
        await asyncio.sleep(0.3)
        assert await store.claim_own("g1", [mine.entry_id]) == []  # idle back to ~0
        assert await store.reclaim("g2", min_idle=0.2, count=10) == []
        assert await store.claim_own("g2", [mine.entry_id]) == [mine.entry_id]  # not g2's
        await store.claim_own("g1", [mine.entry_id], idle=30.0)  # hand back
        ((taken, deliveries),) = await store.reclaim("g2", min_idle=30.0, count=10)
        assert (taken.call_id, deliveries) == ("c1", 2)
        assert await store.claim_own("g1", [mine.entry_id]) == [mine.entry_id]  # g1 lost it

    run(body)

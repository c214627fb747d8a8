"""The gateway's consumer of the calls stream: read, run through the pool, record, repeat.

Every gateway is one consumer in one group, so more gateways consume more. A consumer holds at
most FAAS_ASYNC_WORKERS entries and runs at most `per_function` of one function at a time
(default: half the function's capacity, scale.max x concurrency / 2), so sync callers always
find containers; entries over that bound wait in a local backlog, still claimed by us.

Delivery is at-least-once:
- an entry is acknowledged only in the transaction that records the attempt's outcome;
- held entries are re-claimed every visibility/3 seconds (their idle time stays near zero), so
  a long call is never taken over while its consumer lives;
- entries idle for the visibility timeout (their consumer died) are claimed by any other one;
- on shutdown, reading stops, running calls get FAAS_ASYNC_SHUTDOWN_GRACE to finish, and the
  rest is handed back (marked idle) for the other gateways, never acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import defaultdict, deque
from collections.abc import Callable

from faas.contracts.base import CallRequest
from faas.errors import FaasError, FunctionNotFound, Unavailable
from faas.pool.invoker import CallResult, Invoker
from faas.queue.callbacks import CallbackSender
from faas.queue.ops import Op, Retry, Start, Update
from faas.queue.outcomes import batch_failure, callback_message, dead_op, settle
from faas.queue.records import CallKind, CallStatus, Message
from faas.queue.retry import (
    Failure,
    FailureKind,
    RetryPolicy,
    classify_error,
    classify_status,
)
from faas.queue.store import QueueStore
from faas.queue.writer import Writer
from faas.registry.catalog import Catalog
from faas.supervised import Supervisor, cancel_and_wait

log = logging.getLogger(__name__)

READ_BATCH = 128
BLOCK_MS = 500
REDELIVERY_LIMIT = 10  # an entry whose consumers kept dying is dead-lettered after this


class AsyncConsumer:
    def __init__(
        self,
        store: QueueStore,
        catalog: Catalog,
        invoker: Invoker,
        callbacks: CallbackSender,
        *,
        name: str,
        workers: int,
        per_function: int,
        policy: RetryPolicy,
        visibility: float,
        result_ttl: float,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        supervisor: Supervisor | None = None,
    ) -> None:
        self.supervisor = supervisor or Supervisor()
        self.store = store
        self.catalog = catalog
        self.invoker = invoker
        self.callbacks = callbacks
        self.name = name
        self.workers = workers
        self.per_function = per_function
        self.policy = policy
        self.visibility = visibility
        self.result_ttl = result_ttl
        self._clock = clock
        self._rand = rand
        self.writer = Writer(store)
        self._held: dict[str, Message] = {}  # entry id -> message: running or in the backlog
        self._backlog: dict[str, deque[Message]] = defaultdict(deque)
        self._running: dict[str, int] = defaultdict(int)
        self._runs: dict[str, asyncio.Task[None]] = {}
        self._submitted: set[str] = set()  # running, outcome already handed to the writer
        self._space = asyncio.Event()
        self._due = asyncio.Event()
        self._stopping = False
        self._loops: list[asyncio.Task[None]] = []

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        if self.workers <= 0:
            return
        with contextlib.suppress(Unavailable):
            await self.store.ensure_group()
        self._loops = [
            self.supervisor.spawn("queue-read", self._read_loop()),
            self.supervisor.spawn("queue-claim", self._claim_loop()),
            self.supervisor.spawn("queue-due", self._due_loop()),
        ]

    async def stop(self, grace: float) -> None:
        """Stop reading; give running calls `grace` seconds; hand the rest back, unacknowledged."""
        self._stopping = True
        self._space.set()
        self._due.set()
        if not self._loops:
            return
        reader, *others = self._loops
        await cancel_and_wait(others)
        await asyncio.wait([reader], timeout=BLOCK_MS / 1000 + 1)
        await cancel_and_wait([reader])
        waiting = [m.entry_id for queue in self._backlog.values() for m in queue]
        self._backlog.clear()
        if self._runs:
            await asyncio.wait(list(self._runs.values()), timeout=grace)
        interrupted = {e: self._held[e] for e in self._runs if e not in self._submitted}
        await cancel_and_wait(list(self._runs.values()))
        for message in interrupted.values():
            queued = {"status": CallStatus.QUEUED.value}
            self.writer.submit(Update(message.call_id, queued), wait=False)
        await self.writer.drain(timeout=5.0)
        unfinished = waiting + list(interrupted)
        with contextlib.suppress(Unavailable):
            if unfinished:
                await self.store.claim_own(self.name, unfinished, idle=self.visibility)
                log.info("handed %d unfinished async calls back to the queue", len(unfinished))
            await self.store.forget_consumer(self.name)

    def stats(self) -> dict[str, int]:
        return {"held": len(self._held), "running": sum(self._running.values())}

    # -- reading and dispatch -------------------------------------------------------------

    async def _read_loop(self) -> None:
        delay = 0.1
        while not self._stopping:
            free = self.workers - len(self._held)
            if free <= 0:
                self._space.clear()
                await self._space.wait()
                continue
            try:
                messages = await self.store.read(self.name, min(free, READ_BATCH), BLOCK_MS)
            except Exception as exc:
                if isinstance(exc, Unavailable):
                    log.warning("%s; the consumer retries in %.1fs", exc.message, delay)
                else:
                    log.exception("reading the calls stream failed; retrying in %.1fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.1
            picked = self._clock()
            for message in messages:
                await self._accept(message, picked)

    async def _accept(self, message: Message, picked: float) -> None:
        self._held[message.entry_id] = message
        limit = await self._limit(message.function)
        fn = message.function
        if self._running[fn] < limit and not self._stopping:
            self._launch(message, picked)
        else:
            self._backlog[fn].append(message)

    async def _limit(self, function: str) -> int:
        if self.per_function:
            return self.per_function
        try:
            spec = (await self.catalog.get(function)).spec
        except FaasError:
            return 1  # the attempt itself reports it
        return max(1, spec.scale.max * spec.concurrency // 2)

    def _launch(self, message: Message, picked: float) -> None:
        self._running[message.function] += 1
        task = asyncio.create_task(self._run(message, picked))
        self._runs[message.entry_id] = task

    def _free_slot(self, message: Message) -> None:
        """The function's container is done with it: the next waiting call may start."""
        fn = message.function
        self._running[fn] -= 1
        backlog = self._backlog.get(fn)
        if backlog and not self._stopping:
            self._launch(backlog.popleft(), self._clock())

    def _finished(self, message: Message, slot_freed: bool) -> None:
        self._submitted.discard(message.entry_id)
        self._runs.pop(message.entry_id, None)
        self._held.pop(message.entry_id, None)
        if not slot_freed:
            self._free_slot(message)
        self._space.set()

    # -- one attempt ----------------------------------------------------------------------

    async def _run(self, message: Message, picked: float) -> None:
        slot_freed = False
        try:
            op, result, failure = await self._attempt(message, picked)
            # The outcome is written while the next call of the function already runs; the
            # entry stays held (and heartbeated) until it is acknowledged.
            self._free_slot(message)
            slot_freed = True
            if isinstance(op, Retry) and op.due - self._clock() < 1.0:
                self._due.set()
            future = self.writer.submit(op)
            assert future is not None
            self._submitted.add(message.entry_id)
            await future
            if message.callback and not isinstance(op, Retry):
                self._callback(message, op, result, failure)
        except Exception:
            log.exception("async call %s: the attempt could not be recorded", message.call_id)
        finally:
            self._finished(message, slot_freed)

    async def _attempt(
        self, m: Message, picked: float
    ) -> tuple[Op, CallResult | None, Failure | None]:
        if self.policy.expired(self._clock() - m.created):
            expired = Failure(
                FailureKind.FUNCTION,
                "expired",
                f"the call waited longer than {self.policy.max_age:g}s (FAAS_ASYNC_MAX_AGE) "
                "and was never run",
                504,
            )
            return dead_op(m, "expired", expired, False, self._clock()), None, expired
        result: CallResult | None = None
        failure: Failure | None
        try:
            record = await self.catalog.get(m.function)
            started = self._clock()
            self.writer.submit(
                Start(
                    m,
                    {
                        "status": CallStatus.RUNNING.value,
                        "gateway": self.name,
                        "picked_at": repr(picked),
                        "started_at": repr(started),
                        "attempts": m.attempt + 1,
                    },
                ),
                wait=False,
            )
            request = CallRequest(m.method, m.target, m.query, m.headers, m.body)
            result = await self.invoker.call(record, request, m.call_id)
            failure = classify_status(result.status, result.headers, self._clock(), result.body)
            if failure is None and m.kind is CallKind.TRIGGER:
                failure = batch_failure(result.body)
        except FunctionNotFound as exc:
            failure = classify_error(exc)
        except Exception as exc:
            if not isinstance(exc, FaasError):
                log.exception("async call %s failed in the gateway", m.call_id)
            failure = classify_error(exc)
        now = self._clock()
        op = settle(m, result, failure, self.policy, now, self._rand, self.result_ttl)
        return op, result, failure

    def _callback(
        self, m: Message, op: Op, result: CallResult | None, failure: Failure | None
    ) -> None:
        headers, body = callback_message(m, op, result, failure, self._clock())

        def done(fields: dict[str, str]) -> None:
            self.writer.submit(Update(m.call_id, fields), wait=False)

        self.callbacks.send(m.callback, headers, body, done)

    # -- claims, take-overs and due retries -----------------------------------------------

    async def _claim_loop(self) -> None:
        """Heartbeat every visibility/3; look for entries to take over every second (handed-back
        ones are claimable at once; a dead consumer's after the visibility timeout)."""
        heartbeat = self.visibility / 3
        last_beat = 0.0
        rounds = 0
        while not self._stopping:
            try:
                if time.monotonic() - last_beat >= heartbeat:
                    last_beat = time.monotonic()
                    self._drop_lost(await self.store.claim_own(self.name, list(self._held)))
                free = self.workers - len(self._held)
                if free > 0:
                    for message, deliveries in await self.store.reclaim(
                        self.name, self.visibility, free
                    ):
                        await self._take_over(message, deliveries)
                rounds += 1
                if rounds % 3600 == 1:
                    await self.store.prune_consumers(
                        self.name, idle=max(3600.0, self.visibility * 10)
                    )
            except Unavailable as exc:
                log.warning("%s", exc.message)
            except Exception:
                log.exception("async queue maintenance failed")
            await asyncio.sleep(min(1.0, heartbeat))

    def _drop_lost(self, lost: list[str]) -> None:
        """Entries another consumer took over: forget those we had not started."""
        for entry_id in lost:
            message = self._held.get(entry_id)
            if message is None or entry_id in self._runs:
                continue
            with contextlib.suppress(ValueError):
                self._backlog[message.function].remove(message)
            del self._held[entry_id]

    async def _take_over(self, message: Message, deliveries: int) -> None:
        log.info(
            "took over async call %s (delivery %d) from a stopped consumer",
            message.call_id,
            deliveries,
        )
        if deliveries > REDELIVERY_LIMIT:
            failure = Failure(
                FailureKind.FUNCTION,
                "redelivered",
                f"delivered {deliveries} times without finishing: the gateways running it "
                "stopped each time",
                500,
            )
            dead = dead_op(message, "redelivered", failure, False, self._clock())
            self.writer.submit(dead, wait=False)
            return
        await self._accept(message, self._clock())

    async def _due_loop(self) -> None:
        while not self._stopping:
            try:
                moved, next_due = await self.store.move_due(self._clock())
            except Exception as exc:
                if not isinstance(exc, Unavailable):
                    log.exception("moving due retries failed; retrying in 1s")
                await asyncio.sleep(1.0)
                continue
            if moved >= 500:
                continue
            wait = 0.5 if next_due is None else min(0.5, max(0.002, next_due - self._clock()))
            self._due.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._due.wait(), wait)

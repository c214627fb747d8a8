"""Triggers from faas.yaml: Redis streams (SQS-style event-source mapping) and cron schedules.

Stream trigger `{stream: votes, batch_size: 10}`: entries anyone appends (XADD votes * ...) after
the function got the trigger reach it in batches, through the consumer group
`faas:trigger:<function>` on that stream. Each gateway is a consumer of it. The function gets
a POST with `Content-Type: application/json` and this body (Lambda's SQS event, adapted):

    {"Records": [{"id": "1700000000000-0", "stream": "votes",
                  "data": {"voter": "a", "vote": "b"}, "attempt": 1}, ...]}

A 2xx answer acknowledges the whole batch, except the items it lists as failed in Lambda's
partial-batch form: {"batchItemFailures": [{"itemIdentifier": "1700000000000-0"}]}. A listed
id that is not in the batch fails the whole batch, as in Lambda. Failed items (and whole
batches on 408/429/5xx, timeouts or crashes) come back after an exponential back-off, as new
deliveries, until FAAS_ASYNC_MAX_ATTEMPTS; other 4xx answers, the last attempt or an entry
older than FAAS_ASYNC_MAX_AGE send the item to the dead-letter stream, from which a redrive
queues it as an async call with a one-record batch. faas never trims or deletes entries of
the user's stream.

Cron trigger `{schedule: "*/5 * * * *"}` (UTC; also `@hourly`, `@every 30s`): every gateway
watches the clock, and a tick is queued as an async call through an idempotency key per
(function, trigger, tick), so it fires once however many gateways run. The call's body is
{"source": "faas.cron", "schedule": ..., "trigger": i, "time": "<ISO 8601 tick>"}.

A `contract: lambda` function gets AWS's shapes instead (faas.lambda_events): SQS records
(`messageId` = the entry id, so batchItemFailures work the same) and an EventBridge
"Scheduled Event".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from faas import keys
from faas.contracts.base import CallRequest
from faas.errors import FaasError, Unavailable
from faas.lambda_events import is_lambda, scheduled_event, sqs_event
from faas.manifest.cron import Schedule, parse_schedule
from faas.manifest.triggers import ScheduleTrigger, StreamTrigger
from faas.pool.invoker import Invoker
from faas.queue.records import CallKind, Message
from faas.queue.retry import Failure, FailureKind, RetryPolicy, classify_error, classify_status
from faas.queue.store import QueueStore
from faas.registry.catalog import Catalog
from faas.registry.store import FunctionRecord, Registry
from faas.supervised import Supervisor, cancel_and_wait

log = logging.getLogger(__name__)

REFRESH_INTERVAL = 2.0
BLOCK_MS = 1000
JSON = [(b"content-type", b"application/json")]

Enqueue = Callable[[Message, dict[str, str], str], Awaitable[tuple[str, bool]]]


def batch_event(stream: str, entries: list[tuple[str, dict[bytes, bytes], int]]) -> bytes:
    records = [
        {
            "id": entry_id,
            "stream": stream,
            "data": {
                k.decode("utf-8", "replace"): v.decode("utf-8", "replace")
                for k, v in fields.items()
            },
            "attempt": attempt,
        }
        for entry_id, fields, attempt in entries
    ]
    return json.dumps({"Records": records}).encode()


def failed_items(body: bytes, ids: set[str]) -> set[str]:
    """Ids a 2xx answer lists in batchItemFailures; all of them when the list is malformed."""
    try:
        answer = json.loads(body) if body else None
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
        return set()
    if not isinstance(answer, dict) or "batchItemFailures" not in answer:
        return set()
    items = answer["batchItemFailures"]
    if not isinstance(items, list):
        return set(ids)
    failed: set[str] = set()
    for item in items:
        item_id = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(item_id, str) or item_id not in ids:
            return set(ids)
        failed.add(item_id)
    return failed


def entry_time(entry_id: str) -> float:
    return int(entry_id.split("-", 1)[0]) / 1000


@dataclass
class _Cron:
    schedule: Schedule
    next: float


class Triggers:
    """Runs the stream triggers and cron schedules of every registered function."""

    def __init__(
        self,
        store: QueueStore,
        registry: Registry,
        invoker: Invoker,
        enqueue: Enqueue,
        *,
        name: str,
        policy: RetryPolicy,
        visibility: float,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        supervisor: Supervisor | None = None,
    ) -> None:
        self.supervisor = supervisor or Supervisor()
        self.store = store
        self.catalog = Catalog(registry)  # its own view: its changes are not the gateway's
        self.invoker = invoker
        self.enqueue = enqueue
        self.name = name
        self.policy = policy
        self.visibility = visibility
        self._clock = clock
        self._rand = rand
        self._records: dict[str, FunctionRecord] = {}
        self._streams: dict[tuple[str, str], tuple[int, asyncio.Task[None]]] = {}
        self._crons: dict[tuple[str, int, str], _Cron] = {}
        self._loops: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._loops = [
            self.supervisor.spawn("triggers", self._refresh_loop()),
            self.supervisor.spawn("cron", self._cron_loop()),
        ]

    async def stop(self) -> None:
        await cancel_and_wait(self._loops + [task for _, task in self._streams.values()])
        self._streams.clear()

    # -- which triggers exist -------------------------------------------------------------

    async def _refresh_loop(self) -> None:
        while True:
            try:
                await self.refresh()
            except Unavailable as exc:
                log.warning("%s", exc.message)
            except Exception:
                log.exception("could not refresh triggers")
            await asyncio.sleep(REFRESH_INTERVAL)

    async def refresh(self) -> None:
        """Follow the registry: one small Redis round trip when no function changed."""
        changed = await self.catalog.refresh()
        if self.catalog.take_removed() or changed:
            self.sync(await self.catalog.all())

    def sync(self, records: list[FunctionRecord]) -> None:
        self._records = {r.name: r for r in records}
        wanted: dict[tuple[str, str], tuple[int, FunctionRecord]] = {}
        crons: dict[tuple[str, int, str], Schedule] = {}
        for record in records:
            for index, trigger in enumerate(record.spec.triggers):
                if isinstance(trigger, StreamTrigger):
                    wanted[(record.name, trigger.stream)] = (trigger.batch_size, record)
                elif isinstance(trigger, ScheduleTrigger):
                    crons[(record.name, index, trigger.schedule)] = parse_schedule(trigger.schedule)
        for key, (batch, task) in list(self._streams.items()):
            if key not in wanted or wanted[key][0] != batch or task.done():
                task.cancel()
                del self._streams[key]
        for key, (batch, record) in wanted.items():
            if key not in self._streams:
                task = asyncio.create_task(self._stream_loop(key[0], key[1], batch, record))
                self._streams[key] = (batch, task)
        now = self._clock()
        self._crons = {
            key: self._crons.get(key)
            or _Cron(schedule, schedule.next_tick(now - min(60.0, schedule.period)))
            for key, schedule in crons.items()
        }

    # -- cron -----------------------------------------------------------------------------

    async def _cron_loop(self) -> None:
        while True:
            now = self._clock()
            for (function, index, _), cron in list(self._crons.items()):
                if cron.next > now:
                    continue
                tick, grace = cron.next, min(60.0, cron.schedule.period)
                cron.next = cron.schedule.next_tick(now)
                if now - tick <= grace:
                    try:
                        await self._fire(function, index, cron.schedule, tick)
                    except Exception:  # one bad tick must not end every schedule
                        log.exception("cron tick of %s failed", function)
            soonest = min((c.next for c in self._crons.values()), default=now + 1.0)
            await asyncio.sleep(min(1.0, max(0.01, soonest - self._clock())))

    async def _fire(self, function: str, index: int, schedule: Schedule, tick: float) -> None:
        when = datetime.fromtimestamp(tick, UTC).isoformat().replace("+00:00", "Z")
        body = {"source": "faas.cron", "schedule": schedule.text, "trigger": index, "time": when}
        data = json.dumps(body).encode()
        if is_lambda(self._records.get(function)):  # an EventBridge scheduled event
            data = scheduled_event(function, index, schedule.text, when)
        message = Message(
            call_id=str(uuid.uuid4()),
            function=function,
            headers=list(JSON),
            body=data,
            kind=CallKind.CRON,
        )
        lock = keys.cron_tick(function, index, int(tick))
        try:
            call_id, new = await self.enqueue(message, {"tick": repr(tick)}, lock)
        except FaasError as exc:
            log.warning("cron tick %s of %s not queued: %s", when, function, exc.message)
            return
        if new:
            log.info("cron: queued %s for %s (call %s)", function, when, call_id)

    # -- stream triggers ------------------------------------------------------------------

    async def _stream_loop(
        self, function: str, stream: str, batch: int, record: FunctionRecord
    ) -> None:
        group = keys.trigger_group(function)
        # Entries appended after the function was registered with the trigger, wherever the
        # gateway that first sees it is.
        start = f"{int(record.updated_at * 1000)}-0"
        delay = 0.2
        while True:
            try:
                await self.store.ensure_stream_group(stream, group, start)
                while True:
                    entries = await self.store.reclaim_entries(
                        stream, group, self.name, self.visibility, batch
                    )
                    if not entries:
                        fresh = await self.store.read_stream(
                            stream, group, self.name, batch, BLOCK_MS
                        )
                        entries = [(i, f, 1) for i, f in fresh]
                    if entries:
                        await self._handle(function, stream, group, entries)
                    delay = 0.2
            except Unavailable as exc:
                log.warning("trigger %s <- %s: %s", function, stream, exc.message)
            except Exception:
                log.exception("trigger %s <- %s failed", function, stream)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _handle(
        self,
        function: str,
        stream: str,
        group: str,
        entries: list[tuple[str, dict[bytes, bytes], int]],
    ) -> None:
        now = self._clock()
        live = []
        for entry in entries:
            entry_id = entry[0]
            if self.policy.expired(now - entry_time(entry_id)):
                why = f"older than FAAS_ASYNC_MAX_AGE ({self.policy.max_age:g}s); never run"
                await self._dead(function, stream, group, entry, "expired", "expired", why)
            else:
                live.append(entry)
        if not live:
            return
        ids = [entry_id for entry_id, _, _ in live]
        heartbeat = asyncio.create_task(self._keep_claim(stream, group, ids))
        try:
            failure, failed = await self._deliver(function, stream, live)
        finally:
            await cancel_and_wait([heartbeat])
        done = [entry for entry in live if entry[0] not in failed]
        await self.store.ack(stream, group, [entry_id for entry_id, _, _ in done])
        retry = [entry for entry in live if entry[0] in failed]
        if not retry:
            return
        assert failure is not None
        if failure.kind is FailureKind.REJECTED:
            for entry in retry:
                await self._dead(
                    function, stream, group, entry, "rejected", failure.code, failure.message
                )
            return
        later = []
        for entry in retry:
            if entry[2] >= self.policy.max_attempts:
                await self._dead(
                    function, stream, group, entry, "max_attempts", failure.code, failure.message
                )
            else:
                later.append(entry)
        if later:
            backoff = self.policy.backoff(max(e[2] for e in later), self._rand)
            idle = max(0.0, self.visibility - backoff)  # reclaimable once `backoff` has passed
            await self.store.claim_own(
                self.name, [e[0] for e in later], idle=idle, stream=stream, group=group
            )

    async def _deliver(
        self, function: str, stream: str, entries: list[tuple[str, dict[bytes, bytes], int]]
    ) -> tuple[Failure | None, set[str]]:
        """Call the function with the batch; returns (failure, ids that failed).

        Platform failures (Docker down, pool full) are retried here, without using attempts."""
        ids = {entry_id for entry_id, _, _ in entries}
        shape = sqs_event if is_lambda(self._records.get(function)) else batch_event
        body = shape(stream, entries)
        headers = [*JSON, (b"x-faas-trigger", stream.encode())]
        platform = 0
        while True:
            record = self._records.get(function)
            if record is None:
                return Failure(FailureKind.PLATFORM, "not_found", "function removed", 404), ids
            failure: Failure | None
            try:
                result = await self.invoker.call(
                    record, CallRequest("POST", b"", b"", headers, body), str(uuid.uuid4())
                )
            except Exception as exc:
                failure = classify_error(exc)
            else:
                failure = classify_status(result.status, result.headers, self._clock(), result.body)
                if failure is None:
                    failed = failed_items(result.body, ids)
                    function_failure = Failure(
                        FailureKind.FUNCTION,
                        "batch_item_failure",
                        "listed in batchItemFailures",
                        200,
                    )
                    return (function_failure if failed else None), failed
            if failure.kind is not FailureKind.PLATFORM:
                return failure, ids
            platform += 1
            oldest = min(entry_time(i) for i in ids)
            if self.policy.expired(self._clock() - oldest):
                return failure, ids
            log.warning("trigger %s <- %s: %s; retrying", function, stream, failure.message)
            delay = failure.retry_after or self.policy.backoff(platform, self._rand)
            await asyncio.sleep(min(delay, self.visibility / 3))

    async def _keep_claim(self, stream: str, group: str, ids: list[str]) -> None:
        while True:
            await asyncio.sleep(self.visibility / 3)
            with contextlib.suppress(Unavailable):
                await self.store.claim_own(self.name, ids, stream=stream, group=group)

    async def _dead(
        self,
        function: str,
        stream: str,
        group: str,
        entry: tuple[str, dict[bytes, bytes], int],
        reason: str,
        code: str,
        error: str,
    ) -> None:
        entry_id, _, attempt = entry
        message = Message(
            call_id=str(uuid.uuid4()),
            function=function,
            headers=[*JSON, (b"x-faas-trigger", stream.encode())],
            body=(sqs_event if is_lambda(self._records.get(function)) else batch_event)(
                stream, [entry]
            ),
            created=entry_time(entry_id),
            kind=CallKind.TRIGGER,
        )
        meta: dict[str, Any] = {
            "reason": reason,
            "code": code,
            "error": error[:2000],
            "attempts": str(attempt),
            "dead_at": repr(self._clock()),
            "stream": stream,
            "entry": entry_id,
        }
        log.warning("trigger %s <- %s: item %s dead (%s)", function, stream, entry_id, reason)
        await self.store.dead_letter_item(stream, group, entry_id, message, meta)

"""Coalesced writes of attempt outcomes: one script call per batch (see `QueueStore.apply`)."""

from __future__ import annotations

import asyncio
import logging

from faas.errors import Unavailable
from faas.queue.ops import Op
from faas.queue.store import QueueStore
from faas.supervised import cancel_and_wait

log = logging.getLogger(__name__)

MAX_BATCH = 256  # outcomes written by one script call


class Writer:
    """Coalesces outcome writes: whatever is submitted while one MULTI/EXEC is in flight goes
    into the next one. A write that fails (Redis down) is retried until it succeeds or the
    writer is closed; the entries it would have acknowledged then stay pending (redelivered)."""

    def __init__(self, store: QueueStore) -> None:
        self.store = store
        self._pending: list[tuple[Op, asyncio.Future[None] | None]] = []
        self._task: asyncio.Task[None] | None = None

    def submit(self, op: Op, *, wait: bool = True) -> asyncio.Future[None] | None:
        future = asyncio.get_running_loop().create_future() if wait else None
        self._pending.append((op, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        return future

    async def _run(self) -> None:
        delay = 0.05
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                await self.store.apply([op for op, _ in batch])
            except Unavailable as exc:
                log.warning("%s; retrying in %.1fs", exc.message, delay)
                self._pending = batch + self._pending
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            except Exception as exc:
                log.exception("could not record %d call outcomes", len(batch))
                for _, future in batch:
                    if future is not None and not future.done():
                        future.set_exception(exc)
                continue
            delay = 0.05
            for _, future in batch:
                if future is not None and not future.done():
                    future.set_result(None)

    async def drain(self, timeout: float) -> None:
        task = self._task
        if task is None:
            return
        done, _ = await asyncio.wait([task], timeout=timeout)
        if not done:
            await cancel_and_wait([task])
        for _, future in self._pending:
            if future is not None and not future.done():
                future.cancel()
        self._pending = []

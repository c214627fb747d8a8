"""Background loops that never die silently.

Each loop handles the errors of one round itself (log, back off, go on): bad data or a Redis
hiccup costs a round, not the loop. A loop that ends anyway (an exception got out: a bug) is
logged once with its traceback and reported by `problems()`, which `/healthz` turns into a 503
naming the loop, so an operator or orchestrator restarts the gateway instead of it quietly
serving without, say, its queue reader. Cancellation (shutdown) is not a problem.

    loops = Supervisor()
    task = loops.spawn("faas-queue-read", reader())
    loops.problems()  # {"faas-queue-read": "stopped: KeyError: 'id'"} once it has died
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from typing import Any

log = logging.getLogger(__name__)


class Supervisor:
    def __init__(self) -> None:
        self._stopped: dict[str, str] = {}

    def spawn(self, name: str, loop: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run `loop` as a task named `name`; spawning a name again clears its problem."""
        self._stopped.pop(name, None)
        # The coroutine is the task itself (not awaited by a wrapper), so a task cancelled
        # before it first runs leaves no never-awaited coroutine behind.
        task = asyncio.create_task(loop, name=name)
        task.add_done_callback(lambda done: self._ended(name, done))
        return task

    def problems(self) -> dict[str, str]:
        """Loops that stopped on their own: name -> what stopped them."""
        return dict(self._stopped)

    def _ended(self, name: str, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("background loop %s stopped", name, exc_info=exc)
            self._stopped[name] = f"stopped: {type(exc).__name__}: {exc}"[:300]


async def cancel_and_wait(tasks: Iterable[asyncio.Future[Any]], recancel: float = 0.1) -> None:
    """Cancel `tasks` and return once every one has ended (whatever it raised).

    Cancelled again every `recancel` seconds until they end: on Python 3.11 a cancel that lands
    just as an awaited call completes is lost inside asyncio.wait_for and timeouts (CPython
    gh-86296), and a `while True` loop then runs on: a gateway's shutdown hung on it in CI."""
    tasks = list(tasks)
    while pending := [task for task in tasks if not task.done()]:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=recancel)
    await asyncio.gather(*tasks, return_exceptions=True)


def where_tasks_wait() -> str:
    """Every task and the chain of calls it is suspended in: for a step that hangs."""
    lines = []
    for task in asyncio.all_tasks():
        chain: list[str] = []
        coro: Any = task.get_coro()
        while coro is not None:
            frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
            if frame is None:
                break
            chain.append(f"{frame.f_code.co_name}:{frame.f_lineno}")
            coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
        lines.append(f"{task.get_name()}: {' -> '.join(chain) or 'not started'}")
    return "\n".join(sorted(lines))

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
from collections.abc import Coroutine
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

"""The worker threads that run calls when concurrency > 1, so that the loop thread keeps
reading, writing and answering health checks while calls run.

Imported only then (most functions run with concurrency 1). A worker takes (connection,
request) jobs, runs the call and leaves the response in `done`, then wakes the loop, which
writes it: only the loop thread touches sockets.
"""

from __future__ import annotations

import queue
import threading
from collections import deque

from .codec import error_response, http_response
from .loading import describe

TYPE_CHECKING = False  # avoids importing typing at runtime; mypy treats the name as True
if TYPE_CHECKING:
    from collections.abc import Callable

    from .codec import Request
    from .loop import Conn


class CallPool:
    """`size` daemon threads running `respond(request)`; `wake()` tells the loop one is done."""

    def __init__(
        self, size: int, respond: Callable[[Request], bytes], wake: Callable[[], None]
    ) -> None:
        self.jobs: queue.SimpleQueue[tuple[Conn, Request] | None] = queue.SimpleQueue()
        self.done: deque[tuple[Conn, Request, bytes]] = deque()
        self._respond = respond
        self._wake = wake
        self._workers: list[threading.Thread] = []
        for n in range(size):
            worker = threading.Thread(target=self._work, name=f"faas-call-{n}")
            worker.daemon = True
            worker.start()
            self._workers.append(worker)

    def stop(self) -> None:
        """Let each worker finish its current call, then end."""
        for _ in self._workers:
            self.jobs.put(None)

    def join(self, timeout: float) -> None:
        for worker in self._workers:
            worker.join(timeout)

    def _work(self) -> None:
        while (job := self.jobs.get()) is not None:
            conn, request = job
            try:
                response = self._respond(request)
            except Exception as exc:  # a bug here must not kill the worker
                body = error_response(500, "internal", describe(exc))
                response = http_response(*body, keep_alive=False)
                request.keep_alive = False
            self.done.append((conn, request, response))
            self._wake()

"""Slow clients cannot hold the gateway's connections: a request head (request line and
headers) must arrive within FAAS_HEADER_TIMEOUT, and the number of connections is capped.

uvicorn bounds idle keep-alive connections but not a head that arrives one byte a second
(slowloris), nor a connection that sends nothing at all. `HeadTimeoutProtocol` is uvicorn's
httptools protocol with one timer per connection, ticking about once a second: a connection
whose current head (or first request) has been in progress for the timeout is closed. The
call path only counts heads begun and completed (two integer increments per request).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_TICK = 1.0  # seconds between checks: a slow head is closed within [timeout, timeout + tick]


class HeadTimeoutProtocol(HttpToolsProtocol):
    """Closes a connection whose request head is not complete within `head_timeout`."""

    head_timeout = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._heads_begun = 0
        self._heads_done = 0
        self._watched: tuple[int, float] | None = None  # (head number, first seen in progress)
        self._tick: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # Waiting for the first request counts as a head in progress from the start.
        self._watched = (0, self.loop.time())
        self._tick = self.loop.call_later(self._interval(), self._check)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        self._heads_begun += 1
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._heads_done = self._heads_begun
        super().on_headers_complete()

    def _interval(self) -> float:
        return min(_TICK, self.head_timeout)

    def _check(self) -> None:
        self._tick = None
        if self.transport.is_closing():
            return
        now = self.loop.time()
        waiting_first = self._heads_begun == 0
        if waiting_first or self._heads_done < self._heads_begun:
            head = self._heads_begun
            if self._watched is None or self._watched[0] != head:
                self._watched = (head, now)
            elif now - self._watched[1] >= self.head_timeout:
                self.transport.close()  # no response: the client never finished asking
                return
        else:
            self._watched = None
        self._tick = self.loop.call_later(self._interval(), self._check)


def head_timeout_protocol(timeout: float) -> type[HeadTimeoutProtocol]:
    """The protocol class for uvicorn's `http=`, with this gateway's timeout."""
    return type("HeadTimeoutProtocol", (HeadTimeoutProtocol,), {"head_timeout": timeout})

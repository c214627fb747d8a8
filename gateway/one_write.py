"""A response's head and body in one write to the client, not two.

uvicorn writes the head when the app sends `http.response.start` and the body on
`http.response.body`: two send() calls, two TCP segments, and a client that wakes for the head
and again for the body. The gateway answers a call with both messages in one step (`gateway.
asgi.respond`), so `OneWrite` holds the head until the body's write joins it. A body that does
not follow in the same step (a stream's first chunk may take a while) does not wait: the head
goes out on the event loop's next iteration.
"""

from __future__ import annotations

import asyncio
from typing import Any


class OneWrite:
    """A request's view of the connection's transport (uvicorn's RequestResponseCycle uses
    write, close and is_closing)."""

    __slots__ = ("_done", "_head", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head: bytes | None = None
        self._done = False  # the head went out: writes pass through

    def write(self, data: bytes) -> None:
        if self._done:
            self._transport.write(data)
        elif self._head is not None:
            head, self._head, self._done = self._head, None, True
            self._transport.write(head + data)
        elif data.startswith(b"HTTP/1.1 1"):  # 100 Continue: the client waits for it
            self._transport.write(data)
        else:
            self._head = data
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        if self._head is not None:
            head, self._head, self._done = self._head, None, True
            self._transport.write(head)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

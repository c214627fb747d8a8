"""Gateway → runtime HTTP over keep-alive connections (Unix socket, or TCP as a fallback).

Hand-written on purpose: this is the warm-call hot path. Measured here at 32 connections, a raw
asyncio keep-alive pool gave 0.51x of direct throughput, aiohttp 0.24x and httpx 0.02x
(shared/reference/perf_anchors.md §2.4); an asyncio.Protocol skips the StreamReader layer on
top of that. Both ends are ours: the runtime always answers with a Content-Length and never
chunks, so the response parser only needs that subset of HTTP/1.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from faas.errors import FunctionCrashed, ResponseTooLarge

_MAX_HEAD = 64 * 1024
_MAX_IDLE_CONNECTIONS = 64


@dataclass(frozen=True)
class Address:
    """Where a runtime listens: a Unix socket path, or host and port."""

    path: str | None = None
    host: str = ""
    port: int = 0

    def __str__(self) -> str:
        return f"unix:{self.path}" if self.path else f"{self.host}:{self.port}"


@dataclass
class Response:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class DeliveryFailed(FunctionCrashed):
    """A call got no answer over its connection; the subclass says whether it was delivered."""


class ConnectionLost(DeliveryFailed):
    """The runtime closed the connection or reset it before answering: maybe delivered."""


class ConnectFailed(DeliveryFailed):
    """Nothing accepted the connection: the request was never delivered (safe to retry)."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self, max_body: int | None = None) -> None:
        self.max_body = max_body  # a larger answer fails with ResponseTooLarge, unread
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.received_any = False
        self._buffer = bytearray()
        self._waiter: asyncio.Future[Response] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._head: tuple[int, list[tuple[bytes, bytes]], int] | None = None

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's do not subclass it

    def data_received(self, data: bytes) -> None:
        self.received_any = True
        self._buffer += data
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        try:
            response = self._parse()
        except ValueError as exc:
            self._fail(ConnectionLost(f"the function sent a malformed response: {exc}"))
            return
        except ResponseTooLarge as exc:
            self._fail(exc)
            self.close()  # the rest of the body is never read
            return
        if response is not None:
            self._waiter = None
            self._stop_timer()
            waiter.set_result(response)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(ConnectionLost("the function closed the connection before answering"))

    # -- use --------------------------------------------------------------------------------

    def exchange(self, request: bytes, timeout: float | None = None) -> asyncio.Future[Response]:
        """Send `request`; the future fails with TimeoutError after `timeout` seconds.

        One timer handle on the future: `asyncio.timeout()` around the await cost ~3% of the
        gateway's event loop per warm call (its context object and task cancellation).
        """
        assert self.transport is not None and self._waiter is None
        loop = asyncio.get_running_loop()
        self.received_any = False
        self._waiter = loop.create_future()
        if timeout is not None:
            self._timer = loop.call_later(timeout, self._expire)
        self.transport.write(request)
        return self._waiter

    def _expire(self) -> None:
        self._timer = None
        self._fail(TimeoutError())
        self.close()  # a late answer would arrive on a connection nobody waits on

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, error: Exception) -> None:
        self._stop_timer()
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def _parse(self) -> Response | None:
        if self._head is None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > _MAX_HEAD:
                    raise ValueError("response head too large")
                return None
            lines = bytes(self._buffer[:end]).split(b"\r\n")
            del self._buffer[: end + 4]
            status = int(lines[0].split(b" ", 2)[1])
            headers: list[tuple[bytes, bytes]] = []
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                value = value.strip()
                if name.lower() == b"content-length":
                    length = int(value)
                else:
                    headers.append((name, value))
            if self.max_body is not None and length > self.max_body:
                raise ResponseTooLarge(
                    f"the function answered with {length} bytes, more than FAAS_MAX_RESPONSE "
                    f"({self.max_body}): return less (or a link to it), or raise the setting"
                )
            self._head = (status, headers, length)
        status, headers, length = self._head
        if len(self._buffer) < length:
            return None
        body = bytes(self._buffer[:length])
        del self._buffer[:length]
        self._head = None
        return Response(status, headers, body)


ConnectionFactory = Callable[[int | None], _Connection]


async def _connect(
    address: Address, max_body: int | None = None, factory: ConnectionFactory = _Connection
) -> _Connection:
    loop = asyncio.get_running_loop()
    if address.path:
        _, conn = await loop.create_unix_connection(lambda: factory(max_body), address.path)
    else:
        _, conn = await loop.create_connection(
            lambda: factory(max_body), address.host, address.port
        )
        sock = conn.transport.get_extra_info("socket") if conn.transport else None
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


class Channel:
    """A pool of keep-alive connections to one runtime instance."""

    def __init__(
        self,
        address: Address,
        max_body: int | None = None,
        factory: ConnectionFactory = _Connection,  # another HTTP subset (faas.contracts.http_image)
    ) -> None:
        self.address = address
        self.max_body = max_body  # of a response: larger ones fail with ResponseTooLarge
        self._factory = factory
        self._idle: deque[_Connection] = deque()
        self._closed = False

    async def request(self, request: bytes, timeout: float | None = None) -> Response:
        """Send one full request (head and body) and read the response.

        A pooled connection the runtime has closed in the meantime fails before any response
        byte arrives; that attempt is retried on another one. When nothing accepts a fresh
        connection the request was never delivered: ConnectFailed.
        """
        sent = False  # on a pooled connection that then broke: it may have been delivered
        while self._idle:
            conn = self._idle.pop()
            if conn.closed:  # the runtime closed it (or died) while it sat idle
                continue
            try:
                response = await conn.exchange(request, timeout)
            except ConnectionLost:
                if conn.received_any:
                    raise
                sent = True
                continue  # nothing came back: try the next one, then a fresh one
            except BaseException:
                conn.close()  # cancelled or timed out mid-call: the stream is in an unknown state
                raise
            self._release(conn)
            return response
        try:
            conn = await _connect(self.address, self.max_body, self._factory)
        except OSError as exc:
            if sent:  # the runtime is gone, but it may have died running this very request
                raise ConnectionLost("the function closed the connection before answering") from exc
            raise ConnectFailed(f"cannot connect to the function at {self.address}: {exc}") from exc
        try:
            response = await conn.exchange(request, timeout)
        except BaseException:
            conn.close()
            raise
        self._release(conn)
        return response

    def _release(self, conn: _Connection) -> None:
        if self._closed or conn.closed or len(self._idle) >= _MAX_IDLE_CONNECTIONS:
            conn.close()
        else:
            self._idle.append(conn)

    def close(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().close()


async def probe(address: Address) -> bool:
    """True once the runtime accepts connections (it binds only after loading the handler)."""
    try:
        conn = await _connect(address)
    except OSError:
        return False
    conn.close()
    with contextlib.suppress(Exception):
        await asyncio.sleep(0)
    return True

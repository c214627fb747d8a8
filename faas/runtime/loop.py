"""The server loop: one selectors loop owns every connection; requests are framed by `codec`.

Connections are keep-alive and may be pipelined: a connection's requests are served one at a
time, in order. Every response goes out in one socket write (separate header and body writes
hit a 40 ms Nagle/delayed-ACK stall over TCP). A refused request gets its error, then the
connection lingers (reading and dropping what the client still sends) and closes.

Concurrency: with concurrency 1 a call runs inline on the loop thread (fastest; a health check
then waits behind a running call); otherwise a pool of that many threads runs calls and the
loop keeps answering. What a request means is the subclass's business (`server.Server`):
`_dispatch` routes it, `_respond_call` runs a call (on the loop or a pool thread).
"""

from __future__ import annotations

import os
import selectors
import socket
import sys
import threading
import time

from .codec import HttpError, Request, error_response, http_response, take_head

TYPE_CHECKING = False  # avoids importing typing at runtime; mypy treats the name as True
if TYPE_CHECKING:
    from .pool import CallPool

_RECV_SIZE = 64 * 1024  # under glibc's mmap threshold: no mmap/munmap per read
_KEEP, _CLOSE, _LINGER = 0, 1, 2  # what to do with a connection after its response
_ACCEPT, _WAKE = "accept", "wake"  # selector data for the listening and wake-up sockets


class Conn:
    """One client connection and where it stands: buffered input, a response being written."""

    __slots__ = ("after", "buf", "busy", "closed", "drop", "events", "out", "request", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.request: Request | None = None  # head parsed, body still arriving
        self.out: memoryview | None = None  # unsent rest of a response
        self.busy = False  # a pool thread is running this connection's call
        self.after = _KEEP
        self.drop = -1  # >= 0 once refused: how many more bytes to read and discard
        self.events = 0  # what the selector watches for
        self.closed = False


class Loop:
    """Accepts on a Unix socket (`socket_path`) or TCP (`port`; 0 picks one) and serves
    requests through `_dispatch`, which the subclass defines.

    `serve_forever()` runs the loop on the calling thread; `start()` binds and runs it on a
    daemon thread; `shutdown()` (thread- and signal-safe) makes it return; `stop()` is
    shutdown plus join. A loop serves once.
    """

    def __init__(
        self,
        *,
        socket_path: str | None,
        port: int | None,
        host: str,
        concurrency: int,
        max_body: int,
        max_header: int,
    ) -> None:
        if (socket_path is None) == (port is None):
            raise ValueError("give exactly one of socket_path and port")
        self.socket_path = socket_path
        self.port = port
        self.host = host
        self.concurrency = max(1, concurrency)
        self.max_body = max_body
        self.max_header = max_header
        self._selector = selectors.DefaultSelector()
        self._listener: socket.socket | None = None
        self._listening = False
        self._conns: set[Conn] = set()
        self._stopping = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._pool: CallPool | None = None  # with concurrency > 1
        self._thread: threading.Thread | None = None

    # What the subclass defines

    def _dispatch(self, conn: Conn, request: Request) -> None:
        """Answer a complete request: `_reply` now, or hand a call to `_pool`."""
        raise NotImplementedError

    def _respond_call(self, request: Request) -> bytes:
        """Run a call and return its encoded response (on a pool thread with concurrency > 1)."""
        raise NotImplementedError

    def _body_limit(self, request: Request) -> int:
        """The largest body accepted for this request."""
        return self.max_body

    # Lifecycle

    def bind(self, listen: bool = True) -> None:
        """Create the listening socket; from here on connections are queued by the kernel.
        With `listen` False the socket (file) exists but refuses connections until `listen()`.
        """
        if self.socket_path is not None:
            _unlink(self.socket_path)  # left over by a previous container
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            # 0666 from the start (the gateway may run as another user): a chmod after bind
            # could find the folder already closed by the gateway (faas.runtime.confine).
            previous = os.umask(0o111)
            try:
                listener.bind(self.socket_path)
            finally:
                os.umask(previous)
        else:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self.port or 0))
        listener.setblocking(False)
        self._listener = listener
        if listen:
            self.listen()

    def listen(self) -> None:
        """Start accepting connections on the bound socket (idempotent)."""
        assert self._listener is not None
        if not self._listening:
            self._listener.listen(socket.SOMAXCONN)
            self._listening = True

    @property
    def address(self) -> str | tuple[str, int]:
        """The socket path, or the bound (host, port)."""
        if self._listener is None:
            raise RuntimeError("not bound yet")
        if self.socket_path is not None:
            return self.socket_path
        host, port = self._listener.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> threading.Thread:
        """Bind (if not yet) and serve on a daemon thread; returns once connections queue."""
        if self._listener is None:
            self.bind()
        self.listen()
        self._thread = threading.Thread(target=self.serve_forever, name="faas-runtime", daemon=True)
        self._thread.start()
        return self._thread

    def shutdown(self) -> None:
        """Ask the loop to stop after the current step; safe from any thread or signal handler."""
        self._stopping = True
        self._wake()

    def stop(self, timeout: float = 5.0) -> None:
        self.shutdown()
        if self._thread is not None:
            self._thread.join(timeout)

    def serve_forever(self) -> None:
        if self._listener is None:
            self.bind()
        self.listen()
        assert self._listener is not None
        self._selector.register(self._listener, selectors.EVENT_READ, _ACCEPT)
        self._selector.register(self._wake_r, selectors.EVENT_READ, _WAKE)
        if self.concurrency > 1:
            self._start_pool()
        try:
            while not self._stopping:
                for key, mask in self._selector.select():
                    if key.data is _ACCEPT:
                        self._accept()
                    elif key.data is _WAKE:
                        self._finish_calls()
                    else:
                        self._on_event(key.data, mask)
        finally:
            self._close_all()

    def _close_all(self) -> None:
        if self._pool is not None:
            self._pool.stop()
        for conn in list(self._conns):
            self._close(conn)
        if self._listener is not None:
            self._listener.close()
            if self.socket_path is not None:
                _unlink(self.socket_path)
        self._selector.close()
        if self._pool is not None:
            self._pool.join(1.0)  # a call still running is abandoned (the threads are daemons)
        self._wake_r.close()
        self._wake_w.close()

    # Connections

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. out of file descriptors: keep serving the others
                print(f"faas runtime: accept failed: {exc}", file=sys.stderr)
                return
            sock.setblocking(False)
            if sock.family != socket.AF_UNIX:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Conn(sock)
            self._conns.add(conn)
            self._watch(conn, selectors.EVENT_READ)

    def _watch(self, conn: Conn, events: int) -> None:
        if events == conn.events or conn.closed:
            return
        if conn.events == 0:
            self._selector.register(conn.sock, events, conn)
        elif events == 0:
            self._selector.unregister(conn.sock)
        else:
            self._selector.modify(conn.sock, events, conn)
        conn.events = events

    def _close(self, conn: Conn) -> None:
        if conn.closed:
            return
        self._watch(conn, 0)
        conn.closed = True
        self._conns.discard(conn)
        conn.sock.close()

    def _on_event(self, conn: Conn, mask: int) -> None:
        if conn.closed:  # closed while handling an earlier event of the same batch
            return
        if mask & selectors.EVENT_WRITE:
            self._send_rest(conn)
        elif mask & selectors.EVENT_READ:
            self._receive(conn)

    def _receive(self, conn: Conn) -> None:
        try:
            data = conn.sock.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(conn)
        elif conn.drop >= 0:
            conn.drop -= len(data)
            if conn.drop < 0:  # all it announced (and then some) is read: no reset on close
                self._close(conn)
        else:
            conn.buf += data
            self._advance(conn)

    def _advance(self, conn: Conn) -> None:
        """Serve the complete requests in the buffer in order, one at a time."""
        while not (conn.busy or conn.out is not None or conn.after != _KEEP or conn.closed):
            try:
                request = self._next_request(conn)
            except HttpError as err:
                # Read and drop what the client still sends (within reason) so that it gets
                # the reply rather than a connection reset while still writing.
                conn.drop = max(0, err.unread - len(conn.buf)) + self.max_header
                conn.buf.clear()
                response = error_response(err.status, err.code, err.message)
                self._send(conn, http_response(*response, keep_alive=False), _LINGER)
                break
            if request is None:
                break
            self._dispatch(conn, request)
        self._rewatch(conn)

    def _rewatch(self, conn: Conn) -> None:
        """Watch for what the connection's state waits on: writable, readable or nothing."""
        if conn.out is not None:
            self._watch(conn, selectors.EVENT_WRITE)
        elif conn.drop >= 0 or not (conn.busy or conn.after != _KEEP):
            self._watch(conn, selectors.EVENT_READ)
        else:
            self._watch(conn, 0)  # a pool thread has the call: pipelined bytes wait in the kernel

    def _next_request(self, conn: Conn) -> Request | None:
        """The next complete request in the buffer, or None until more bytes arrive."""
        buf = conn.buf
        request = conn.request
        if request is None:
            request = take_head(buf, self.max_header)
            if request is None:
                return None
            limit = self._body_limit(request)
            if request.length > limit:
                message = f"body of {request.length} bytes exceeds the {limit}-byte limit"
                raise HttpError(413, "payload_too_large", message, request.length)
            conn.request = request
        if len(buf) < request.length:
            return None
        if request.length:
            request.body = bytes(buf[: request.length])
            del buf[: request.length]
        conn.request = None
        request.received = time.perf_counter()
        return request

    # Writing

    def _reply(self, conn: Conn, request: Request, data: bytes) -> None:
        """Send a response; the connection then stays open if the request asked to keep it."""
        self._send(conn, data, _KEEP if request.keep_alive else _CLOSE)

    def _send(self, conn: Conn, data: bytes, after: int) -> None:
        conn.after = after
        try:
            sent = conn.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._close(conn)
            return
        if sent < len(data):
            conn.out = memoryview(data)[sent:]  # the caller's _rewatch waits for writable
        else:
            self._sent(conn)

    def _send_rest(self, conn: Conn) -> None:
        assert conn.out is not None
        try:
            sent = conn.sock.send(conn.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        conn.out = conn.out[sent:] if sent < len(conn.out) else None
        if conn.out is None:
            self._sent(conn)
            self._advance(conn)  # pipelined requests may be waiting in the buffer

    def _sent(self, conn: Conn) -> None:
        """A response is fully written: close or linger if that was the plan."""
        if conn.after == _CLOSE:
            self._close(conn)
        elif conn.after == _LINGER:
            try:
                conn.sock.shutdown(socket.SHUT_WR)  # the client sees EOF after the reply
            except OSError:
                self._close(conn)

    # The pool (concurrency > 1)

    def _start_pool(self) -> None:
        from .pool import CallPool  # only here: most functions run with concurrency 1

        self._pool = CallPool(self.concurrency, self._respond_call, self._wake)

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except OSError:
            return  # the pipe is full (a wake-up is already pending) or closed (stopping)

    def _finish_calls(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        if self._pool is None:
            return  # woken to stop
        done = self._pool.done
        while done:
            conn, request, response = done.popleft()
            conn.busy = False
            if not conn.closed:
                self._reply(conn, request, response)
                self._advance(conn)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return

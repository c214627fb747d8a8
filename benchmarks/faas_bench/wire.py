"""A lean blocking HTTP/1.1 client for measuring: the same code times the gateway and the
function container directly, so the difference between the two is the gateway's.

One keep-alive connection per `Connection`, over TCP (TCP_NODELAY) or a Unix socket. It
speaks the subset both ends use: responses carry Content-Length and are never chunked
(the runtime's and uvicorn's error and call responses alike). No third-party client on
the measured path: httpx costs more per call than the ~100 µs being measured.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from faas.contracts.transport import Address

_RECV = 64 * 1024


class WireError(Exception):
    """The peer closed, reset or sent something this client cannot parse."""


class _Stale(Exception):
    """The peer closed the connection before sending any byte of the response."""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes
    elapsed_ms: float  # request written → whole response read
    first_byte_ms: float  # request written → first response byte read


def address_from_url(url: str) -> Address:
    """`http://host:port` → Address; `unix:/path` → Address(path=...)."""
    if url.startswith("unix:"):
        return Address(path=url[5:])
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"expected http://HOST:PORT or unix:/PATH, got {url!r}")
    return Address(host=parts.hostname, port=parts.port or 80)


def parse_address(text: str) -> Address:
    """An instance address as the gateway describes it: `unix:/abs/path` or `host:port`."""
    if text.startswith("unix:"):
        return Address(path=text[5:])
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected unix:/PATH or HOST:PORT, got {text!r}")
    return Address(host=host, port=int(port))


def request_bytes(
    method: str,
    target: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    host: str = "faas",
) -> bytes:
    """A complete HTTP/1.1 request with Content-Length, ready to send as is."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def connect(address: Address, timeout: float = 60.0) -> socket.socket:
    if address.path:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target: str | tuple[str, int] = address.path
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        target = (address.host, address.port)
    sock.settimeout(timeout)
    try:
        sock.connect(target)
    except BaseException:
        sock.close()
        raise
    return sock


class Connection:
    """One keep-alive connection; reconnects on demand after the peer closes."""

    def __init__(self, address: Address, timeout: float = 60.0) -> None:
        self.address = address
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buf = bytearray()
        self._reused = False

    def open(self) -> None:
        if self._sock is None:
            self._sock = connect(self.address, self.timeout)
            self._buf.clear()
            self._reused = False

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def exchange(self, request: bytes) -> Reply:
        """Send one request, read its response. Opens the connection first if needed (the
        connect is not timed); a failure closes it and raises WireError.

        A kept-alive connection the server closed while idle (uvicorn does after 5 s) fails
        before any response byte: that attempt is retried once, timed afresh, on a new one.
        """
        for attempt in (1, 2):
            self.open()
            sock = self._sock
            assert sock is not None
            reused = self._reused
            try:
                reply = self._exchange(sock, request)
            except _Stale:
                self.close()
                if reused and attempt == 1:
                    continue
                raise WireError(f"{self.address}: connection closed before the response") from None
            except (OSError, ValueError, IndexError) as exc:
                self.close()
                raise WireError(f"{self.address}: {exc or exc.__class__.__name__}") from exc
            self._reused = True
            return reply
        raise AssertionError("unreachable")

    def _exchange(self, sock: socket.socket, request: bytes) -> Reply:
        buf = self._buf
        start = time.perf_counter()
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            raise _Stale from None
        first = 0.0
        while (end := buf.find(b"\r\n\r\n")) < 0:
            try:
                chunk = sock.recv(_RECV)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                if not buf:
                    raise _Stale
                raise OSError("connection closed in the response head")
            if not first:
                first = time.perf_counter()
            buf += chunk
        if not first:
            first = time.perf_counter()  # leftover bytes of a previous read (pipelining)
        lines = bytes(buf[:end]).split(b"\r\n")
        del buf[: end + 4]
        status = int(lines[0].split(b" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
        length = int(headers.get("content-length", "0"))
        while len(buf) < length:
            chunk = sock.recv(_RECV)
            if not chunk:
                raise OSError("connection closed mid-body")
            buf += chunk
        body = bytes(buf[:length])
        del buf[:length]
        done = time.perf_counter()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Reply(status, headers, body, (done - start) * 1e3, (first - start) * 1e3)


def call_once(address: Address, request: bytes, timeout: float = 60.0) -> Reply:
    """A fresh connection for one request; the connect is inside the timing."""
    start = time.perf_counter()
    with Connection(address, timeout) as conn:
        conn.open()
        connected = (time.perf_counter() - start) * 1e3
        reply = conn.exchange(request)
    total = (time.perf_counter() - start) * 1e3
    return Reply(reply.status, reply.headers, reply.body, total, connected + reply.first_byte_ms)

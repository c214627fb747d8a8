"""The HTTP-image contract: any image serving HTTP on a port (OpenFaaS watchdog convention).

The instance joins the functions' network and is reached at its address there on the
function's `port` (8080 by default). It is ready once `GET /_/health` answers 200 or, for an
image without that route (404), once anything answers HTTP on the port. A call is forwarded as
plain HTTP/1.1 (the path after the function's name, hop-by-hop and `x-faas-*` headers stripped)
over keep-alive connections (`transport.Channel`, as the native runtime's warm path).

Unlike faas's own runtime, an arbitrary server may chunk its answer, omit Content-Length and
close the connection to end the body (HTTP/1.0, Python's http.server), or ask to close:
`HttpConnection` reads those too, and never pools a connection the server means to close.
"""

from __future__ import annotations

import asyncio

from faas.contracts.base import HOP_BY_HOP, CallRequest, CallResponse, Placement
from faas.contracts.transport import (
    Address,
    Channel,
    DeliveryFailed,
    Response,
    _Connection,
)
from faas.errors import ResponseTooLarge
from faas.settings import Settings

HEALTH_PATH = b"/_/health"
READY_CHECK_TIMEOUT = 1.0
_NOT_FORWARDED = HOP_BY_HOP | {b"expect"}  # no 100-continue dance across the hop
_NO_BODY = frozenset({204, 304})


class HttpImageContract:
    """Places HTTP images on the functions' network; ready per `/_/health` or the port."""

    def __init__(self, settings: Settings, port: int) -> None:
        self._network = settings.function_network
        self._max_response = settings.max_response
        self.port = port

    def place(self, token: str, wants_network: bool) -> Placement:
        # Reached over the network, so it joins it whatever `network:` says (as FAAS_TRANSPORT=tcp).
        return Placement(network=self._network, environment={}, over_network=True)

    async def ready(self, placement: Placement, host: str) -> bool:
        channel = Channel(Address(host=host, port=self.port), None, HttpConnection)
        head = b"GET " + HEALTH_PATH + b" HTTP/1.1\r\nhost: " + host.encode() + b"\r\n"
        try:
            response = await channel.request(
                head + b"connection: close\r\n\r\n", READY_CHECK_TIMEOUT
            )
        except (OSError, DeliveryFailed, TimeoutError, ResponseTooLarge):
            return False
        finally:
            channel.close()
        return response.status == 200 or response.status == 404

    def endpoint(self, placement: Placement, host: str) -> HttpImageEndpoint:
        return HttpImageEndpoint(Address(host=host, port=self.port), self._max_response)

    def release(self, placement: Placement) -> None:
        """Nothing on the host to undo."""


class HttpImageEndpoint:
    """A running HTTP image: a keep-alive channel to its port."""

    def __init__(self, address: Address, max_response: int | None = None) -> None:
        self.address = address
        self.channel = Channel(address, max_response, HttpConnection)
        self._host = f"host: {address.host}:{address.port}".encode()

    def __str__(self) -> str:
        return str(self.address)

    async def call(self, request: CallRequest, call_id: str, timeout: float) -> CallResponse:
        response = await self.channel.request(self.encode(request, call_id), timeout)
        headers = [(k, v) for k, v in response.headers if k.lower() not in HOP_BY_HOP]
        return CallResponse(response.status, headers, response.body)

    def encode(self, request: CallRequest, call_id: str) -> bytes:
        target = request.target or b"/"
        if request.query:
            target += b"?" + request.query
        lines = [f"{request.method} ".encode() + target + b" HTTP/1.1", self._host]
        for name, value in request.headers:
            lower = name.lower()
            if lower in _NOT_FORWARDED or lower.startswith(b"x-faas-") or lower == b"x-call-id":
                continue
            lines.append(name + b": " + value)
        lines.append(b"x-call-id: " + call_id.encode())
        lines.append(b"content-length: " + str(len(request.body)).encode())
        return b"\r\n".join(lines) + b"\r\n\r\n" + request.body

    def close(self) -> None:
        self.channel.close()


class HttpConnection(_Connection):
    """A keep-alive connection to any HTTP/1.x server: Content-Length, chunked, or until close."""

    def __init__(self, max_body: int | None = None) -> None:
        super().__init__(max_body)
        self._head_only = False
        self._meta: tuple[int, list[tuple[bytes, bytes]], str, int] | None = None

    def exchange(self, request: bytes, timeout: float | None = None) -> asyncio.Future[Response]:
        self._head_only = request.startswith(b"HEAD ")
        self._meta = None
        return super().exchange(request, timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        waiter = self._waiter
        if self._meta is not None and self._meta[2] == "close" and waiter and not waiter.done():
            status, headers, _, _ = self._meta  # the close ends the body: a whole answer
            self._waiter, self._meta = None, None
            self._stop_timer()
            self.closed = True
            waiter.set_result(Response(status, headers, bytes(self._buffer)))
            return
        super().connection_lost(exc)

    def _parse(self) -> Response | None:
        if self._meta is None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > 64 * 1024:
                    raise ValueError("response head too large")
                return None
            lines = bytes(self._buffer[:end]).split(b"\r\n")
            del self._buffer[: end + 4]
            self._meta = self._read_head(lines)
            if 100 <= self._meta[0] < 200:  # an interim answer: the real one follows
                self._meta = None
                return self._parse()
        status, headers, mode, length = self._meta
        if mode == "length":
            if len(self._buffer) < length:
                return None
            body = bytes(self._buffer[:length])
            del self._buffer[:length]
        elif mode == "chunked":
            decoded = self._dechunk()
            if decoded is None:
                return None
            body = decoded
        else:  # until close: connection_lost completes it
            self._check_size(len(self._buffer))
            return None
        self._meta = None
        return Response(status, headers, body)

    def _read_head(self, lines: list[bytes]) -> tuple[int, list[tuple[bytes, bytes]], str, int]:
        version, _, rest = lines[0].partition(b" ")
        status = int(rest.split(b" ", 1)[0])
        headers: list[tuple[bytes, bytes]] = []
        length: int | None = None
        chunked = False
        connection = b""
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            lower, value = name.lower(), value.strip()
            if lower == b"content-length":
                length = int(value)
                continue
            if lower == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif lower == b"connection":
                connection = value.lower()
            headers.append((name, value))
        if connection == b"close" or (version == b"HTTP/1.0" and connection != b"keep-alive"):
            self.closed = True  # the server ends this connection: never pooled again
        if self._head_only or status in _NO_BODY or 100 <= status < 200:
            return status, headers, "length", 0
        if chunked:
            return status, headers, "chunked", 0
        if length is None:
            self.closed = True
            return status, headers, "close", 0
        self._check_size(length)
        return status, headers, "length", length

    def _dechunk(self) -> bytes | None:
        """The whole chunked body once it has arrived (trailers dropped), else None."""
        body = bytearray()
        at = 0
        buffer = self._buffer
        while True:
            end = buffer.find(b"\r\n", at)
            if end < 0:
                return None
            size = int(bytes(buffer[at:end]).split(b";", 1)[0], 16)
            at = end + 2
            if size == 0:
                trailer_end = buffer.find(b"\r\n\r\n", at - 2)
                if trailer_end < 0:
                    return None
                del buffer[: trailer_end + 4]
                return bytes(body)
            if len(buffer) < at + size + 2:
                return None
            body += buffer[at : at + size]
            self._check_size(len(body))
            at += size + 2

    def _check_size(self, size: int) -> None:
        if self.max_body is not None and size > self.max_body:
            raise ResponseTooLarge(
                f"the function answered with more than FAAS_MAX_RESPONSE ({self.max_body}) "
                "bytes: return less (or a link to it), or raise the setting"
            )

"""The HTTP/1.1 subset the runtime speaks: parse a request head, decode a call's target and
query, encode a whole response (head and body in one bytes object), and the JSON error body.

Pure functions and small classes, no I/O: the server loop (`loop.py`) feeds bytes in and writes
what comes out. The gateway is the only client; see the package docstring for the protocol.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False  # avoids importing typing at runtime; mypy treats the name as True
if TYPE_CHECKING:
    HeaderList = list[tuple[str, str]]

JSON = "application/json"
DEFAULT_MAX_BODY = 6 * 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024
HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    301: "Moved Permanently",
    302: "Found",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class HttpError(Exception):
    """A request the runtime refuses; answered with an error and the connection closed.

    `unread` counts body bytes the client announced that will not be read.
    """

    def __init__(self, status: int, code: str, message: str, unread: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.unread = unread


class Request:
    """A parsed request; `headers` keys are lower-case and `body` is filled in once read."""

    __slots__ = (
        "body",
        "headers",
        "keep_alive",
        "length",
        "method",
        "number",
        "received",
        "target",
    )

    def __init__(
        self, method: str, target: bytes, headers: dict[str, str], length: int, keep_alive: bool
    ) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.length = length
        self.keep_alive = keep_alive
        self.body = b""
        self.received = 0.0  # when the whole request was in: remaining_ms counts from here
        self.number = 0  # calls: 1 for the container's first


def parse_head(head: bytes) -> Request:
    """Parse a request line and headers (without the blank line); raises HttpError."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[1].startswith(b"/"):
        raise HttpError(400, "bad_request", "malformed request line")
    method, target, version = parts
    if version not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise HttpError(400, "bad_request", "only HTTP/1.0 and HTTP/1.1 are supported")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name[-1:] in (b" ", b"\t"):
            raise HttpError(400, "bad_request", "malformed header line")
        key = name.decode("latin-1").lower()
        text = value.strip(b" \t").decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    if "transfer-encoding" in headers:
        message = "Transfer-Encoding is not supported; send Content-Length"
        raise HttpError(501, "not_implemented", message)
    length_text = headers.get("content-length", "0")
    if not (length_text.isascii() and length_text.isdigit()):
        raise HttpError(400, "bad_request", f"invalid Content-Length {length_text!r}")
    connection = headers.get("connection", "").lower()
    # HTTP/1.1 connections persist unless closed; HTTP/1.0 ones only if asked to.
    keep_alive = "close" not in connection if version == b"HTTP/1.1" else "keep-alive" in connection
    return Request(method.decode("latin-1"), target, headers, int(length_text), keep_alive)


def take_head(buf: bytearray, max_header: int) -> Request | None:
    """Parse and remove the next request head from `buf`, or None until all of it is there."""
    while buf.startswith(b"\r\n"):  # stray CRLF between requests, allowed by RFC 9112
        del buf[:2]
    end = buf.find(b"\r\n\r\n", 0, max_header + 4)
    if end < 0:
        if len(buf) > max_header:
            limit = max_header // 1024
            raise HttpError(431, "header_too_large", f"request head over {limit} KiB")
        return None
    request = parse_head(bytes(buf[:end]))
    del buf[: end + 4]
    return request


_HEXDIGITS = b"0123456789ABCDEFabcdef"
_HEXBYTE = {bytes((a, b)): bytes.fromhex(chr(a) + chr(b)) for a in _HEXDIGITS for b in _HEXDIGITS}


def unquote(raw: bytes, plus: bool = False) -> str:
    """Percent-decode (and with `plus`, turn + into space) to str; bad UTF-8 becomes U+FFFD."""
    if plus:
        raw = raw.replace(b"+", b" ")
    if b"%" in raw:
        first, *chunks = raw.split(b"%")
        parts = [first]
        for chunk in chunks:
            byte = _HEXBYTE.get(chunk[:2])
            parts.append(byte + chunk[2:] if byte is not None else b"%" + chunk)
        raw = b"".join(parts)
    return raw.decode("utf-8", "replace")


def parse_query(raw: bytes) -> dict[str, list[str]]:
    """`a=1&a=2&b=` → {"a": ["1", "2"], "b": [""]}; a bare `c` counts as `c=`."""
    query: dict[str, list[str]] = {}
    for pair in raw.split(b"&"):
        if pair:
            key, _, value = pair.partition(b"=")
            query.setdefault(unquote(key, plus=True), []).append(unquote(value, plus=True))
    return query


def call_target(target: bytes) -> tuple[bytes, bytes] | None:
    """(raw path, raw query) of a `/call<path>[?query]` target, or None for another target."""
    if not target.startswith(b"/call"):
        return None
    rest = target[5:]
    path, _, query = rest.partition(b"?")
    if path and not path.startswith(b"/"):
        return None  # /callfoo
    return path or b"/", query


def timeout_ms(headers: dict[str, str]) -> float | None:
    """The gateway's X-Faas-Timeout-Ms for this call, if given and a number."""
    try:
        value = float(headers["x-faas-timeout-ms"])
    except (KeyError, ValueError):
        return None
    return value if value == value else None  # NaN


def http_response(
    status: int, headers: HeaderList, body: bytes, keep_alive: bool = True, head: bool = False
) -> bytes:
    """The whole response as one bytes object, so it goes out in a single write.

    For a HEAD request (`head`) the body is dropped and Content-Length is 0, which any client,
    however simple its framing, reads correctly.
    """
    if head:
        body = b""
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, '')}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    lines.append(f"Content-Length: {len(body)}")
    if not keep_alive:
        lines.append("Connection: close")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return data + body if body else data


def error_body(code: str, message: str) -> bytes:
    """The JSON error body used for every error: {"error": {"code", "message"}}."""
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def error_response(
    status: int, code: str, message: str, extra: HeaderList | None = None
) -> tuple[int, HeaderList, bytes]:
    return status, [("Content-Type", JSON), *(extra or ())], error_body(code, message)

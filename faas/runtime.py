"""The in-container runtime: load a function's handler once, then serve calls over HTTP/1.1.

This file is copied on its own into every function image (/opt/faas/runtime.py) and run as
`python3 /opt/faas/runtime.py`, so it imports only the standard library (Python 3.11+), and
only cheap modules: it is on the hot path of every call and in the idle memory of every warm
container (no asyncio, http.server, email, urllib or typing at runtime).

Environment: FAAS_HANDLER (`module.function`), FAAS_FUNCTION_DIR, FAAS_DEPS_DIR,
FAAS_FUNCTION_NAME, FAAS_CONCURRENCY, FAAS_MAX_BODY, FAAS_GENERIC and FAAS_SOCKET (a Unix
socket path) or FAAS_PORT (TCP on 0.0.0.0; 8080 when neither is set).

The handler is loaded *before* the socket is bound, because the gateway takes "the socket
accepts connections" to mean "ready". If loading fails the runtime prints the traceback, then
one final line `{"faas_init_error": {"code": ..., "message": ...}}` on stderr and exits with
the status in INIT_EXIT_STATUS.

With FAAS_GENERIC=1 (a pre-started container) it binds at once and loads nothing until
`POST /_/load` (see Server._load); a failed load prints the same lines but answers 500.

Wire protocol (the gateway is the only client; both ends are ours), an HTTP/1.1 subset:
requests carry Content-Length (chunked bodies get 501), connections are keep-alive and may be
pipelined; `GET /_/health` reports status; `POST /_/load` loads a function (generic mode;
503 `not_loaded` for calls until then); `<METHOD> /call<path>[?query]` runs the handler.
The gateway adds `X-Call-Id` and `X-Faas-Timeout-Ms`; X-Faas-* headers are hidden from the
handler. Every response carries Content-Length and goes out in one socket write (separate
header and body writes hit a 40 ms Nagle/delayed-ACK stall over TCP); call responses carry
`X-Faas-Handler-Ms`, and `X-Faas-Function-Error` when the function is at fault. Errors are
`{"error": {"code": ..., "message": ...}}`.

Concurrency: one selectors loop serves every connection. With FAAS_CONCURRENCY=1 the handler
runs inline on the loop thread (fastest; a health check then waits behind a running call);
otherwise a pool of that many threads runs calls and the loop keeps answering health checks.

In a program:

    server = Server(handle, socket_path="/tmp/fn.sock")
    server.start()            # binds, then serves on a daemon thread
    ...
    server.stop()
"""

from __future__ import annotations

import binascii
import importlib
import io
import json
import os
import selectors
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping

TYPE_CHECKING = False  # avoids importing typing at runtime; mypy treats the name as True
if TYPE_CHECKING:
    from collections.abc import Callable
    from queue import SimpleQueue
    from typing import Any

    Handler = Callable[["Event", "Context"], Any]
    HeaderList = list[tuple[str, str]]

# Init failures: stable codes (as AWS Lambda's runtime interface client) and exit statuses.
IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
INIT_ERROR = "Runtime.InitError"
EXIT_IMPORT_MODULE_ERROR = 3
EXIT_USER_CODE_SYNTAX_ERROR = 3
EXIT_HANDLER_NOT_FOUND = 4
EXIT_INIT_ERROR = 5
INIT_EXIT_STATUS = {
    IMPORT_MODULE_ERROR: EXIT_IMPORT_MODULE_ERROR,
    USER_CODE_SYNTAX_ERROR: EXIT_USER_CODE_SYNTAX_ERROR,
    HANDLER_NOT_FOUND: EXIT_HANDLER_NOT_FOUND,
    INIT_ERROR: EXIT_INIT_ERROR,
}

DEFAULT_HANDLER = "handler.handle"
DEFAULT_FUNCTION_DIR = "/opt/faas/function"
DEFAULT_DEPS_DIR = "/opt/faas/deps"
DEFAULT_PORT = 8080
DEFAULT_MAX_BODY = 6 * 1024 * 1024
MAX_LOAD_BODY = 256 * 1024 * 1024  # a load carries a whole function's files, base64-encoded
MAX_HEADER_BYTES = 64 * 1024

_RECV_SIZE = 64 * 1024  # under glibc's mmap threshold: no mmap/munmap per read
_MAX_PENDING_LOG = 64 * 1024  # a partial log line longer than this is written out anyway
_HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
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


# --- Handler loading -------------------------------------------------------------------------


class HandlerLoadError(Exception):
    """The handler could not be loaded; `code` is one of the Runtime.* codes above."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.exit_status = INIT_EXIT_STATUS[code]


def load_handler(spec: str) -> Handler:
    """Import `module.function` (the module may be dotted) and return the callable.

    Raises HandlerLoadError; the original exception, if any, is its __cause__.
    """
    module_name, _, attr = spec.rpartition(".")
    if not module_name or not attr:
        raise HandlerLoadError(HANDLER_NOT_FOUND, f"Bad handler {spec!r}: expected module.function")
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as exc:  # before ImportError: a SyntaxError is not one
        where = f"{exc.filename}, line {exc.lineno}"
        message = f"Syntax error in module '{module_name}': {exc.msg} ({where})"
        raise HandlerLoadError(USER_CODE_SYNTAX_ERROR, message) from exc
    except ImportError as exc:
        message = f"Unable to import module '{module_name}': {exc}"
        raise HandlerLoadError(IMPORT_MODULE_ERROR, message) from exc
    except (Exception, SystemExit) as exc:
        raise HandlerLoadError(INIT_ERROR, _describe(exc)) from exc
    handler = getattr(module, attr, None)
    if handler is None:
        raise HandlerLoadError(
            HANDLER_NOT_FOUND, f"Handler '{attr}' missing on module '{module_name}'"
        )
    if not callable(handler):
        kind = type(handler).__name__
        message = f"Handler '{attr}' on module '{module_name}' is not callable (it is a {kind})"
        raise HandlerLoadError(HANDLER_NOT_FOUND, message)
    return handler  # type: ignore[no-any-return]


def _describe(exc: BaseException) -> str:
    """`ValueError: bad thing`, or just the type's name when the exception has no text."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def parse_load(body: bytes) -> tuple[str, str, int, dict[str, str], Any]:
    """(function, handler, concurrency, env, files) of a /_/load body; raises ValueError."""
    try:
        spec = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"body is not JSON: {exc}") from None
    if not isinstance(spec, dict):
        raise ValueError("body must be a JSON object")
    name, handler, env = spec.get("function"), spec.get("handler"), spec.get("env", {})
    concurrency = spec.get("concurrency", 1)
    if not (isinstance(name, str) and name and isinstance(handler, str) and handler):
        raise ValueError("function and handler must be non-empty strings")
    if type(concurrency) is not int or concurrency < 1:
        raise ValueError("concurrency must be an int >= 1")
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k and "=" not in k and "\0" not in k + v
        for k, v in env.items()
    ):
        raise ValueError("env must map variable names to strings")
    return name, handler, concurrency, env, spec.get("files", [])


def install_files(function_dir: str, files: Any) -> None:
    """Write a load's files ({path, mode, mtime, data}) under function_dir, keeping modes and
    mtimes so the .pyc files compiled in the function's image stay valid. All are checked
    before any is written: ValueError for a bad entry or unsafe path, OSError if writing fails.
    """
    if not isinstance(files, list):
        raise ValueError("files must be a list")
    root = os.path.join(os.path.abspath(function_dir), "")
    checked = []
    for entry in files:
        fields: Any = entry if isinstance(entry, dict) else {}
        path, mode, mtime, data = (fields.get(k) for k in ("path", "mode", "mtime", "data"))
        target = os.path.normpath(root + path) if isinstance(path, str) else ""
        # The prefix test alone would take /etc/x as root/etc/x, and a/../b inside too.
        if not target.startswith(root) or path[0] == "/" or "\0" in path or ".." in path.split("/"):
            raise ValueError(f"unsafe file path {path!r}")
        if type(mode) is not int or type(mtime) not in (int, float) or not 0 <= mtime < 1e12:
            raise ValueError(f"file {path!r} needs an int mode and a numeric mtime")
        try:
            content = binascii.a2b_base64(data, strict_mode=True)
        except (ValueError, TypeError):
            raise ValueError(f"file {path!r}: data must be base64") from None
        # Read-only, as in the function's image (root-owned there): no write, setuid or sticky.
        checked.append((target, mode & 0o555, mtime, content))
    folders = set()
    for target, mode, mtime, content in checked:
        folder = os.path.dirname(target)
        os.makedirs(folder, exist_ok=True)
        with open(target, "wb") as file:
            file.write(content)
        os.chmod(target, mode)
        os.utime(target, (mtime, mtime))
        while folder + os.sep != root and folder.startswith(root):
            folders.add(folder)
            folder = os.path.dirname(folder)
    for folder in folders:  # last: nothing more is written into them
        os.chmod(folder, 0o555)


# --- What the handler sees -------------------------------------------------------------------


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive request headers; iteration yields lower-case names.

    A header sent more than once appears once, its values joined with ", " (as HTTP allows).
    """

    __slots__ = ("_map",)

    def __init__(self, lowered: dict[str, str]) -> None:
        self._map = lowered  # keys already lower-case

    def __getitem__(self, name: str) -> str:
        if not isinstance(name, str):
            raise KeyError(name)
        return self._map[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def __repr__(self) -> str:
        return f"Headers({self._map!r})"


class Event:
    """One call's request: method, path, query, headers and body."""

    __slots__ = ("body", "headers", "method", "path", "query", "query_list")

    def __init__(
        self,
        method: str = "GET",
        path: str = "/",
        query_list: dict[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> None:
        self.method = method
        self.path = path
        self.query_list = query_list or {}
        # Last value wins, as in most web frameworks; query_list keeps them all.
        self.query = {key: values[-1] for key, values in self.query_list.items()}
        if headers is None or not isinstance(headers, Headers):
            headers = Headers({k.lower(): v for k, v in (headers or {}).items()})
        self.headers: Headers = headers
        self.body = body

    def json(self) -> Any:
        """The body parsed as JSON; raises ValueError if it is not valid JSON."""
        return json.loads(self.body)

    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8")

    def __repr__(self) -> str:
        return f"Event({self.method} {self.path!r}, query={self.query!r}, {len(self.body)} bytes)"


class Context:
    """Facts about the call and the container, for the handler."""

    __slots__ = ("_deadline", "call_id", "cold", "function_name", "timeout_ms")

    def __init__(
        self,
        function_name: str = "function",
        call_id: str = "",
        cold: bool = False,
        timeout_ms: float | None = None,
        received: float | None = None,
    ) -> None:
        self.function_name = function_name
        self.call_id = call_id
        self.cold = cold  # True on the first call since the handler was loaded
        self.timeout_ms = timeout_ms
        start = time.perf_counter() if received is None else received
        self._deadline = None if timeout_ms is None else start + timeout_ms / 1000.0

    def remaining_ms(self) -> float:
        """Milliseconds left before the gateway gives up on the call (inf without a timeout)."""
        if self._deadline is None:
            return float("inf")
        return max(0.0, (self._deadline - time.perf_counter()) * 1000.0)


# --- Return-value coercion -------------------------------------------------------------------

TEXT = "text/plain; charset=utf-8"
BINARY = "application/octet-stream"
JSON = "application/json"
_ALLOWED = "str, bytes, None, a JSON-serialisable value or a dict with 'statusCode'"


class BadReturn(Exception):
    """The handler returned something that cannot become an HTTP response."""


def coerce_response(value: Any) -> tuple[int, HeaderList, bytes]:
    """Turn a handler's return value into (status, headers, body).

    A bad value gives a 500 `bad_return` error response rather than raising.
    """
    try:
        if isinstance(value, dict) and "statusCode" in value:
            return _coerce_shaped(value)
        return _coerce_plain(value)
    except BadReturn as exc:
        return error_response(500, "bad_return", str(exc), [("X-Faas-Function-Error", "BadReturn")])


def _coerce_plain(value: Any) -> tuple[int, HeaderList, bytes]:
    if value is None:
        return 204, [], b""
    body, content_type = _encode_body(value)
    return 200, [("Content-Type", content_type)], body


def _encode_body(value: Any) -> tuple[bytes, str]:
    """Bytes and a default Content-Type for a body of any allowed type."""
    if isinstance(value, str):
        try:
            return value.encode("utf-8"), TEXT
        except UnicodeEncodeError as exc:
            raise BadReturn(f"handler returned a str that is not valid UTF-8 ({exc})") from None
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value), BINARY
    try:
        return json.dumps(value, separators=(",", ":")).encode(), JSON
    except (TypeError, ValueError, RecursionError) as exc:
        kind = type(value).__name__
        message = f"handler returned a {kind}, which is not JSON-serialisable ({exc}); "
        raise BadReturn(message + f"return {_ALLOWED}") from None


def _coerce_shaped(value: dict[str, Any]) -> tuple[int, HeaderList, bytes]:
    """A Lambda-style response dict: statusCode, headers, body, isBase64Encoded."""
    status = value["statusCode"]
    # 1xx is refused too: a client reads it as an interim response and waits for another.
    if type(status) is not int or not 200 <= status <= 599:
        raise BadReturn(f"statusCode must be an int from 200 to 599, got {status!r}")
    headers = _user_headers(value.get("headers"), value.get("multiValueHeaders"))
    body: Any = value.get("body")
    if status in (204, 304) or body is None:
        return status, headers, b""
    if isinstance(body, str) and value.get("isBase64Encoded"):
        try:
            data, default_type = binascii.a2b_base64(body), BINARY
        except (binascii.Error, ValueError) as exc:
            raise BadReturn(f"isBase64Encoded is true but body is not base64 ({exc})") from None
    else:
        data, default_type = _encode_body(body)
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", default_type))
    return status, headers, data


def _user_headers(single: Any, multi: Any) -> HeaderList:
    """Validated (name, value) pairs from `headers` (values may be lists) and multiValueHeaders."""
    pairs: HeaderList = []
    for field, given in (("headers", single), ("multiValueHeaders", multi)):
        if given is None:
            continue
        if not isinstance(given, dict):
            raise BadReturn(f"{field} must be a dict, got {type(given).__name__}")
        for name, values in given.items():
            for item in values if isinstance(values, list | tuple) else (values,):
                pairs.append(_header(name, item))
    return [pair for pair in pairs if pair[0].lower() not in _HOP_BY_HOP]


def _header(name: Any, value: Any) -> tuple[str, str]:
    text = value if isinstance(value, str) else str(value)
    if not isinstance(name, str) or not name or any(c in name for c in ":\r\n \t"):
        raise BadReturn(f"invalid response header name {name!r}")
    if "\r" in text or "\n" in text or (not text.isascii() and not _latin1(text)):
        raise BadReturn(f"invalid value for response header {name!r}: {text!r}")
    return name, text


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def error_body(code: str, message: str) -> bytes:
    """The JSON error body used for every error: {"error": {"code", "message"}}."""
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def error_response(
    status: int, code: str, message: str, extra: HeaderList | None = None
) -> tuple[int, HeaderList, bytes]:
    return status, [("Content-Type", JSON), *(extra or ())], error_body(code, message)


# --- Calling the handler ---------------------------------------------------------------------


def invoke(handler: Handler, event: Event, context: Context) -> tuple[int, HeaderList, bytes]:
    """Run one call on this thread and return the response, with X-Faas-Handler-Ms added.

    Output printed meanwhile is tagged with the call id; an unhandled exception becomes a 500
    `handler_error`, its traceback printed to stderr.
    """
    _call.id = context.call_id
    try:
        start = time.perf_counter()
        try:
            result = handler(event, context)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit too: a call must not end the container
            elapsed = time.perf_counter() - start
            _print_traceback(exc)
            response = error_response(
                500, "handler_error", _describe(exc), [("X-Faas-Function-Error", "Unhandled")]
            )
        else:
            elapsed = time.perf_counter() - start
            response = coerce_response(result)
        response[1].append(("X-Faas-Handler-Ms", f"{elapsed * 1000.0:.3f}"))
        return response
    finally:
        end_call_output()
        _call.id = None


def _print_traceback(exc: BaseException) -> None:
    import traceback  # only on errors: keeps it out of the idle footprint

    traceback.print_exception(exc, file=sys.stderr)


# --- Logging: every line printed during a call is tagged with its call id --------------------

_call = threading.local()  # .id: the call running on this thread, or None


def current_call_id() -> str | None:
    """The id of the call running on this thread, if any."""
    return getattr(_call, "id", None)


class TaggedWriter(io.TextIOBase):
    """A text stream for sys.stdout/sys.stderr writing lines straight to a file descriptor.

    Lines written during a call are prefixed `[<call id>] `. Partial lines are held per thread
    until their newline (or the end of the call), so concurrent calls never share a line.
    """

    encoding = "utf-8"
    errors = "backslashreplace"

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self._pending = threading.local()  # .text: this thread's unfinished line
        self._lock = threading.Lock()  # one line at a time, whole lines together

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        buffered: str = getattr(self._pending, "text", "") + text
        if "\n" not in buffered:
            if len(buffered) > _MAX_PENDING_LOG:
                buffered += "\n"
            else:
                self._pending.text = buffered
                return len(text)
        complete, _, rest = buffered.rpartition("\n")
        self._pending.text = rest
        self._emit(complete)
        return len(text)

    def flush(self) -> None:
        # Inside a call a partial line waits for its newline, so it is tagged once, whole.
        if current_call_id() is None:
            self._emit_pending(newline=False)

    def end_line(self) -> None:
        """Write out this thread's partial line, if any, ending it (called at the end of a call)."""
        self._emit_pending(newline=True)

    def _emit_pending(self, newline: bool) -> None:
        text = getattr(self._pending, "text", "")
        if text:
            self._pending.text = ""
            self._emit(text, newline)

    def _emit(self, text: str, newline: bool = True) -> None:
        call_id = current_call_id()
        if call_id is not None:
            prefix = f"[{call_id}] "
            text = prefix + text.replace("\n", "\n" + prefix)
        data = (text + "\n" if newline else text).encode("utf-8", "backslashreplace")
        with self._lock:
            try:
                while data:
                    data = data[os.write(self._fd, data) :]
            except OSError:
                pass  # a closed log pipe must not fail the call

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def writable(self) -> bool:
        return True


def end_call_output() -> None:
    """Flush this thread's partial lines on the tagged streams, before the call id goes."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, TaggedWriter):
            stream.end_line()


def install_log_tagging() -> None:
    """Replace sys.stdout and sys.stderr with unbuffered TaggedWriters on fds 1 and 2."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    sys.stdout = TaggedWriter(1)
    sys.stderr = TaggedWriter(2)


# --- HTTP parsing ----------------------------------------------------------------------------


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


def _call_target(target: bytes) -> tuple[bytes, bytes] | None:
    """(raw path, raw query) of a `/call<path>[?query]` target, or None for another target."""
    if not target.startswith(b"/call"):
        return None
    rest = target[5:]
    path, _, query = rest.partition(b"?")
    if path and not path.startswith(b"/"):
        return None  # /callfoo
    return path or b"/", query


def make_event(request: Request, raw_path: bytes, raw_query: bytes) -> Event:
    visible = {k: v for k, v in request.headers.items() if not k.startswith("x-faas-")}
    query = parse_query(raw_query) if raw_query else {}
    return Event(request.method, unquote(raw_path), query, Headers(visible), request.body)


def _timeout_ms(headers: dict[str, str]) -> float | None:
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


# --- The server ------------------------------------------------------------------------------

_KEEP, _CLOSE, _LINGER = 0, 1, 2  # what to do with a connection after its response
_ACCEPT, _WAKE = "accept", "wake"  # selector data for the listening and wake-up sockets


class _Conn:
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


class Server:
    """Serves one handler on a Unix socket (`socket_path`) or TCP (`port`; 0 picks one); with
    handler None, calls get 503 until `POST /_/load` installs one in `function_dir`.

    `serve_forever()` runs the loop on the calling thread; `start()` binds and runs it on a
    daemon thread; `shutdown()` (thread- and signal-safe) makes it return; `stop()` is
    shutdown plus join. A Server serves once.
    """

    def __init__(
        self,
        handler: Handler | None,
        *,
        socket_path: str | None = None,
        port: int | None = None,
        host: str = "0.0.0.0",
        function_name: str = "function",
        concurrency: int = 1,
        max_body: int = DEFAULT_MAX_BODY,
        max_header: int = MAX_HEADER_BYTES,
        function_dir: str = DEFAULT_FUNCTION_DIR,
    ) -> None:
        if (socket_path is None) == (port is None):
            raise ValueError("give exactly one of socket_path and port")
        self.handler = handler
        self.socket_path = socket_path
        self.port = port
        self.host = host
        self.function_name = function_name
        self.concurrency = max(1, concurrency)
        self.max_body = max_body
        self.max_header = max_header
        self.function_dir = function_dir
        self.calls = 0  # calls started; only the loop thread changes it
        self._first_call = 1  # the number of the first call since the handler was loaded
        self._selector = selectors.DefaultSelector()
        self._listener: socket.socket | None = None
        self._conns: set[_Conn] = set()
        self._stopping = False
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._done: deque[tuple[_Conn, Request, bytes]] = deque()
        self._jobs: SimpleQueue[tuple[_Conn, Request] | None] | None = None  # the pool's
        self._workers: list[threading.Thread] = []
        self._thread: threading.Thread | None = None

    # Lifecycle

    def bind(self) -> None:
        """Create the listening socket; from here on connections are queued by the kernel."""
        if self.socket_path is not None:
            _unlink(self.socket_path)  # left over by a previous container
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(self.socket_path)
            os.chmod(self.socket_path, 0o666)  # the gateway may run as another user
        else:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self.port or 0))
        listener.listen(socket.SOMAXCONN)
        listener.setblocking(False)
        self._listener = listener

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
        for _ in self._workers:
            assert self._jobs is not None
            self._jobs.put(None)
        for conn in list(self._conns):
            self._close(conn)
        if self._listener is not None:
            self._listener.close()
            if self.socket_path is not None:
                _unlink(self.socket_path)
        self._selector.close()
        for worker in self._workers:
            worker.join(1.0)  # a call still running is abandoned (the threads are daemons)
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
            conn = _Conn(sock)
            self._conns.add(conn)
            self._watch(conn, selectors.EVENT_READ)

    def _watch(self, conn: _Conn, events: int) -> None:
        if events == conn.events or conn.closed:
            return
        if conn.events == 0:
            self._selector.register(conn.sock, events, conn)
        elif events == 0:
            self._selector.unregister(conn.sock)
        else:
            self._selector.modify(conn.sock, events, conn)
        conn.events = events

    def _close(self, conn: _Conn) -> None:
        if conn.closed:
            return
        self._watch(conn, 0)
        conn.closed = True
        self._conns.discard(conn)
        conn.sock.close()

    def _on_event(self, conn: _Conn, mask: int) -> None:
        if conn.closed:  # closed while handling an earlier event of the same batch
            return
        if mask & selectors.EVENT_WRITE:
            self._send_rest(conn)
        elif mask & selectors.EVENT_READ:
            self._receive(conn)

    def _receive(self, conn: _Conn) -> None:
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

    def _advance(self, conn: _Conn) -> None:
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

    def _rewatch(self, conn: _Conn) -> None:
        """Watch for what the connection's state waits on: writable, readable or nothing."""
        if conn.out is not None:
            self._watch(conn, selectors.EVENT_WRITE)
        elif conn.drop >= 0 or not (conn.busy or conn.after != _KEEP):
            self._watch(conn, selectors.EVENT_READ)
        else:
            self._watch(conn, 0)  # a pool thread has the call: pipelined bytes wait in the kernel

    def _next_request(self, conn: _Conn) -> Request | None:
        """The next complete request in the buffer, or None until more bytes arrive."""
        buf = conn.buf
        request = conn.request
        if request is None:
            while buf.startswith(b"\r\n"):  # stray CRLF between requests, allowed by RFC 9112
                del buf[:2]
            end = buf.find(b"\r\n\r\n", 0, self.max_header + 4)
            if end < 0:
                if len(buf) > self.max_header:
                    limit = self.max_header // 1024
                    raise HttpError(431, "header_too_large", f"request head over {limit} KiB")
                return None
            request = parse_head(bytes(buf[:end]))
            del buf[: end + 4]
            load = request.target == b"/_/load"
            limit = max(self.max_body, MAX_LOAD_BODY) if load else self.max_body
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

    def _dispatch(self, conn: _Conn, request: Request) -> None:
        is_call = _call_target(request.target) is not None
        if is_call and self.handler is not None:
            self.calls += 1
            request.number = self.calls
            if self._jobs is not None:
                conn.busy = True  # reading stops until the response is out: keeps order
                self._jobs.put((conn, request))
            else:
                self._send(conn, self._respond_call(request), _after(request))
            return
        loaded = self.handler is not None
        if is_call:
            response = error_response(503, "not_loaded", "no function loaded; POST /_/load first")
        elif request.target == b"/_/health":
            if request.method in ("GET", "HEAD"):
                function = self.function_name if loaded else None
                status = dict(status="ok", loaded=loaded, function=function, calls=self.calls)
                response = 200, [("Content-Type", JSON)], json.dumps(status).encode()
            else:
                response = error_response(405, "method_not_allowed", "use GET /_/health")
        elif request.target == b"/_/load":
            if request.method != "POST":
                response = error_response(405, "method_not_allowed", "use POST /_/load")
            elif loaded:
                message = f"function {self.function_name!r} is already loaded"
                response = error_response(409, "already_loaded", message)
            else:
                response = self._load(request.body)
        else:
            message = f"no such target {request.target.decode('latin-1')!r}; use /call/..."
            response = error_response(404, "not_found", message)
        data = http_response(*response, request.keep_alive, request.method == "HEAD")
        self._send(conn, data, _after(request))

    def _respond_call(self, request: Request) -> bytes:
        """Run the handler for a call request (on this thread) and encode the response."""
        target = _call_target(request.target)
        assert target is not None
        event = make_event(request, *target)
        call_id = request.headers.get("x-call-id") or f"call-{request.number}"
        timeout = _timeout_ms(request.headers)
        cold = request.number == self._first_call
        context = Context(self.function_name, call_id, cold, timeout, request.received)
        assert self.handler is not None  # calls are dispatched only once loaded
        status, headers, body = invoke(self.handler, event, context)
        return http_response(status, headers, body, request.keep_alive, request.method == "HEAD")

    def _load(self, body: bytes) -> tuple[int, HeaderList, bytes]:
        """POST /_/load, inline: it is a generic container's first request. A bad body is a 400
        (nothing written); a failed import a 500 with its Runtime.* code (still unloaded).
        """
        start = time.perf_counter()
        try:
            name, spec, concurrency, env, files = parse_load(body)
            install_files(self.function_dir, files)
            os.chdir(self.function_dir)  # as a function image's WORKDIR
        except ValueError as exc:
            return error_response(400, "bad_request", str(exc))
        except OSError as exc:  # an error here must not end the loop
            return error_response(500, "internal", f"cannot install the function: {exc}")
        importlib.invalidate_caches()  # path finders may have cached the directory as empty
        os.environ.update(env)  # before the import: module-level code reads its settings
        os.environ.update(
            FAAS_FUNCTION_NAME=name, FAAS_HANDLER=spec, FAAS_CONCURRENCY=str(concurrency)
        )
        if sys.path[:1] != [self.function_dir]:
            sys.path.insert(0, self.function_dir)
        try:
            handler = load_handler(spec)
        except HandlerLoadError as err:
            report_init_error(err)
            return error_response(500, err.code, err.message)
        self.handler, self.function_name = handler, name
        self._first_call = self.calls + 1
        if self._jobs is None:  # a pool already running (FAAS_CONCURRENCY) is kept as it is
            self.concurrency = concurrency
            if concurrency > 1:
                self._start_pool()
        elapsed = round((time.perf_counter() - start) * 1000.0, 3)
        loaded = {"status": "loaded", "function": name, "load_ms": elapsed}
        return 200, [("Content-Type", JSON)], json.dumps(loaded).encode()

    # Writing

    def _send(self, conn: _Conn, data: bytes, after: int) -> None:
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

    def _send_rest(self, conn: _Conn) -> None:
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

    def _sent(self, conn: _Conn) -> None:
        """A response is fully written: close or linger if that was the plan."""
        if conn.after == _CLOSE:
            self._close(conn)
        elif conn.after == _LINGER:
            try:
                conn.sock.shutdown(socket.SHUT_WR)  # the client sees EOF after the reply
            except OSError:
                self._close(conn)

    # The pool (FAAS_CONCURRENCY > 1)

    def _start_pool(self) -> None:
        import queue  # only here: most functions run with concurrency 1

        jobs: SimpleQueue[tuple[_Conn, Request] | None] = queue.SimpleQueue()
        self._jobs = jobs
        for n in range(self.concurrency):
            worker = threading.Thread(target=self._work, args=(jobs,), name=f"faas-call-{n}")
            worker.daemon = True
            worker.start()
            self._workers.append(worker)

    def _work(self, jobs: SimpleQueue[tuple[_Conn, Request] | None]) -> None:
        while (job := jobs.get()) is not None:
            conn, request = job
            try:
                response = self._respond_call(request)
            except Exception as exc:  # a bug here must not kill the worker
                body = error_response(500, "internal", _describe(exc))
                response = http_response(*body, keep_alive=False)
                request.keep_alive = False
            self._done.append((conn, request, response))
            self._wake()

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
        while self._done:
            conn, request, response = self._done.popleft()
            conn.busy = False
            if not conn.closed:
                self._send(conn, response, _after(request))
                self._advance(conn)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return


def _after(request: Request) -> int:
    return _KEEP if request.keep_alive else _CLOSE


# --- Entry point -----------------------------------------------------------------------------


def serve(handler: Handler, **options: Any) -> None:
    """Serve `handler` until shutdown; options as for Server (socket_path= or port=, ...)."""
    Server(handler, **options).serve_forever()


def _env_int(name: str, default: int, minimum: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        print(f"faas runtime: ignoring {name}={text!r}, using {default}", file=sys.stderr)
        return default
    return value


def _setup_path() -> None:
    """Function code first on sys.path, then its dependencies; never the runtime's own dir."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    function_dir = os.environ.get("FAAS_FUNCTION_DIR") or DEFAULT_FUNCTION_DIR
    deps_dir = os.environ.get("FAAS_DEPS_DIR") or DEFAULT_DEPS_DIR
    sys.path.insert(0, function_dir)
    if os.path.isdir(deps_dir):
        sys.path.insert(1, deps_dir)


def report_init_error(err: HandlerLoadError) -> None:
    """Traceback, then the one JSON line the gateway looks for, on stderr."""
    if err.__cause__ is not None:
        _print_traceback(err.__cause__)
    line = json.dumps({"faas_init_error": {"code": err.code, "message": err.message}})
    sys.stderr.flush()
    print(line, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    """Run the runtime: `runtime.py [HANDLER]` (default $FAAS_HANDLER or handler.handle)."""
    args = sys.argv[1:] if argv is None else argv
    install_log_tagging()
    _setup_path()
    spec = args[0] if args else os.environ.get("FAAS_HANDLER") or DEFAULT_HANDLER
    generic = os.environ.get("FAAS_GENERIC") == "1"
    try:
        handler = None if generic else load_handler(spec)
    except HandlerLoadError as err:
        report_init_error(err)
        sys.exit(err.exit_status)
    socket_path = os.environ.get("FAAS_SOCKET") or None
    port = None if socket_path else _env_int("FAAS_PORT", DEFAULT_PORT, 0)
    server = Server(
        handler,
        socket_path=socket_path,
        port=port,
        function_name=os.environ.get("FAAS_FUNCTION_NAME") or "function",
        concurrency=_env_int("FAAS_CONCURRENCY", 1, 1),
        max_body=_env_int("FAAS_MAX_BODY", DEFAULT_MAX_BODY, 0),
        function_dir=os.environ.get("FAAS_FUNCTION_DIR") or DEFAULT_FUNCTION_DIR,
    )
    server.bind()
    import signal

    for signum in (signal.SIGTERM, signal.SIGINT):  # docker stop, ^C: finish the step, exit
        signal.signal(signum, lambda *_: server.shutdown())
    where = server.address if socket_path else "{}:{}".format(*server.address)
    what = "generic, waiting for /_/load" if generic else f"serving {spec}"
    tail = "" if generic else f" (concurrency {server.concurrency})"
    print(f"faas runtime: {what} on {where}{tail}", file=sys.stderr)
    server.serve_forever()
    sys.stdout.flush()
    sys.stderr.flush()


if __name__ == "__main__":
    main()

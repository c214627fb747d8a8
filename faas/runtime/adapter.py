"""The handler adapter: what a handler receives (`handle(event, context)`) and how what it
returns, or raises, becomes (status, headers, body).

`Event` is one call's request (method, path, query, headers, body); `Context` holds facts about
the call and the container (function name, call id, cold start, time left). `invoke` runs the
handler on the current thread with its output tagged with the call id.

A handler may return str (text/plain), bytes (application/octet-stream), None (204), any other
JSON-serialisable value (application/json) or a Lambda-style dict with `statusCode` (and
`headers`, `multiValueHeaders`, `body`, `isBase64Encoded`). Anything else is a 500 `bad_return`;
an unhandled exception a 500 `handler_error`; both marked with X-Faas-Function-Error.
"""

from __future__ import annotations

import binascii
import json
import time
from collections.abc import Iterator, Mapping

from .codec import HOP_BY_HOP, JSON, error_response
from .loading import describe, print_traceback
from .logs import current_call, end_call_output

TYPE_CHECKING = False  # avoids importing typing at runtime; mypy treats the name as True
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .codec import HeaderList

    Handler = Callable[["Event", "Context"], Any]


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


# --- Calling the handler ---------------------------------------------------------------------

TEXT = "text/plain; charset=utf-8"
BINARY = "application/octet-stream"
_ALLOWED = "str, bytes, None, a JSON-serialisable value or a dict with 'statusCode'"


def invoke(handler: Handler, event: Event, context: Context) -> tuple[int, HeaderList, bytes]:
    """Run one call on this thread and return the response, with X-Faas-Handler-Ms added.

    Output printed meanwhile is tagged with the call id; an unhandled exception becomes a 500
    `handler_error`, its traceback printed to stderr.
    """
    current_call.id = context.call_id
    try:
        start = time.perf_counter()
        try:
            result = handler(event, context)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit too: a call must not end the container
            elapsed = time.perf_counter() - start
            print_traceback(exc)
            response = error_response(
                500, "handler_error", describe(exc), [("X-Faas-Function-Error", "Unhandled")]
            )
        else:
            elapsed = time.perf_counter() - start
            response = coerce_response(result)
        response[1].append(("X-Faas-Handler-Ms", f"{elapsed * 1000.0:.3f}"))
        return response
    finally:
        end_call_output()
        current_call.id = None


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
    return [pair for pair in pairs if pair[0].lower() not in HOP_BY_HOP]


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

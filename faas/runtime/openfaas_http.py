"""OpenFaaS's `python3-http` template on faas's runtime (FAAS_LANG=python3-http).

The template calls `handle(event, context)` too, but with its own objects and its own rules
for what comes back; this adapter gives a handler written for it exactly those:

- `event.body` (bytes), `event.headers` (case-insensitive), `event.method`, `event.query`
  (the last value of each parameter, with `.get`), `event.path`; `context.hostname`.
- What it returns, as the template's Flask app answered it:
    None                        200, empty body
    dict                        status `statusCode` (default 200), headers `headers`, body
                                `body`: a dict as JSON, bytes as they are when the
                                Content-Type is application/octet-stream, else `str(body)`;
                                no `body`: empty
    str / bytes                 200 text/html (Flask's default)
    (body, status[, headers]) or (body, headers)      as Flask reads such tuples
    list                        200 JSON (Flask 2.2+)
  which is then handed to faas's own response rules as a `statusCode` dict.
"""

from __future__ import annotations

import json
import os
import socket
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

HTML = "text/html; charset=utf-8"
OCTET_STREAM = "application/octet-stream"


def package_spec(spec: str) -> str:
    """`handler.handle` as `function.handler.handle` when the code sits in a folder named
    `function` (faas's images: /opt/faas/function), as the template imports it: a handler's
    relative imports (`from .lib import x`, `from function.lib import x`) then work too.
    Unchanged elsewhere (the code folder has another name)."""
    folder = os.getcwd()
    module = spec.rpartition(".")[0]
    if os.path.basename(folder) != "function":
        return spec
    if not os.path.isfile(os.path.join(folder, module.replace(".", "/") + ".py")):
        return spec
    parent = os.path.dirname(folder)
    if parent not in sys.path:
        sys.path.append(parent)  # last: never shadows the standard library or dependencies
    return "function." + spec


class OpenFaasEvent:
    """What the template's `Event` holds."""

    __slots__ = ("body", "headers", "method", "path", "query")

    def __init__(self, event: Any) -> None:
        self.body: bytes = event.body
        self.headers = event.headers  # faas's Headers: case-insensitive, like werkzeug's
        self.method: str = event.method
        self.query: dict[str, str] = dict(event.query)
        self.path: str = event.path


class OpenFaasContext:
    """What the template's `Context` holds, plus faas's own context as `faas`."""

    __slots__ = ("faas", "hostname")

    def __init__(self, context: Any) -> None:
        self.hostname = os.environ.get("HOSTNAME") or socket.gethostname()
        self.faas = context


def adapt(handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """A faas handler that calls `handler` the python3-http way."""

    def handle(event: Any, context: Any) -> Any:
        return to_faas(handler(OpenFaasEvent(event), OpenFaasContext(context)))

    handle.__wrapped__ = handler  # type: ignore[attr-defined]
    return handle


def to_faas(result: Any) -> Any:
    """The template's answer for `result`, as a faas `statusCode` dict."""
    if result is None:
        return {"statusCode": 200, "body": b"", "headers": {"Content-Type": HTML}}
    if isinstance(result, dict):
        return _from_dict(result)
    if isinstance(result, tuple):
        return _from_tuple(result)
    if isinstance(result, list):
        return {"statusCode": 200, "body": result}
    if isinstance(result, str | bytes | bytearray):
        return {"statusCode": 200, "body": result, "headers": {"Content-Type": HTML}}
    return result  # anything else: faas's rules say what is wrong with it (500 bad_return)


def _from_dict(result: dict[str, Any]) -> dict[str, Any]:
    headers = result.get("headers") or {}
    headers = dict(headers) if isinstance(headers, dict) else headers
    content_type = ""
    if isinstance(headers, dict):
        content_type = next(
            (str(v) for k, v in headers.items() if str(k).lower() == "content-type"), ""
        )
    status = result.get("statusCode", 200)
    if "body" not in result:
        body: Any = b""
    elif content_type == OCTET_STREAM:
        body = result["body"]
    elif isinstance(result["body"], dict):
        body = json.dumps(result["body"])
        if not content_type:
            headers["Content-Type"] = "application/json"
    else:
        body = str(result["body"])
    if not content_type and isinstance(headers, dict):
        headers.setdefault("Content-Type", HTML)
    return {"statusCode": status, "headers": headers, "body": body}


def _from_tuple(result: tuple[Any, ...]) -> Any:
    if len(result) == 3:
        body, status, headers = result
    elif len(result) == 2 and isinstance(result[1], dict | list):
        (body, headers), status = result, 200
    elif len(result) == 2:
        (body, status), headers = result, {}
    else:
        return result  # faas reports it (500 bad_return)
    if isinstance(headers, list):
        headers = dict(headers)
    # A dict or list body is JSON to Flask, not the template's response dict.
    inner = {"statusCode": status, "body": body} if isinstance(body, dict | list) else to_faas(body)
    if isinstance(inner, dict) and "statusCode" in inner:
        inner["statusCode"] = status
        inner["headers"] = {**inner.get("headers", {}), **(headers or {})}
    return inner

"""`ANY /function/{name}[/{path}]`: the synchronous call path, as a bare ASGI app.

Every warm call goes through here, so it sits in front of Starlette rather than inside it:
profiled under load, Starlette's middleware, routing, Request and Response objects took ~60% of
the event loop against ~27% for the call itself, and the gateway added ~380 us at p50 over a
direct call (target W1: 250 us). Everything else is routed by Starlette as usual.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from faas.errors import BadRequest, FaasError, PayloadTooLarge
from faas.invoker import CallRequest
from faas.manifest import check_name
from gateway.errors import error_body, error_headers

log = logging.getLogger("gateway")

PREFIX = "/function/"
_STRIPPED = frozenset((b"content-length", b"connection", b"keep-alive", b"transfer-encoding"))
_TIMING_ORDER = ("queue", "create", "start", "ready", "handler", "total")


class FunctionCalls:
    """Serves /function/... itself and hands every other request to `app`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        call_id = str(uuid.uuid4())
        try:
            status, headers, body = await _call(scope, receive, call_id)
        except FaasError as exc:
            status, body = exc.status, error_body(exc.code, exc.message)
            headers = [(k.lower().encode(), v.encode()) for k, v in error_headers(exc).items()]
            headers += [(b"content-type", b"application/json"), (b"x-call-id", call_id.encode())]
            if exc.status >= 500:
                log.warning(
                    "%s %s -> %d %s: %s",
                    scope["method"],
                    scope["path"],
                    exc.status,
                    exc.code,
                    exc.message,
                )
        except Exception:
            log.exception("unexpected error on %s %s", scope["method"], scope["path"])
            status = 500
            body = error_body("internal", "internal error in the gateway; see its log")
            headers = [(b"content-type", b"application/json"), (b"x-call-id", call_id.encode())]
        if status >= 200 and status not in (204, 304):
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _call(scope: Scope, receive: Receive, call_id: str) -> tuple[int, list[Any], bytes]:
    state = scope["state"]
    raw_name, slash, rest = scope["raw_path"][len(PREFIX) :].partition(b"/")
    name = check_name(raw_name.decode("latin-1"))
    record = await state["catalog"].get(name)
    body = await _read_body(scope, receive, state["settings"].max_body)
    force = _header(scope, b"x-faas-force")
    if force not in (None, b"cold"):
        raise BadRequest(f"X-Faas-Force must be 'cold', got {force.decode('latin-1')!r}")
    call = CallRequest(
        method=scope["method"],
        target=slash + rest,  # still percent-encoded, as the caller sent it
        query=scope["query_string"],
        headers=scope["headers"],
        body=body,
        force_cold=force == b"cold",
    )
    result = await state["invoker"].call(record, call, call_id)
    headers = [(k, v) for k, v in result.headers if k.lower() not in _STRIPPED]
    timing = ", ".join(
        f"{k};dur={result.timings[k]:.3f}" for k in _TIMING_ORDER if k in result.timings
    )
    headers += [
        (b"x-call-id", call_id.encode()),
        (b"x-faas-start", result.start.value.encode()),
        (b"server-timing", timing.encode()),
    ]
    return result.status, headers, result.body


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:  # ASGI servers give header names in lower case
            return bytes(value)
    return None


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    declared = _header(scope, b"content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest(f"Content-Length must be a number, got {declared.decode('latin-1')!r}")
        if int(declared) > limit:
            raise PayloadTooLarge(_too_large(int(declared), limit))
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadRequest("the client disconnected before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(_too_large(size, limit))
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(size: int, limit: int) -> str:
    return f"request body of {size} bytes exceeds the limit of {limit} bytes (FAAS_MAX_BODY)"

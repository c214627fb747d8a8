"""What the two bare-ASGI hot paths (/function/, /async-function/) share: reading the request
within the body limit and answering, with the same error shape as the Starlette routes."""

from __future__ import annotations

import logging

from starlette.types import Receive, Scope, Send

from faas.errors import BadRequest, FaasError, PayloadTooLarge
from gateway.errors import error_body, error_headers

log = logging.getLogger("gateway")

Headers = list[tuple[bytes, bytes]]


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:  # ASGI servers give header names in lower case
            return bytes(value)
    return None


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole body, or PayloadTooLarge as soon as it passes `limit` (FAAS_MAX_BODY)."""
    declared = header(scope, b"content-length")
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


def error_response(scope: Scope, exc: BaseException) -> tuple[int, Headers, bytes]:
    """`{"error": {"code", "message"}}` for a FaasError; a 500 that leaks nothing otherwise."""
    if isinstance(exc, FaasError):
        headers = [(k.lower().encode(), v.encode()) for k, v in error_headers(exc).items()]
        if exc.status >= 500:
            log.warning("%s %s -> %d %s: %s", scope["method"], scope["path"], exc.status,
                        exc.code, exc.message)  # fmt: skip
        status, body = exc.status, error_body(exc.code, exc.message)
    else:
        log.error("unexpected error on %s %s", scope["method"], scope["path"], exc_info=exc)
        headers = []
        status, body = 500, error_body("internal", "internal error in the gateway; see its log")
    return status, [*headers, (b"content-type", b"application/json")], body


async def respond(send: Send, status: int, headers: Headers, body: bytes) -> None:
    if status >= 200 and status not in (204, 304):
        headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _too_large(size: int, limit: int) -> str:
    return f"request body of {size} bytes exceeds the limit of {limit} bytes (FAAS_MAX_BODY)"

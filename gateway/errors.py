"""One place that turns exceptions into the JSON error shape `{"error": {"code", "message"}}`."""

from __future__ import annotations

import json
import logging
import math

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from faas.errors import ApiKeyRequired, AtScaleLimit, FaasError, Throttled

log = logging.getLogger("gateway")

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def error_headers(exc: FaasError) -> dict[str, str]:
    """What tells a client when to retry (Retry-After on 429 and 503) or how to authenticate."""
    if isinstance(exc, AtScaleLimit):
        return {"Retry-After": str(max(1, round(exc.retry_after)))}
    if isinstance(exc, Throttled):  # rounded up: a client that waits that long gets through
        return {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
    if isinstance(exc, ApiKeyRequired):
        return {"WWW-Authenticate": 'ApiKey header="X-Api-Key"'}
    if exc.status == 503:
        return {"Retry-After": "5"}
    return {}


def _call_headers(request: Request) -> dict[str, str]:
    call_id = getattr(request.state, "call_id", None)
    return {"X-Call-Id": call_id} if call_id else {}


async def faas_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FaasError)
    headers = {**_call_headers(request), **error_headers(exc)}
    if exc.status >= 500:
        log.warning(
            "%s %s -> %d %s: %s",
            request.method,
            request.url.path,
            exc.status,
            exc.code,
            exc.message,
        )
    return error_response(exc.status, exc.code, exc.message, headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if exc.status_code != 404 else f"no route for {request.url.path}"
    return error_response(exc.status_code, code, message, dict(exc.headers or {}))


async def unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        500, "internal", "internal error in the gateway; see its log", _call_headers(request)
    )


HANDLERS = {FaasError: faas_error, HTTPException: http_error, Exception: unexpected}

"""`ANY /function/{name}[/{path}]`: the synchronous call path, served by `gateway.call_paths`.

Every warm call goes through here, so it sits in front of Starlette rather than inside it:
profiled under load, Starlette's middleware, routing, Request and Response objects took ~60% of
the event loop against ~27% for the call itself, and the gateway added ~380 us at p50 over a
direct call (target W1: 250 us). Everything else is routed by Starlette as usual.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.types import Receive, Scope, Send

from faas.contracts.base import HOP_BY_HOP, CallRequest
from faas.errors import BadRequest
from faas.manifest.lambda_options import speaks_lambda
from faas.manifest.spec import check_name
from faas.registry.store import FunctionRecord
from gateway.asgi import error_response, header, read_body, respond
from gateway.lambda_http import call_through_api_gateway
from gateway.openfaas_calls import START_HEADER

PREFIX = "/function/"


async def call_function(
    scope: Scope, receive: Receive, send: Send, record: FunctionRecord | None, start: bytes | None
) -> None:
    """Serve one /function/ call. `record` is the function's, already looked up by the
    dispatch (None when that failed: looked up again here, for the usual error); `start`, when
    given, is OpenFaaS's X-Start-Time for the response."""
    call_id = str(uuid.uuid4())
    try:
        status, headers, body = await _call(scope, receive, call_id, record)
    except Exception as exc:
        status, headers, body = error_response(scope, exc)
        headers.append((b"x-call-id", call_id.encode()))
    if start is not None:
        headers.append((START_HEADER, start))
    await respond(send, status, headers, body)


async def _call(
    scope: Scope, receive: Receive, call_id: str, record: FunctionRecord | None
) -> tuple[int, list[Any], bytes]:
    state = scope["state"]
    raw_name, slash, rest = scope["raw_path"][len(PREFIX) :].partition(b"/")
    if record is None:
        record = await state["catalog"].get(check_name(raw_name.decode("latin-1")))
    body = await read_body(scope, receive, state["settings"].max_body)
    force = header(scope, b"x-faas-force")
    if force not in (None, b"cold"):
        raise BadRequest(f"X-Faas-Force must be 'cold', got {force.decode('latin-1')!r}")
    if speaks_lambda(record.spec.contract):  # an API Gateway event in, its proxy answer out
        status, headers, body, result = await call_through_api_gateway(
            scope, record, slash + rest, body, call_id, force == b"cold"
        )
        return status, headers + _faas_headers(call_id, result), body
    call = CallRequest(
        method=scope["method"],
        target=slash + rest,  # still percent-encoded, as the caller sent it
        query=scope["query_string"],
        headers=scope["headers"],
        body=body,
        force_cold=force == b"cold",
    )
    result = await state["invoker"].call(record, call, call_id)
    headers = [(k, v) for k, v in result.headers if k.lower() not in HOP_BY_HOP]
    return result.status, headers + _faas_headers(call_id, result), result.body


def _faas_headers(call_id: str, result: Any) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-call-id", call_id.encode()),
        (b"x-faas-start", result.start.value.encode()),
        (b"server-timing", result.trace.server_timing().encode()),
    ]

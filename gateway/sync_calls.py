"""`ANY /function/{name}[/{path}]`: the synchronous call path, as a bare ASGI app.

Every warm call goes through here, so it sits in front of Starlette rather than inside it:
profiled under load, Starlette's middleware, routing, Request and Response objects took ~60% of
the event loop against ~27% for the call itself, and the gateway added ~380 us at p50 over a
direct call (target W1: 250 us). Everything else is routed by Starlette as usual.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from faas.contracts.base import HOP_BY_HOP, CallRequest
from faas.errors import BadRequest
from faas.manifest.lambda_options import speaks_lambda
from faas.manifest.spec import check_name
from gateway.asgi import error_response, header, read_body, respond
from gateway.lambda_http import call_through_api_gateway

PREFIX = "/function/"


class SyncCallApp:
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
        except Exception as exc:
            status, headers, body = error_response(scope, exc)
            headers.append((b"x-call-id", call_id.encode()))
        await respond(send, status, headers, body)


async def _call(scope: Scope, receive: Receive, call_id: str) -> tuple[int, list[Any], bytes]:
    state = scope["state"]
    raw_name, slash, rest = scope["raw_path"][len(PREFIX) :].partition(b"/")
    name = check_name(raw_name.decode("latin-1"))
    record = await state["catalog"].get(name)
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

"""/function/NAME/... for a `contract: lambda` function: the call becomes an API Gateway proxy
event (the manifest's lambda.event: apigateway-v1 or apigateway-v2), and the function's result
becomes the HTTP response, as API Gateway makes it (502 when the function failed)."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Scope

from faas.contracts.base import CallRequest
from faas.lambda_events import api_gateway_event
from faas.registry.store import FunctionRecord
from gateway.lambda_shapes import JSON_HEADERS, proxy_error, proxy_response


async def call_through_api_gateway(
    scope: Scope, record: FunctionRecord, target: bytes, body: bytes, call_id: str, force: bool
) -> tuple[int, list[tuple[bytes, bytes]], bytes, Any]:
    """(status, headers, body, the invoker's result) of one HTTP call to a Lambda function."""
    options = record.spec.lambda_options
    version = options.event if options is not None else "apigateway-v2"
    event = api_gateway_event(
        version,
        scope["method"],
        target,
        scope["query_string"],
        scope["headers"],
        body,
        scope.get("client"),
    )
    call = CallRequest("POST", b"", b"", list(JSON_HEADERS), json.dumps(event).encode(), force)
    result = await scope["state"]["invoker"].call(record, call, call_id)
    failed = any(k.lower() == b"x-faas-function-error" for k, _ in result.headers)
    if failed or result.status != 200:
        return (*proxy_error(), result)
    try:
        answer = json.loads(result.body)
    except (ValueError, RecursionError):
        return (*proxy_error(), result)
    return (*proxy_response(version, answer), result)

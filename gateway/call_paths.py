"""The gateway's front door: one look at the path sends a request to its call path.

Every warm call comes through here, so this is the only layer it passes on its way to the
function (profiled: three ASGI layers each testing the path and two catalog lookups per call
took ~6% of the event loop). In order:

1. OpenFaaS's `name.openfaas-fn` spelling becomes `name` (`gateway.openfaas_calls`), for every
   path behind too (`/system/...`): a suffix is never a way around a function's policy.
2. `/function/` and `/async-function/`: X-Start-Time on the request and the response, one
   catalog lookup, the function's API policy if it has one (`gateway.api_policy`), the call.
3. The Lambda API's paths (`gateway.lambda_api`), which check their own credentials.
4. Everything else: the control plane (Starlette's routes, behind the gateway's credentials).
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from faas.errors import FaasError
from faas.manifest.spec import check_name
from faas.registry.store import FunctionRecord
from gateway.api_policy import apply_policy
from gateway.async_routes import PREFIX as ASYNC_PREFIX
from gateway.async_routes import enqueue_call
from gateway.lambda_api import PREFIXES as LAMBDA_PREFIXES
from gateway.lambda_api import LambdaApiApp
from gateway.openfaas_calls import START_HEADER, SUFFIX, without_namespace
from gateway.sync_calls import PREFIX as SYNC_PREFIX
from gateway.sync_calls import call_function


class CallPaths:
    """Serves the call paths and the Lambda API; hands every other request to `app`."""

    def __init__(self, app: ASGIApp, password: str | None) -> None:
        self.app = app
        self.lambda_api = LambdaApiApp(app, password)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if SUFFIX in scope["raw_path"]:
            scope = without_namespace(scope)
        path: str = scope["path"]
        if path.startswith(SYNC_PREFIX):
            serve, prefix = call_function, SYNC_PREFIX
        elif path.startswith(ASYNC_PREFIX):
            serve, prefix = enqueue_call, ASYNC_PREFIX
        elif path.startswith(LAMBDA_PREFIXES):
            await self.lambda_api(scope, receive, send)
            return
        else:
            await self.app(scope, receive, send)
            return
        start = b"%d" % time.time_ns()  # OpenFaaS's X-Start-Time: the function sees it too
        headers = scope["headers"]
        if isinstance(headers, list):  # the server's own, made for this request: no copy
            headers.append((START_HEADER, start))
        else:
            scope = {**scope, "headers": [*headers, (START_HEADER, start)]}
        raw_name = scope["raw_path"][len(prefix) :].partition(b"/")[0]
        record: FunctionRecord | None
        try:
            record = await scope["state"]["catalog"].get(check_name(raw_name.decode("latin-1")))
        except FaasError:  # unknown name, Redis down: the call path answers as it always does
            record = None
        policy = record.spec.api if record is not None else None
        if record is None or policy is None:
            await serve(scope, receive, send, record, start)
            return
        found = record

        async def call(scope: Scope, receive: Receive, send: Send) -> None:
            await serve(scope, receive, send, found, None)  # `send` adds X-Start-Time

        await apply_policy(policy, found.name, call, scope, receive, _stamped(send, start))


def _stamped(send: Send, start: bytes) -> Send:
    """`send` adding X-Start-Time to the response (the policy's own answers included)."""

    async def send_with_start(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), (START_HEADER, start)]
        await send(message)

    return send_with_start

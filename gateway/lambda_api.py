"""The AWS Lambda API on the gateway's port, for boto3, the aws CLI and SAM tooling.

    POST   /2015-03-31/functions/{name}/invocations     Invoke (RequestResponse, Event, DryRun)
    POST   /2014-11-13/functions/{name}/invoke-async/   InvokeAsync (the deprecated one)
    GET    /2015-03-31/functions/                       ListFunctions
    POST   /2015-03-31/functions                        CreateFunction (a zip: lambda_deploy)
    GET    /2015-03-31/functions/{name}                 GetFunction
    GET    /2015-03-31/functions/{name}/configuration   GetFunctionConfiguration
    PUT    /2015-03-31/functions/{name}/code            UpdateFunctionCode (a zip)
    DELETE /2015-03-31/functions/{name}                 DeleteFunction

`{name}` may be a name, `name:qualifier` or an ARN; faas has one version, `$LATEST`.

Trust (design.md, "Trust model"): Invoke and InvokeAsync are function calls, open as
/function/ is, and a function whose manifest asks for API keys or limits gets them checked
here too (X-Api-Key). The other operations are control plane: they need the gateway's
credentials, as a SigV4 signature with access key id `admin` and the admin password as the
secret key (what boto3 and the aws CLI send), or HTTP Basic/Bearer; with FAAS_AUTH=off, none.

Errors are AWS's: `x-amzn-ErrorType` and `{"Type", "message"}` with the Lambda API's statuses.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from faas.contracts.base import CallRequest
from faas.errors import (
    FaasError,
    FunctionFailed,
    FunctionTimeout,
    PayloadTooLarge,
    RequestInvalid,
)
from faas.manifest.lambda_options import speaks_lambda
from faas.manifest.request_schema import RequestSchema
from faas.manifest.spec import check_name
from faas.pool.log_pages import read_page
from faas.registry.store import FunctionRecord
from gateway import sigv4
from gateway.api_policy import _admit as admit_call  # the same key and limit checks as /function/
from gateway.asgi import header, read_body, respond
from gateway.auth import RequireCredentials
from gateway.lambda_deploy import (
    build_and_register,
    image_uri,
    register_image,
    spec_from_request,
    zip_bytes,
)
from gateway.lambda_shapes import (
    JSON_HEADERS,
    AwsError,
    aws_error,
    aws_error_response,
    function_arn,
)

PREFIXES = ("/2015-03-31/functions", "/2014-11-13/functions")
MAX_SYNC_PAYLOAD = 6 * 1024 * 1024  # Lambda's limits, whatever FAAS_MAX_BODY says
MAX_ASYNC_PAYLOAD = 1024 * 1024
MAX_TAIL_BYTES = 4096
LARGE_EVENT = 64 * 1024  # checked against a request_schema on a thread, off the event loop
VERSION = "$LATEST"
_INVOKE = re.compile(r"/2015-03-31/functions/([^/]+)/invocations/?")
_INVOKE_ASYNC = re.compile(r"/2014-11-13/functions/([^/]+)/invoke-async/?")
_FUNCTION = re.compile(r"/2015-03-31/functions/([^/]+)/?")
_LIST = re.compile(r"/2015-03-31/functions/?")
_CODE = re.compile(r"/2015-03-31/functions/([^/]+)/code/?")
_CONFIGURATION = re.compile(r"/2015-03-31/functions/([^/]+)/configuration/?")
MAX_UPLOAD = 70 * 1024 * 1024  # Lambda's 50 MB zip, base64-encoded in the JSON body
MAX_CONTROL_BODY = 64 * 1024
_ARN = re.compile(r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:(.+)|\d{12}:function:(.+)")

Headers = list[tuple[bytes, bytes]]


class LambdaApiApp:
    """Serves the Lambda API's paths itself and hands every other request to `app`."""

    def __init__(self, app: ASGIApp, password: str | None) -> None:
        self.app = app
        self._password = password
        self._basic = RequireCredentials(app, password)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIXES):
            await self.app(scope, receive, send)
            return
        try:
            status, headers, body = await self._route(scope, receive)
        except Exception as exc:  # every error in AWS's shape, never a traceback
            status, headers, body = aws_error_response(aws_error(exc))
        await respond(send, status, headers, body)

    async def _route(self, scope: Scope, receive: Receive) -> tuple[int, Headers, bytes]:
        path, method = scope["path"], scope["method"]
        if match := _INVOKE.fullmatch(path):
            _allow(method, "POST")
            return await invoke(scope, receive, match.group(1))
        if match := _INVOKE_ASYNC.fullmatch(path):
            _allow(method, "POST")
            return await invoke(scope, receive, match.group(1), invocation_type="Event")
        # Credentials that need no body are checked before reading one; only the two uploads
        # may be large.
        signed = sigv4.is_sigv4(header(scope, b"authorization"))
        if not signed:
            self._check_credentials(scope, b"")
        upload = (method == "POST" and _LIST.fullmatch(path)) or _CODE.fullmatch(path)
        body = await read_body(scope, receive, MAX_UPLOAD if upload else MAX_CONTROL_BODY)
        if signed:
            self._check_credentials(scope, body)
        state = scope["state"]
        if _LIST.fullmatch(path):
            if method == "POST":
                return await create_function(state, body)
            _allow(method, "GET")
            records = await state["catalog"].all()
            listing = {"Functions": [configuration(r) for r in records]}
            return 200, list(JSON_HEADERS), json.dumps(listing).encode()
        if match := _CONFIGURATION.fullmatch(path):
            _allow(method, "GET")
            record, _ = await _function(state, match.group(1), _qualifier(scope))
            return 200, list(JSON_HEADERS), json.dumps(configuration(record)).encode()
        if match := _CODE.fullmatch(path):
            _allow(method, "PUT")
            record, _ = await _function(state, match.group(1), None)
            request = _json_object(body)
            if request.get("DryRun"):
                return 200, list(JSON_HEADERS), json.dumps(configuration(record)).encode()
            if record.spec.contract == "lambda-image":  # another local image
                spec = replace(record.spec, image=image_uri(request))
                record = await register_image(state, spec, spec.image)
            else:
                record = await build_and_register(state, record.spec, zip_bytes(request))
            return 200, list(JSON_HEADERS), json.dumps(configuration(record)).encode()
        if match := _FUNCTION.fullmatch(path):
            record, _ = await _function(state, match.group(1), _qualifier(scope))
            if method == "DELETE":
                await state["registry"].delete(record.name)
                state["catalog"].drop(record.name)
                await state["invoker"].forget(record.name)
                return 204, [], b""
            _allow(method, "GET")
            code = {"RepositoryType": "faas", "ImageUri": record.image}
            described = {"Configuration": configuration(record), "Code": code}
            return 200, list(JSON_HEADERS), json.dumps(described).encode()
        raise AwsError("UnrecognizedClientException", 404, f"no Lambda API operation at {path}")

    def _check_credentials(self, scope: Scope, body: bytes) -> None:
        if self._password is None:
            return
        authorization = header(scope, b"authorization")
        if sigv4.is_sigv4(authorization):
            ok = sigv4.verify(
                scope["method"],
                scope["raw_path"],
                scope["query_string"],
                scope["headers"],
                body,
                self._password,
            )
            if not ok:
                raise AwsError(
                    "InvalidSignatureException",
                    403,
                    "the request signature does not match: sign with access key id 'admin' "
                    "and the gateway's admin password as the secret access key",
                )
        elif not self._basic._accepts(scope):
            raise AwsError(
                "UnrecognizedClientException",
                403,
                "this operation needs the gateway's credentials (SigV4 with access key id "
                "'admin', or HTTP Basic/Bearer)",
            )


async def create_function(state: Any, body: bytes) -> tuple[int, Headers, bytes]:
    request = _json_object(body)
    given = request.get("FunctionName")
    if not isinstance(given, str) or not given:
        raise AwsError("InvalidParameterValueException", 400, "FunctionName is required")
    name, _ = split_name(given)
    spec = spec_from_request(name, request)
    if name in {record.name for record in await state["catalog"].all()}:
        message = f"Function already exist: {name} (use UpdateFunctionCode)"
        raise AwsError("ResourceConflictException", 409, message)
    if spec.contract == "lambda-image":
        record = await register_image(state, spec, spec.image)
    else:
        record = await build_and_register(state, spec, zip_bytes(request.get("Code")))
    return 201, list(JSON_HEADERS), json.dumps(configuration(record)).encode()


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise AwsError("InvalidRequestContentException", 400, "the body must be a JSON object")
    return value


def _allow(method: str, allowed: str) -> None:
    if method != allowed:
        raise AwsError("UnrecognizedClientException", 405, f"use {allowed} for this operation")


def _qualifier(scope: Scope) -> str | None:
    values = parse_qs(scope["query_string"].decode("latin-1")).get("Qualifier")
    return values[-1] if values else None


def split_name(given: str) -> tuple[str, str | None]:
    """(name, qualifier) of a name, `name:qualifier`, a partial ARN or a full ARN."""
    text = unquote(given)
    if match := _ARN.fullmatch(text):
        text = match.group(1) or match.group(2)
    name, _, qualifier = text.partition(":")
    return name, qualifier or None


async def _function(state: Any, given: str, qualifier: str | None) -> tuple[FunctionRecord, str]:
    """The function a request names, and its ARN; ResourceNotFoundException otherwise."""
    name, in_name = split_name(given)
    if in_name and qualifier and in_name != qualifier:
        raise AwsError("InvalidParameterValueException", 400, "the name's qualifier differs")
    wanted = qualifier or in_name
    arn = function_arn(name, wanted)
    if wanted not in (None, VERSION):
        message = f"Function not found: {arn} (faas keeps one version of each function: $LATEST)"
        raise AwsError("ResourceNotFoundException", 404, message)
    try:
        record = await state["catalog"].get(check_name(name))
    except FaasError as exc:
        if exc.status == 404:
            raise AwsError("ResourceNotFoundException", 404, f"Function not found: {arn}") from None
        raise
    return record, arn


async def invoke(
    scope: Scope, receive: Receive, given: str, invocation_type: str | None = None
) -> tuple[int, Headers, bytes]:
    state = scope["state"]
    kind = invocation_type or (header(scope, b"x-amz-invocation-type") or b"RequestResponse")
    kind = kind.decode("latin-1") if isinstance(kind, bytes) else kind
    if kind not in ("RequestResponse", "Event", "DryRun"):
        message = f"X-Amz-Invocation-Type must be RequestResponse, Event or DryRun, got {kind!r}"
        raise AwsError("InvalidParameterValueException", 400, message)
    record, arn = await _function(state, given, _qualifier(scope))
    limit = MAX_ASYNC_PAYLOAD if kind == "Event" else MAX_SYNC_PAYLOAD
    try:
        payload = await read_body(scope, receive, limit)
    except PayloadTooLarge:
        message = f"Request must be smaller than {limit} bytes for the {kind} invocation type"
        raise AwsError("RequestEntityTooLargeException", 413, message) from None
    if payload.strip():
        try:
            json.loads(payload)
        except (ValueError, RecursionError):
            message = "Could not parse request body into json"
            raise AwsError("InvalidRequestContentException", 400, message) from None
    if record.spec.api is not None and record.spec.api.uses_redis:
        scope = await admit_call(record.spec.api, record.name, scope)
    if record.spec.api is not None and record.spec.api.request_schema is not None:
        await check_event(record.spec.api.request_schema, payload)
    headers = [
        *JSON_HEADERS,
        (b"lambda-runtime-invoked-function-arn", arn.encode()),
        *[(k, v) for k, v in scope["headers"] if k in (b"x-api-key-id",)],
    ]
    client_context = header(scope, b"x-amz-client-context")
    if client_context:
        headers.append((b"lambda-runtime-client-context", client_context))
    if kind == "DryRun":
        return 204, [(b"x-amzn-requestid", str(uuid.uuid4()).encode())], b""
    if kind == "Event":
        queued = await state["queue"].enqueue(
            record.name, method="POST", target=b"", query=b"", headers=headers, body=payload
        )
        return 202, [(b"x-amzn-requestid", queued.call_id.encode())], b""
    call_id = str(uuid.uuid4())
    answer: Headers = [
        (b"x-amzn-requestid", call_id.encode()),
        (b"x-amz-executed-version", b"$LATEST"),
    ]
    request = CallRequest("POST", b"", b"", headers, payload)
    started = time.time()
    completed = True  # the handler returned or raised: the adapter logged its REPORT line
    try:
        result = await state["invoker"].call(record, request, call_id)
        status, body = result.status, result.body
        failed = (
            any(k.lower() == b"x-faas-function-error" for k, _ in result.headers) or status >= 300
        )
        if failed and not _is_error_shape(body):
            body = _error_body("Unhandled", f"the function answered HTTP {status}: {body[:200]!r}")
    except FunctionTimeout as exc:
        failed, body = True, _error_body("Sandbox.Timedout", exc.message)
        completed = False
    except FunctionFailed as exc:
        failed, body = True, _error_body("Runtime.ExitError", exc.message)
        completed = False
    if failed:
        answer.append((b"x-amz-function-error", b"Unhandled"))
    if (header(scope, b"x-amz-log-type") or b"").lower() == b"tail":
        rounds = 20 if speaks_lambda(record.spec.contract) and completed else 3
        # A completed call's container still runs: its lines since the call began are enough.
        # A failed one's may be archived already: then the newest lines of every source.
        since = started - 1.0 if completed else None
        tail = await log_tail(state, record.name, call_id, rounds, since)
        answer.append((b"x-amz-log-result", tail))
    return 200, [*answer, *JSON_HEADERS], body


async def check_event(schema: RequestSchema, payload: bytes) -> None:
    """The event must match the function's `request_schema`, as /function/ bodies must (an
    empty payload is Lambda's `{}`)."""
    import asyncio

    event = payload if payload.strip() else b"{}"
    try:
        if len(event) > LARGE_EVENT:  # seconds of parsing must not stall every other call
            await asyncio.to_thread(schema.check, "POST", event)
        else:
            schema.check("POST", event)
    except RequestInvalid as exc:
        raise AwsError("InvalidRequestContentException", 400, exc.message) from None


def _is_error_shape(body: bytes) -> bool:
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return False
    return isinstance(parsed, dict) and "errorMessage" in parsed


def _error_body(error_type: str, message: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


async def log_tail(
    state: Any, name: str, call_id: str, rounds: int, since: float | None = None
) -> bytes:
    """The last 4 KB of this call's log lines (tagged `[call id]`), base64-encoded, however
    many lines the call (and the function's other containers) printed: the newest page of the
    function's log (FAAS_LOGS_MAX_LINES, FAAS_LOGS_MAX_BYTES), from `since` (epoch seconds)
    when given, ends with the call's own last lines.

    The engine may deliver a container's output a moment after the answer, so this waits
    (`rounds` reads, 50 ms apart, at most) for the Lambda adapter's closing REPORT line."""
    import asyncio

    settings, tag = state["settings"], f"[{call_id}] "
    found: list[str] = []
    for _ in range(rounds):
        page = await read_page(
            state["registry"].archived_page,
            state["invoker"].live_logs,
            name,
            since=since,
            before=None,
            limit=settings.logs_max_lines,
            max_bytes=settings.logs_max_bytes,
        )
        found = [line[line.index(tag) + len(tag) :] for line in page.lines if tag in line]
        if any(line.startswith("REPORT RequestId") for line in found):
            break
        await asyncio.sleep(0.05)
    text = "".join(line + "\n" for line in found).encode()
    return base64.b64encode(text[-MAX_TAIL_BYTES:])


def configuration(record: FunctionRecord) -> dict[str, Any]:
    """A function as the Lambda API's FunctionConfiguration describes one."""
    spec = record.spec
    import datetime

    modified = datetime.datetime.fromtimestamp(record.updated_at, datetime.UTC)
    return {
        "FunctionName": spec.name,
        "FunctionArn": function_arn(spec.name),
        "Runtime": "python3.11",
        "Handler": spec.handler,
        "CodeSha256": record.code_hash,
        "MemorySize": spec.memory // (1024 * 1024),
        "Timeout": max(1, round(spec.timeout)),
        "Version": VERSION,
        "LastModified": modified.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        "PackageType": "Image" if spec.contract == "lambda-image" else "Zip",
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "Architectures": ["x86_64"],
        "Description": f"faas function ({spec.contract} contract)",
    }

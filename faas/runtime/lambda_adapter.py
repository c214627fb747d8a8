"""The Lambda adapter (`contract: lambda`, FAAS_ADAPTER=lambda): the handler is
`module.function(event, context)` as on AWS Lambda.

The call's body is the event, as JSON (the gateway shapes it: an API Gateway proxy event for
/function/ calls, SQS records for stream triggers, an EventBridge event for cron, the caller's
payload for the Invoke API); the handler's return value goes back as JSON with a 200. An
exception becomes Lambda's error shape `{"errorMessage", "errorType", "stackTrace"}` with a 500
and `X-Faas-Function-Error: Unhandled`. Each call's log has Lambda's START, END and REPORT
lines, tagged with the call id like the handler's own output.

The gateway passes the ARN the caller used (`Lambda-Runtime-Invoked-Function-Arn`) and
`Lambda-Runtime-Client-Context` (base64 JSON), as the Lambda Runtime API names them.
"""

from __future__ import annotations

import json
import os
import sys
import time

from .adapter import Context, Event
from .loading import describe, print_traceback

TYPE_CHECKING = False  # avoids importing typing at runtime; mypy treats the name as True
if TYPE_CHECKING:
    from typing import Any

    from .adapter import Handler

REGION = "us-east-1"
ACCOUNT = "000000000000"
VERSION = "$LATEST"
ARN_HEADER = "lambda-runtime-invoked-function-arn"
CLIENT_CONTEXT_HEADER = "lambda-runtime-client-context"
JSON_TYPE = "application/json"


def set_environment(function_name: str, handler: str, function_dir: str) -> None:
    """Lambda's reserved variables, before the handler's module is imported (it may read them).
    The region and credentials-free defaults yield to the function's own environment."""
    memory = os.environ.get("FAAS_MEMORY_MB") or "128"
    os.environ.update(
        AWS_LAMBDA_FUNCTION_NAME=function_name,
        AWS_LAMBDA_FUNCTION_VERSION=VERSION,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE=memory,
        AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{function_name}",
        AWS_LAMBDA_LOG_STREAM_NAME=f"{time.strftime('%Y/%m/%d')}/[{VERSION}]{os.uname().nodename}",
        AWS_LAMBDA_INITIALIZATION_TYPE="on-demand",
        AWS_EXECUTION_ENV=f"AWS_Lambda_python{sys.version_info[0]}.{sys.version_info[1]}",
        _HANDLER=handler,
        LAMBDA_TASK_ROOT=function_dir,
        LAMBDA_RUNTIME_DIR=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    region = os.environ.setdefault("AWS_REGION", REGION)
    os.environ.setdefault("AWS_DEFAULT_REGION", region)


def function_arn(function_name: str) -> str:
    region = os.environ.get("AWS_REGION") or REGION
    return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{function_name}"


class LambdaContext:
    """The `context` a Lambda handler gets (awslambdaric's attributes and method)."""

    def __init__(self, context: Context, event: Event) -> None:
        self._context = context
        self.aws_request_id = context.call_id
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or context.function_name
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION") or VERSION
        self.invoked_function_arn = event.headers.get(ARN_HEADER) or function_arn(
            self.function_name
        )
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") or "128"
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = _client_context(event.headers.get(CLIENT_CONTEXT_HEADER))
        self.tenant_id = None

    def get_remaining_time_in_millis(self) -> int:
        remaining = self._context.remaining_ms()
        return 2**31 - 1 if remaining == float("inf") else int(remaining)

    def __repr__(self) -> str:
        return f"LambdaContext({self.function_name!r}, aws_request_id={self.aws_request_id!r})"


def _client_context(encoded: str | None) -> Any:
    if not encoded:
        return None
    import base64

    try:
        return json.loads(base64.b64decode(encoded))
    except ValueError:
        return None


def wrap(handler: Handler) -> Handler:
    """A native handler that runs the Lambda `handler` on the call's JSON event."""

    def call_lambda(event: Event, context: Context) -> Any:
        started = time.perf_counter()
        request_id = context.call_id
        print(f"START RequestId: {request_id} Version: {VERSION}")
        try:
            try:
                payload = json.loads(event.body) if event.body.strip() else {}
            except (ValueError, RecursionError) as exc:
                return _error("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}", [])
            try:
                result = handler(payload, LambdaContext(context, event))  # type: ignore[arg-type]
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # SystemExit too: a call must not end the container
                return _unhandled(exc)
            try:
                body = json.dumps(result)
            except (TypeError, ValueError, RecursionError) as exc:
                return _error("Runtime.MarshalError", f"Unable to marshal response: {exc}", [])
            return {"statusCode": 200, "headers": {"Content-Type": JSON_TYPE}, "body": body}
        finally:
            elapsed = (time.perf_counter() - started) * 1000.0
            memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") or "128"
            print(
                f"END RequestId: {request_id}\nREPORT RequestId: {request_id}\t"
                f"Duration: {elapsed:.2f} ms\tBilled Duration: {max(1, int(elapsed + 0.999))} ms"
                f"\tMemory Size: {memory} MB"
            )

    return call_lambda


def _unhandled(exc: BaseException) -> dict[str, Any]:
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)[1:]  # not this adapter's own frame
    stack = [f'  File "{f.filename}", line {f.lineno}, in {f.name}\n    {f.line}\n' for f in frames]
    print(f"[ERROR] {describe(exc)}", file=sys.stderr)
    print_traceback(exc)
    return _error(type(exc).__name__, str(exc), stack)


def _error(error_type: str, message: str, stack: list[str]) -> dict[str, Any]:
    body = {"errorMessage": message, "errorType": error_type, "stackTrace": stack}
    return {
        "statusCode": 500,
        "headers": {"Content-Type": JSON_TYPE, "X-Faas-Function-Error": "Unhandled"},
        "body": json.dumps(body),
    }

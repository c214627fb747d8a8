"""Lambda's wire shapes on the gateway side: a function's result turned into an HTTP response
as API Gateway does (the events themselves are in faas.lambda_events), and faas errors as AWS
error responses."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from faas import errors
from faas.contracts.base import HOP_BY_HOP

ACCOUNT = "000000000000"
REGION = "us-east-1"
JSON_HEADERS = [(b"content-type", b"application/json")]
# Bodies API Gateway passes as text; anything else (or not UTF-8) goes base64-encoded.
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
_TEXT_PARTS = ("+json", "+xml", "x-www-form-urlencoded")
_PROXY_ERROR = json.dumps({"message": "Internal server error"}).encode()

Headers = list[tuple[bytes, bytes]]


def function_arn(name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def proxy_response(version: str, result: Any) -> tuple[int, Headers, bytes]:
    """The HTTP response API Gateway makes of a function's result (502 for one it cannot).

    v2 takes any JSON value without `statusCode` as a 200 JSON body; v1 needs `statusCode`."""
    if not (isinstance(result, dict) and "statusCode" in result):
        if version == "apigateway-v1":
            return proxy_error()
        return 200, list(JSON_HEADERS), json.dumps(result).encode()
    try:
        return _shaped(result)
    except (TypeError, ValueError):
        return proxy_error()


def proxy_error() -> tuple[int, Headers, bytes]:
    """What API Gateway answers when the function failed or returned something malformed."""
    return 502, list(JSON_HEADERS), _PROXY_ERROR


def _shaped(result: dict[str, Any]) -> tuple[int, Headers, bytes]:
    status = result["statusCode"]
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if type(status) is not int or not 200 <= status <= 599:
        raise ValueError(f"bad statusCode {status!r}")
    headers: Headers = []
    for name, value in (result.get("headers") or {}).items():
        headers.append(_header(name, value))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values if isinstance(values, list) else [values]:
            headers.append(_header(name, value))
    for cookie in result.get("cookies") or []:
        headers.append(_header("set-cookie", cookie))
    body = result.get("body")
    if body is None:
        data = b""
    elif result.get("isBase64Encoded"):
        data = base64.b64decode(str(body), validate=True)
    else:
        data = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
    # The gateway frames the response itself: a function's Content-Length or Connection goes.
    headers = [(name, value) for name, value in headers if name not in HOP_BY_HOP]
    if not any(name == b"content-type" for name, _ in headers):
        headers.append((b"content-type", b"application/json"))
    return status, headers, data


def _header(name: Any, value: Any) -> tuple[bytes, bytes]:
    text = value if isinstance(value, str) else json.dumps(value) if value is None else str(value)
    if not isinstance(name, str) or not name or any(c in name for c in ":\r\n \t"):
        raise ValueError(f"bad header name {name!r}")
    if "\r" in text or "\n" in text:
        raise ValueError(f"bad header value for {name!r}")
    return name.lower().encode("latin-1"), text.encode("latin-1", "replace")


# -- AWS error responses ----------------------------------------------------------------------

# faas error -> (AWS error type, status), as the Lambda API names its errors.
_AWS_ERRORS: list[tuple[type[errors.FaasError], str, int]] = [
    (errors.NotFound, "ResourceNotFoundException", 404),
    (errors.PayloadTooLarge, "RequestEntityTooLargeException", 413),
    (errors.ApiKeyRequired, "AccessDeniedException", 403),
    (errors.ApiKeyRefused, "AccessDeniedException", 403),
    (errors.Throttled, "TooManyRequestsException", 429),
    (errors.AtScaleLimit, "TooManyRequestsException", 429),
    (errors.FunctionInitError, "ServiceException", 502),
    (errors.BadRequest, "InvalidParameterValueException", 400),
    (errors.Unavailable, "ServiceException", 503),
]


class AwsError(Exception):
    """An error answered in the Lambda API's shape (`x-amzn-ErrorType`, `{Type, message}`)."""

    def __init__(self, error_type: str, status: int, message: str) -> None:
        super().__init__(message)
        self.error_type, self.status, self.message = error_type, status, message


def aws_error(exc: BaseException) -> AwsError:
    if isinstance(exc, AwsError):
        return exc
    if isinstance(exc, errors.FaasError):
        for kind, error_type, status in _AWS_ERRORS:
            if isinstance(exc, kind):
                return AwsError(error_type, status, exc.message)
        return AwsError("ServiceException", exc.status if exc.status >= 500 else 500, exc.message)
    return AwsError("ServiceException", 500, "internal error in the gateway; see its log")


def aws_error_response(err: AwsError) -> tuple[int, Headers, bytes]:
    body = json.dumps({"Type": "User" if err.status < 500 else "Service", "message": err.message})
    headers = [
        (b"x-amzn-errortype", err.error_type.encode()),
        (b"x-amzn-requestid", str(uuid.uuid4()).encode()),
        *JSON_HEADERS,
    ]
    return err.status, headers, body.encode()

"""Lambda's wire shapes on the gateway side: API Gateway proxy events (REST v1, HTTP API v2)
made from a call to /function/NAME/..., the function's result turned back into an HTTP
response as API Gateway does, and faas errors as AWS error responses.

The event is built where the call arrives (as API Gateway builds it on AWS): the function's
runtime only ever sees a JSON event, whatever the source.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, unquote

from faas import errors

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


def _body_fields(headers: dict[str, list[str]], body: bytes) -> tuple[str | None, bool]:
    if not body:
        return None, False
    content_type = (headers.get("content-type") or [""])[-1].lower()
    textual = not content_type or content_type.startswith(_TEXT_TYPES)
    textual = textual or any(part in content_type for part in _TEXT_PARTS)
    if textual:
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def _grouped(raw_headers: Headers) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in raw_headers:
        grouped.setdefault(key.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return grouped


def _context_common(headers: dict[str, list[str]], client: Any) -> dict[str, Any]:
    now = time.time()
    return {
        "accountId": ACCOUNT,
        "apiId": "faas",
        "domainName": (headers.get("host") or ["localhost"])[-1],
        "domainPrefix": "faas",
        "requestId": str(uuid.uuid4()),
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
        "_source_ip": client[0] if client else "127.0.0.1",
    }


def api_gateway_event(
    version: str,
    method: str,
    raw_path: bytes,
    raw_query: bytes,
    raw_headers: Headers,
    body: bytes,
    client: Any = None,
) -> dict[str, Any]:
    """The proxy event for a call whose path after /function/NAME is `raw_path`.

    `version` is the manifest's lambda.event: apigateway-v1 or apigateway-v2. The route is a
    greedy proxy (`/{proxy+}`), so `pathParameters.proxy` is that path without its slash."""
    path = unquote(raw_path.decode("latin-1")) or "/"
    query = raw_query.decode("latin-1")
    headers = _grouped([(k, v) for k, v in raw_headers if not k.lower().startswith(b"x-faas-")])
    pairs = parse_qsl(query, keep_blank_values=True)
    multi_query: dict[str, list[str]] = {}
    for key, value in pairs:
        multi_query.setdefault(key, []).append(value)
    text, is_base64 = _body_fields(headers, body)
    proxy = {"proxy": path[1:]} if path != "/" else None
    common = _context_common(headers, client)
    source_ip, agent = common.pop("_source_ip"), (headers.get("user-agent") or [""])[-1]
    if version == "apigateway-v1":
        return {
            "resource": "/{proxy+}",
            "path": path,
            "httpMethod": method,
            "headers": {k: v[-1] for k, v in headers.items()} or None,
            "multiValueHeaders": headers or None,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": proxy,
            "stageVariables": None,
            "requestContext": {
                **common,
                "resourceId": "proxy",
                "resourcePath": "/{proxy+}",
                "httpMethod": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "requestTime": common.pop("time"),
                "requestTimeEpoch": common.pop("timeEpoch"),
                "identity": {"sourceIp": source_ip, "userAgent": agent},
            },
            "body": text,
            "isBase64Encoded": is_base64,
        }
    cookies = [c.strip() for v in headers.pop("cookie", []) for c in v.split(";") if c.strip()]
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {k: ",".join(v) for k, v in headers.items()},
        "requestContext": {
            **common,
            "routeKey": "$default",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": agent,
            },
        },
        "isBase64Encoded": is_base64,
    }
    if cookies:
        event["cookies"] = cookies
    if multi_query:
        event["queryStringParameters"] = {k: ",".join(v) for k, v in multi_query.items()}
    if proxy:
        event["pathParameters"] = proxy
    if text is not None:
        event["body"] = text
    return event


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

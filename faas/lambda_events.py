"""The events a `contract: lambda` function gets, in AWS's shapes, made where the call arrives
(as API Gateway or an event source mapping makes them on AWS): the function's runtime only ever
sees a JSON event, whatever the source.

- API Gateway proxy events (REST v1, HTTP API v2) for calls to /function/NAME/...
- SQS records for a stream trigger's batch: a record's `messageId` is the stream entry's id,
  so the function's `batchItemFailures` (`itemIdentifier`: the messageId) name entries exactly
  as for faas handlers; `body` is the entry's fields as a JSON object,
  `attributes.ApproximateReceiveCount` the attempt.
- an EventBridge scheduled event for a cron tick.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, unquote

from faas.manifest.lambda_options import speaks_lambda

REGION = "us-east-1"
ACCOUNT = "000000000000"
Headers = list[tuple[bytes, bytes]]
# Bodies API Gateway passes as text; anything else (or not UTF-8) goes base64-encoded.
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
_TEXT_PARTS = ("+json", "+xml", "x-www-form-urlencoded")


def is_lambda(record: Any) -> bool:
    return record is not None and speaks_lambda(getattr(record.spec, "contract", "native"))


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


def sqs_event(stream: str, entries: list[tuple[str, dict[bytes, bytes], int]]) -> bytes:
    records = []
    for entry_id, fields, attempt in entries:
        data = {
            k.decode("utf-8", "replace"): v.decode("utf-8", "replace") for k, v in fields.items()
        }
        body = json.dumps(data)
        sent = entry_id.split("-", 1)[0]
        records.append(
            {
                "messageId": entry_id,
                "receiptHandle": entry_id,
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": str(attempt),
                    "SentTimestamp": sent,
                    "SenderId": ACCOUNT,
                    "ApproximateFirstReceiveTimestamp": sent,
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{stream}",
                "awsRegion": REGION,
            }
        )
    return json.dumps({"Records": records}).encode()


def scheduled_event(function: str, index: int, schedule: str, when: str) -> bytes:
    rule = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{function}-schedule-{index}"
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": when,
        "region": REGION,
        "resources": [rule],
        "detail": {"schedule": schedule},
    }
    return json.dumps(event).encode()

"""The events a `contract: lambda` function gets from faas's triggers, in AWS's shapes: a
stream batch as SQS records, a cron tick as an EventBridge scheduled event.

An SQS record's `messageId` is the stream entry's id, so the function's `batchItemFailures`
(`itemIdentifier`: the messageId) name entries exactly as for faas handlers; `body` is the
entry's fields as a JSON object, `attributes.ApproximateReceiveCount` the attempt.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

REGION = "us-east-1"
ACCOUNT = "000000000000"


def is_lambda(record: Any) -> bool:
    return record is not None and getattr(record.spec, "contract", "native") == "lambda"


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

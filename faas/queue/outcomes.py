"""What one attempt of an async call comes to: the store operation that records it (finished,
retried, dead-lettered), the fields of its call record, and the callback that reports it.

Pure functions of the attempt's result and the retry policy's decision, so the consumer
(faas.queue.consumer) only runs calls and hands these to the writer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from faas.pool.invoker import CallResult
from faas.queue.callbacks import result_headers
from faas.queue.ops import Dead, Finish, Op, Retry
from faas.queue.records import CallStatus, Message
from faas.queue.retry import Action, Failure, FailureKind, RetryPolicy

MAX_RESULT = 1024 * 1024  # bytes of a function's answer kept in the call record


def settle(
    m: Message,
    result: CallResult | None,
    failure: Failure | None,
    policy: RetryPolicy,
    now: float,
    rand: Callable[[], float],
    result_ttl: float,
) -> Op:
    """The operation that records this attempt, as the retry policy decides."""
    decision = policy.decide(
        failure,
        attempt=m.attempt,
        platform_failures=m.platform_failures,
        age=now - m.created,
        rand=rand,
    )
    fields = outcome_fields(result, failure, now)
    fields["attempts"] = m.attempt + int(decision.counted)
    if decision.action is Action.SUCCEED or decision.action is Action.FAIL:
        status = CallStatus.SUCCEEDED if decision.action is Action.SUCCEED else CallStatus.FAILED
        fields["status"] = status.value
        return Finish(m, fields, result_ttl)
    if decision.action is Action.RETRY:
        due = now + decision.delay
        fields.update(status=CallStatus.QUEUED.value, next_attempt_at=repr(due))
        return Retry(m, m.next_attempt(counted=decision.counted), due, fields)
    assert failure is not None
    return dead_op(m, decision.reason, failure, decision.counted, now, fields)


def dead_op(
    m: Message,
    reason: str,
    failure: Failure,
    counted: bool,
    now: float,
    fields: dict[str, Any] | None = None,
) -> Dead:
    """The call gives up: its record says dead, the dead-letter stream says why."""
    fields = fields or outcome_fields(None, failure, now)
    attempts = m.attempt + int(counted)
    fields.update(status=CallStatus.DEAD.value, reason=reason, attempts=attempts)
    meta = {
        "reason": reason,
        "code": failure.code,
        "error": failure.message[:2000],
        "attempts": str(attempts),
        "dead_at": repr(now),
    }
    return Dead(m, fields, meta)


def callback_message(
    m: Message, op: Op, result: CallResult | None, failure: Failure | None, now: float
) -> tuple[dict[str, str], bytes]:
    """The headers and body POSTed to the call's X-Callback-Url (OpenFaaS's shape)."""
    started = float(op.fields.get("started_at") or m.created)
    if result is not None:
        code, body = result.status, result.body
        content_type = _header(result.headers, "content-type") or "application/octet-stream"
    else:
        code = failure.status if failure else 500
        error = {"code": failure.code, "message": failure.message} if failure else {}
        body, content_type = json.dumps({"error": error}).encode(), "application/json"
    headers = result_headers(
        m.call_id, m.function, code, now - started, str(op.fields.get("status"))
    )
    headers["Content-Type"] = content_type
    return headers, body


def batch_failure(body: bytes) -> Failure | None:
    """A redriven trigger item: a 2xx that lists batchItemFailures still failed."""
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
        return None
    if isinstance(answer, dict) and answer.get("batchItemFailures"):
        return Failure(
            FailureKind.FUNCTION, "batch_item_failure", "the function reported the item failed", 500
        )
    return None


def outcome_fields(
    result: CallResult | None, failure: Failure | None, now: float
) -> dict[str, Any]:
    fields: dict[str, Any] = {"finished_at": repr(now), "next_attempt_at": ""}
    if result is not None:
        body = result.body
        fields.update(
            result_status=result.status,
            result_headers=json.dumps(
                {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in result.headers}
            ),
            result_body=body[:MAX_RESULT],
            # The whole answer's size, when only its first MAX_RESULT bytes are kept.
            result_truncated=str(len(body)) if len(body) > MAX_RESULT else "",
            start=result.start.value,
            timings=json.dumps({k: round(v, 3) for k, v in result.timings.items()}),
        )
    if failure is not None:
        fields.update(error_code=failure.code, error=failure.message[:2000])
    else:
        fields.update(error_code="", error="")
    return fields


def _header(headers: list[tuple[bytes, bytes]], name: str) -> str:
    for key, value in headers:
        if key.decode("latin-1").lower() == name:
            return value.decode("latin-1")
    return ""

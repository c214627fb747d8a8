"""What happens after an attempt: done, retry after a delay, or give up (and why).

Pure code with an injected random source, unit-tested without Redis or Docker.

    outcome of an attempt                         counts?  then
    1xx-3xx                                       -        succeeded
    408, 429, 5xx answered by the function        yes      retry (429/503: after Retry-After)
    timeout, crash, OOM, init failure (502/504)   yes      retry
    other 4xx answered by the function            -        failed (never retried)
    Docker or Redis unavailable, pool at its      no       retry (after Retry-After if given)
      scale limit (platform failures)
    function removed                              -        dead ("not_found")

A counted attempt that reaches `max_attempts` goes to the dead-letter stream ("max_attempts").
Platform failures do not use the function's attempts, but no retry is scheduled past
`max_age` from the call's creation: then the call is dead ("expired"), and an event that is
already older than `max_age` when a consumer picks it up is never run.
Back-off is exponential with full jitter: uniform in [0, min(cap, base * 2**(n-1))].
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from faas.errors import (
    AtScaleLimit,
    DockerError,
    FaasError,
    FunctionFailed,
    FunctionNotFound,
    FunctionTimeout,
    Unavailable,
)


class FailureKind(StrEnum):
    FUNCTION = "function"  # counts against the function's attempts
    PLATFORM = "platform"  # Docker/Redis down, pool full: does not count
    REJECTED = "rejected"  # a 4xx: retrying will not help
    GONE = "gone"  # the function no longer exists


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    code: str
    message: str
    status: int
    retry_after: float | None = None


class Action(StrEnum):
    SUCCEED = "succeed"
    FAIL = "fail"
    RETRY = "retry"
    DEAD = "dead"


@dataclass(frozen=True)
class Decision:
    action: Action
    delay: float = 0.0  # seconds until the next attempt (RETRY)
    reason: str = ""  # why it is dead (DEAD): max_attempts, expired, not_found
    counted: bool = False  # this attempt used one of the function's attempts


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    base: float = 1.0
    cap: float = 300.0
    max_age: float = 6 * 3600.0

    def backoff(self, n: int, rand: Callable[[], float]) -> float:
        """Full jitter for the n-th retry (n >= 1)."""
        ceiling = min(self.cap, self.base * 2 ** max(0, n - 1))
        return float(rand() * ceiling)

    def expired(self, age: float) -> bool:
        return age > self.max_age

    def decide(
        self,
        failure: Failure | None,
        *,
        attempt: int,
        platform_failures: int,
        age: float,
        rand: Callable[[], float],
    ) -> Decision:
        """`attempt`/`platform_failures`: how many were made before this one."""
        if failure is None:
            return Decision(Action.SUCCEED, counted=True)
        if failure.kind is FailureKind.REJECTED:
            return Decision(Action.FAIL, counted=True)
        if failure.kind is FailureKind.GONE:
            return Decision(Action.DEAD, reason="not_found")
        counted = failure.kind is FailureKind.FUNCTION
        if counted and attempt + 1 >= self.max_attempts:
            return Decision(Action.DEAD, reason="max_attempts", counted=True)
        n = attempt + 1 if counted else platform_failures + 1
        delay = self.backoff(n, rand)
        if failure.retry_after is not None:
            delay = min(self.cap, max(delay, failure.retry_after))
        if age + delay > self.max_age:
            return Decision(Action.DEAD, reason="expired", counted=counted)
        return Decision(Action.RETRY, delay=delay, counted=counted)


def classify_status(
    status: int, headers: list[tuple[bytes, bytes]], now: float, body: bytes = b""
) -> Failure | None:
    """A function's HTTP answer: None when it succeeded."""
    if status < 400:
        return None
    message = f"the function answered {status}"
    if body:
        message += ": " + body[:300].decode("utf-8", "replace")
    if status in (408, 429) or status >= 500:
        retry_after = None
        if status in (429, 503):
            retry_after = parse_retry_after(_header(headers, b"retry-after"), now)
        return Failure(FailureKind.FUNCTION, "function_status", message, status, retry_after)
    return Failure(FailureKind.REJECTED, "function_status", message, status)


def classify_error(exc: BaseException) -> Failure:
    """An exception from the invoker."""
    if isinstance(exc, FunctionNotFound):
        return Failure(FailureKind.GONE, exc.code, exc.message, exc.status)
    if isinstance(exc, AtScaleLimit):
        return Failure(FailureKind.PLATFORM, exc.code, exc.message, exc.status, exc.retry_after)
    if isinstance(exc, Unavailable):
        return Failure(FailureKind.PLATFORM, exc.code, exc.message, exc.status)
    if isinstance(exc, FunctionFailed | FunctionTimeout | DockerError):
        return Failure(FailureKind.FUNCTION, exc.code, exc.message, exc.status)
    if isinstance(exc, FaasError):
        return Failure(FailureKind.FUNCTION, exc.code, exc.message, exc.status)
    return Failure(FailureKind.FUNCTION, "internal", f"{type(exc).__name__}: {exc}", 500)


def parse_retry_after(value: bytes | None, now: float) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; None if absent/bad."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None

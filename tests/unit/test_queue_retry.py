"""The retry policy of async calls: pure, with an injected random source."""

from __future__ import annotations

import email.utils

import pytest

from faas.errors import (
    AtScaleLimit,
    DockerUnavailable,
    FunctionCrashed,
    FunctionNotFound,
    FunctionTimeout,
    OutOfMemory,
    RedisUnavailable,
)
from faas.queue.retry import (
    Action,
    Failure,
    FailureKind,
    RetryPolicy,
    classify_error,
    classify_status,
    parse_retry_after,
)

POLICY = RetryPolicy(max_attempts=3, base=1.0, cap=60.0, max_age=3600.0)
FUNCTION = Failure(FailureKind.FUNCTION, "function_status", "boom", 500)
PLATFORM = Failure(FailureKind.PLATFORM, "docker_unavailable", "docker down", 503)


def top(*_: object) -> float:
    return 1.0


def decide(failure: Failure | None, attempt: int = 0, platform: int = 0, age: float = 0.0):  # type: ignore[no-untyped-def]
    return POLICY.decide(failure, attempt=attempt, platform_failures=platform, age=age, rand=top)


def test_backoff_is_exponential_with_full_jitter_and_a_cap() -> None:
    assert [POLICY.backoff(n, top) for n in (1, 2, 3, 4, 7, 20)] == [1, 2, 4, 8, 60, 60]
    assert POLICY.backoff(5, lambda: 0.0) == 0.0
    assert POLICY.backoff(3, lambda: 0.25) == 1.0


def test_success_and_rejection_are_final() -> None:
    assert decide(None).action is Action.SUCCEED
    rejected = Failure(FailureKind.REJECTED, "function_status", "no", 400)
    assert decide(rejected).action is Action.FAIL
    assert decide(rejected).counted


def test_function_failures_use_attempts_then_die() -> None:
    first = decide(FUNCTION, attempt=0)
    assert (first.action, first.delay, first.counted) == (Action.RETRY, 1.0, True)
    second = decide(FUNCTION, attempt=1)
    assert (second.action, second.delay) == (Action.RETRY, 2.0)
    last = decide(FUNCTION, attempt=2)
    assert (last.action, last.reason, last.counted) == (Action.DEAD, "max_attempts", True)


def test_platform_failures_do_not_use_attempts_but_stop_at_max_age() -> None:
    many = decide(PLATFORM, attempt=2, platform=4)
    assert (many.action, many.counted, many.delay) == (Action.RETRY, False, 16.0)
    old = decide(PLATFORM, attempt=0, platform=4, age=3590.0)
    assert (old.action, old.reason) == (Action.DEAD, "expired")


def test_retry_after_is_honoured_within_the_cap() -> None:
    slow = Failure(FailureKind.FUNCTION, "function_status", "busy", 429, retry_after=30.0)
    assert decide(slow).delay == 30.0
    huge = Failure(FailureKind.FUNCTION, "function_status", "busy", 429, retry_after=9999.0)
    assert decide(huge).delay == 60.0


def test_a_retry_past_the_maximum_age_is_dead_now() -> None:
    decision = decide(FUNCTION, attempt=0, age=3599.5)
    assert (decision.action, decision.reason) == (Action.DEAD, "expired")
    assert POLICY.expired(3600.1) and not POLICY.expired(3599.0)


def test_a_removed_function_is_dead_at_once() -> None:
    gone = classify_error(FunctionNotFound("x"))
    assert (decide(gone).action, decide(gone).reason) == (Action.DEAD, "not_found")


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, None),
        (204, None),
        (302, None),
        (400, FailureKind.REJECTED),
        (404, FailureKind.REJECTED),
        (418, FailureKind.REJECTED),
        (408, FailureKind.FUNCTION),
        (429, FailureKind.FUNCTION),
        (500, FailureKind.FUNCTION),
        (503, FailureKind.FUNCTION),
    ],
)
def test_function_statuses(status: int, kind: FailureKind | None) -> None:
    failure = classify_status(status, [], 0.0, b"why")
    assert (failure.kind if failure else None) is kind
    if failure:
        assert failure.message == f"the function answered {status}: why"


def test_a_429_carries_its_retry_after() -> None:
    failure = classify_status(429, [(b"Retry-After", b"7")], 0.0)
    assert failure is not None and failure.retry_after == 7.0


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (DockerUnavailable("down"), FailureKind.PLATFORM),
        (RedisUnavailable("down"), FailureKind.PLATFORM),
        (AtScaleLimit("full", retry_after=2.0), FailureKind.PLATFORM),
        (FunctionTimeout("slow"), FailureKind.FUNCTION),
        (FunctionCrashed("died"), FailureKind.FUNCTION),
        (OutOfMemory("oom"), FailureKind.FUNCTION),
        (RuntimeError("bug"), FailureKind.FUNCTION),
        (FunctionNotFound("x"), FailureKind.GONE),
    ],
)
def test_invoker_errors(exc: Exception, kind: FailureKind) -> None:
    assert classify_error(exc).kind is kind


def test_retry_after_forms() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after(b"120", now) == 120.0
    date = email.utils.formatdate(now + 30, usegmt=True).encode()
    assert parse_retry_after(date, now) == pytest.approx(30.0, abs=1.0)
    assert parse_retry_after(b"soon", now) is None
    assert parse_retry_after(None, now) is None

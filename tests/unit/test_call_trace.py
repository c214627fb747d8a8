"""A call's trace: phases in Server-Timing order and the start kind of its last attempt."""

from __future__ import annotations

from faas.pool.policy import StartKind
from faas.pool.trace import CallTrace


def test_phases_come_out_in_server_timing_order_and_only_when_measured() -> None:
    trace = CallTrace()
    trace.total, trace.handler, trace.queue = 3.0, 1.25, 0.5
    assert list(trace.timings()) == ["queue", "handler", "total"]
    assert trace.server_timing() == "queue;dur=0.500, handler;dur=1.250, total;dur=3.000"
    assert CallTrace().timings() == {} and CallTrace().server_timing() == ""


def test_the_last_attempt_is_what_the_call_reports() -> None:
    trace = CallTrace()
    assert trace.kind is None  # failed before any attempt (scale limit, back-off)
    trace.attempt(StartKind.WARM)  # its container was gone: attempted again
    trace.attempt(StartKind.PREWARM)
    trace.became(StartKind.COLD)  # no spare to load after all
    assert trace.attempts == [StartKind.WARM, StartKind.COLD]
    assert trace.kind is StartKind.COLD


def test_traces_do_not_share_state() -> None:
    one, two = CallTrace(), CallTrace()
    one.attempt(StartKind.WARM)
    one.load = 2.0
    assert two.attempts == [] and two.load is None

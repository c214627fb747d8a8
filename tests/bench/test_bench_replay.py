"""faas_bench.traces and faas_bench.replay: small traces worked out by hand, plus properties.

The replay drives faas's own FunctionPool with maintenance on a 1 s tick, so the hand
computations follow the gateway: a container expires or pauses at the first tick at or after
its due time. "idle" is running-idle container-seconds, "paused" paused ones; the horizon is
the end of the last call.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from faas.pool.policy import Create, FunctionPool
from faas_bench.replay import Setup, default_setups, replay, replay_table
from faas_bench.traces import Invocation, bursty, diurnal, periodic, read_trace, steady, write_trace


def calls(*spec: tuple[float, float], function: str = "f") -> list[Invocation]:
    return [Invocation(t, function, d) for t, d in spec]


def starts(row: dict[str, Any]) -> tuple[int, int, int, int]:
    return row["cold"], row["prewarm"], row["paused"], row["warm"]


# --- the pool's policy on hand-computed traces


def test_no_pool_removes_a_container_at_the_next_tick() -> None:
    # Released at 0.5, removed by the tick at 1 (idle 0.5); the call at 10 is cold again.
    row = replay(calls((0, 0.5), (10, 0.5)), Setup(0.0))
    assert starts(row) == (2, 0, 0, 0)
    assert row["idle_seconds"] == pytest.approx(0.5)
    assert row["cold_pct"] == 100.0 and row["horizon"] == 10.5
    # Before that tick the container is still there: keep_alive 0 serves this call warm.
    assert starts(replay(calls((0, 0.2), (0.5, 0.2)), Setup(0.0))) == (1, 0, 0, 1)


def test_keep_alive_expires_at_the_first_tick_after_it_runs_out() -> None:
    # A: cold 0-1, idle 1-5, warm 5-6, idle 6-16 (expired at 16); the call at 30 is cold.
    row = replay(calls((0, 1), (5, 1), (30, 1)), Setup(10.0))
    assert starts(row) == (2, 0, 0, 1)
    assert row["idle_seconds"] == pytest.approx(14.0)
    assert row["paused_seconds"] == 0.0


def test_a_busy_container_is_not_reused() -> None:
    row = replay(calls((0, 5), (1, 1), (7, 1)), Setup(600.0))
    assert starts(row) == (2, 0, 0, 1)  # B cold at 1; at 7 the most recently used (A) warm


def test_pause_after_grace_then_resume() -> None:
    # Released at 1.5, due to pause at 3.5, paused by the tick at 4: idle 2.5, paused 6.
    row = replay(calls((0, 1.5), (10, 1)), Setup(600.0, pause_after=2.0))
    assert starts(row) == (1, 0, 1, 0)
    assert row["idle_seconds"] == pytest.approx(2.5)
    assert row["paused_seconds"] == pytest.approx(6.0)


def test_scale_min_starts_a_container_at_zero_and_after_its_first_call_it_is_warm() -> None:
    row = replay(calls((5, 1), (5.5, 1), (20, 1)), Setup(600.0, scale_min=1))
    # A pre-started at 0: prewarm at 5; B cold at 5.5 (A busy); at 20 B (used last) warm.
    assert starts(row) == (1, 1, 0, 1)
    # A idle 0-5 and 6-21, B idle 6.5-20: 5 + 15 + 13.5.
    assert row["idle_seconds"] == pytest.approx(33.5)


def test_cold_delay_keeps_the_container_busy_and_delays_pre_starts() -> None:
    trace = calls((0, 1), (1.2, 1))
    assert starts(replay(trace, Setup(600.0))) == (1, 0, 0, 1)
    assert starts(replay(trace, Setup(600.0), cold_delay=0.5)) == (2, 0, 0, 0)
    # The scale.min container is ready at 0.3: a call at 0.1 starts its own.
    assert starts(replay(calls((0.1, 1)), Setup(600.0, 1), cold_delay=0.3)) == (1, 0, 0, 0)


def test_the_replay_asks_faas_pool_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FunctionPool, "decide", lambda self, force_cold=False: Create())
    assert starts(replay(calls((0, 1), (5, 1)), Setup(600.0))) == (2, 0, 0, 0)


def test_functions_have_pools_of_their_own() -> None:
    trace = sorted(calls((0, 1), (5, 1), function="a") + calls((2, 1), function="b"))
    assert starts(replay(trace, Setup(600.0))) == (2, 0, 0, 1)


def test_setups_are_checked_and_named() -> None:
    with pytest.raises(ValueError, match="negative"):
        Setup(-1.0)
    with pytest.raises(ValueError, match="cold delay"):
        replay([], Setup(1.0), cold_delay=-1)
    names = [s.name for s in default_setups(600, 2, 30)]
    assert names == [
        "no pool (keep_alive 0s)",
        "keep_alive 10m",
        "keep_alive 10m, pause after 30s",
        "keep_alive 10m, scale.min 2, pause after 30s",
    ]


def test_every_call_is_accounted_and_longer_keep_alive_trades_idle_for_cold_starts() -> None:
    trace = sorted(bursty(2, 3600, on=20, off=300, seed=4) + periodic(120, 5, 3600, function="c"))
    setups = [Setup(0.0), Setup(60.0), Setup(600.0)]
    table = replay_table(trace, setups, cold_delay=0.3, source="t.csv")
    assert table == replay_table(trace, setups, cold_delay=0.3, source="t.csv")  # deterministic
    assert table["invocations"] == len(trace) and table["functions"] == 2
    rows = table["policies"]
    assert all(sum(starts(row)) == len(trace) for row in rows)
    assert rows[0]["cold_pct"] > rows[1]["cold_pct"] > rows[2]["cold_pct"]
    assert rows[0]["idle_seconds"] < rows[1]["idle_seconds"] < rows[2]["idle_seconds"]


# --- traces


def test_steady_is_seeded_and_sorted() -> None:
    a = steady(10, 1000, seed=5)
    assert a == steady(10, 1000, seed=5)
    assert a != steady(10, 1000, seed=6)
    assert a == sorted(a)
    assert all(0 <= i.timestamp < 1000 and i.duration == 0.1 for i in a)
    assert abs(len(a) - 10_000) < 400  # Poisson: sd = 100
    even = steady(2, 3, poisson=False)
    assert [i.timestamp for i in even] == [0, 0.5, 1, 1.5, 2, 2.5]


def test_bursty_only_in_on_windows() -> None:
    trace = bursty(20, 300, on=10, off=50, seed=1)
    assert trace and all(i.timestamp % 60 < 10 for i in trace)
    assert abs(len(trace) - 20 * 10 * 5) < 4 * math.sqrt(1000)


def test_periodic_cron() -> None:
    trace = periodic(300, 2.0, 3600, function="cron", seed=1)
    assert len(trace) == 12
    assert all(0 <= i.timestamp - k * 300 <= 2.0 for k, i in enumerate(trace))
    with pytest.raises(ValueError, match="jitter"):
        periodic(10, 10, 100)


def test_diurnal_peaks_mid_period() -> None:
    # rate(t) = 10 (1 - cos(2 pi t / 1000)) / 2: 5000 calls expected, 4092 in [250, 750).
    trace = diurnal(10, 1000, period=1000, seed=3)
    middle = sum(250 <= i.timestamp < 750 for i in trace)
    assert abs(len(trace) - 5000) < 300
    assert abs(middle - 4092) < 260


def test_duration_callable_and_bad_durations() -> None:
    trace = steady(5, 10, duration=lambda r: r.uniform(1, 2), seed=1)
    assert all(1 <= i.duration <= 2 for i in trace)
    with pytest.raises(ValueError, match="duration"):
        steady(5, 10, duration=-1.0)


def test_csv_round_trip(tmp_path: Path) -> None:
    trace = sorted(steady(3, 20, function="a,b", seed=1) + periodic(5, 1, 20, function="c"))
    path = tmp_path / "trace.csv"
    write_trace(path, trace)
    assert path.read_text().splitlines()[0] == "timestamp,function,duration"
    assert read_trace(path) == trace


def test_read_trace_sorts_and_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("timestamp,function,duration\n5,f,1\n\n1.5, g ,0.25\n")
    assert read_trace(path) == [Invocation(1.5, "g", 0.25), Invocation(5.0, "f", 1.0)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("time,fn,dur\n", ":1: expected the header"),
        ("", ":1: expected the header"),
        ("timestamp,function,duration\n1,f,1\n2,f\n", ":3: expected 3 fields"),
        ("timestamp,function,duration\nsoon,f,1\n", ":2: timestamp must be a number"),
        ("timestamp,function,duration\n1,f,-2\n", ":2: duration must be a non-negative"),
        ("timestamp,function,duration\nnan,f,1\n", ":2: timestamp must be a non-negative"),
        ("timestamp,function,duration\n1, ,1\n", ":2: function name is empty"),
    ],
)
def test_read_trace_errors_name_the_line(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(ValueError, match=message):
        read_trace(path)

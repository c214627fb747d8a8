"""faas.bench.traces and faas.bench.replay: small traces worked out by hand, plus properties.

Notation in the comments: A, B, ... are containers; "idle +x" is running-idle container
seconds, "paused +x" paused ones. The horizon is the end of the last call.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from faas.bench.replay import (
    FixedKeepAlive,
    HybridHistogram,
    NoPool,
    PauseAfterGrace,
    PoolStats,
    PrestartN,
    compare_policies,
    format_table,
    replay,
)
from faas.bench.traces import (
    Invocation,
    bursty,
    diurnal,
    merge,
    periodic,
    read_trace,
    steady,
    write_trace,
)


def calls(*spec: tuple[float, float], function: str = "f") -> list[Invocation]:
    return [Invocation(t, function, d) for t, d in spec]


def stats(
    cold: int, prewarm: int, paused: int, warm: int, idle: float, paused_s: float = 0.0
) -> PoolStats:
    return PoolStats(cold + prewarm + paused + warm, cold, prewarm, paused, warm, idle, paused_s)


# --- policies on hand-computed traces


def test_no_pool_every_call_cold() -> None:
    # The call at t=1 arrives exactly when A ends: keep-alive 0 means A is already gone.
    result = replay(calls((0, 1), (1, 1), (5, 2)), NoPool())
    assert result.total == stats(cold=3, prewarm=0, paused=0, warm=0, idle=0.0)
    assert result.horizon == 7.0
    assert result.total.cold_pct == 100.0


def test_fixed_keep_alive_sequential() -> None:
    # t=0  cold A, busy [0,1), alive until 11
    # t=5  A warm, idle +4 (1..5); alive until 16
    # t=20 A expired at 16: idle +10 (6..16); cold B, alive until 31
    # t=25 B warm, idle +4 (21..25); ends 27 = horizon, idle +0
    trace = calls((0, 1), (5, 1), (20, 1), (25, 2))
    result = replay(trace, FixedKeepAlive(10))
    assert result.total == stats(cold=2, prewarm=0, paused=0, warm=2, idle=18.0)
    assert result.total.cold_pct == 50.0


def test_fixed_keep_alive_is_half_open() -> None:
    # A ends at 1, alive for [1, 11): the call at exactly 11 is cold; idle +10.
    result = replay(calls((0, 1), (11, 1)), FixedKeepAlive(10))
    assert result.total == stats(cold=2, prewarm=0, paused=0, warm=0, idle=10.0)


def test_fixed_keep_alive_concurrent() -> None:
    # t=0 cold A, busy until 5; t=1 A busy: cold B, busy until 2
    # t=3 B warm, idle +1 (2..3), busy until 4
    # horizon 5: A ends at 5, idle +0; B idle +1 (4..5)
    result = replay(calls((0, 5), (1, 1), (3, 1)), FixedKeepAlive(10))
    assert result.total == stats(cold=2, prewarm=0, paused=0, warm=1, idle=2.0)


def test_cold_delay_lengthens_cold_calls() -> None:
    # Cold calls take 2 s more. t=0 cold A, busy until 3; t=2.5 A busy: cold B, until 5.5
    # t=4 A warm, idle +1 (3..4), busy until 5; horizon 5.5: A idle +0.5, B +0
    trace = calls((0, 1), (2.5, 1), (4, 1))
    result = replay(trace, FixedKeepAlive(10), cold_delay=2.0)
    assert result.total == stats(cold=2, prewarm=0, paused=0, warm=1, idle=1.5)
    assert result.horizon == 5.5
    # Without the delay, A is free again at 1 and serves every call.
    assert replay(trace, FixedKeepAlive(10)).total.cold_starts == 1


def test_horizon_is_trace_wide() -> None:
    # f's container idles from 1 until g's call ends at 11: idle +10.
    trace = merge(calls((0, 1)), calls((10, 1), function="g"))
    result = replay(trace, FixedKeepAlive(math.inf))
    assert result.functions == {
        "f": stats(cold=1, prewarm=0, paused=0, warm=0, idle=10.0),
        "g": stats(cold=1, prewarm=0, paused=0, warm=0, idle=0.0),
    }
    assert result.total == stats(cold=2, prewarm=0, paused=0, warm=0, idle=10.0)
    assert replay(trace, FixedKeepAlive(math.inf), until=20).total.idle_seconds == 28.0
    with pytest.raises(ValueError, match="before the last call ends"):
        replay(trace, NoPool(), until=5)


def test_prestart_spares_are_replaced() -> None:
    # Spare S0 from t=0. Keep-alive 0, so used containers go at once.
    # t=2   S0 prewarm, idle +2; spare S1 from 2
    # t=2.5 S0 busy: S1 prewarm, idle +0.5; spare S2 from 2.5
    # t=10  S0, S1 gone; S2 prewarm, idle +7.5; spare S3 from 10
    # horizon 11: S3 idle +1
    result = replay(calls((2, 1), (2.5, 1), (10, 1)), PrestartN(1, keep_alive=0))
    assert result.total == stats(cold=0, prewarm=3, paused=0, warm=0, idle=11.0)


def test_prestart_prefers_warm_over_spare() -> None:
    # t=0 S0 prewarm, spare S1 from 0; S0 alive after 1 until 6
    # t=3 S0 warm (preferred to the spare), idle +2; horizon 4: S1 idle +4
    result = replay(calls((0, 1), (3, 1)), PrestartN(1, keep_alive=5))
    assert result.total == stats(cold=0, prewarm=1, paused=0, warm=1, idle=6.0)


def test_pause_after_grace() -> None:
    # Grace 2, keep-alive 10 (from the end of each call).
    # t=0  cold A, ends 1: running until 3, paused until 11
    # t=2  A warm, idle +1; ends 3: running until 5, paused until 13
    # t=8  A paused start: idle +2 (3..5), paused +3 (5..8); ends 9: running to 11, paused to 19
    # t=30 A expired at 19: idle +2, paused +8; cold B; horizon 31
    trace = calls((0, 1), (2, 1), (8, 1), (30, 1))
    result = replay(trace, PauseAfterGrace(grace=2, keep_alive=10))
    assert result.total == stats(cold=2, prewarm=0, paused=1, warm=1, idle=5.0, paused_s=11.0)
    assert result.total.wasted_seconds == 16.0


def small_hybrid(min_samples: int = 2) -> HybridHistogram:
    return HybridHistogram(range=100, bin=10, min_samples=min_samples)  # 10 bins of 10 s


def test_hybrid_histogram_prewarms_a_regular_function() -> None:
    # Calls 1 s long every 51 s: every idle time is 50 s, bin 5.
    # t=0   cold A; <2 samples: keep alive 100 (range)
    # t=51  IT 50; A warm, idle +50; still 1 sample: keep alive 100
    # t=102 IT 50; A warm, idle +50. Bins [0,0,0,0,0,2,0,0,0,0]: mean 0.2,
    #       sample var (4 - 0.4)/9 = 0.4, CV 3.16 >= 2: head and tail both in bin 5;
    #       unload for 50 * 0.9 = 45 s, then alive until 60 * 1.1 = 66 s: [148, 169)
    # t=153 A pre-warmed at 148: prewarm start, idle +5; next load [199, 220)
    # t=204 prewarm, idle +5; A unloaded, next load at 250
    # t=220 IT 15 (bin 1): A not loaded yet: cold start takes A (pre-warm cancelled)
    # horizon 221: A unloaded, idle +0
    trace = calls((0, 1), (51, 1), (102, 1), (153, 1), (204, 1), (220, 1))
    result = replay(trace, small_hybrid())
    assert result.total == stats(cold=2, prewarm=2, paused=0, warm=2, idle=110.0)
    # A 100 s keep-alive: one cold start, but idle 4 * 50 + 15 = 215.
    fixed = replay(trace, FixedKeepAlive(100)).total
    assert fixed == stats(cold=1, prewarm=0, paused=0, warm=5, idle=215.0)


def test_hybrid_histogram_falls_back_to_range_keep_alive() -> None:
    # Fewer than min_samples idle times: exactly a fixed keep-alive of the range.
    trace = calls((0, 1), (51, 1), (102, 1), (153, 1), (300, 1))
    assert replay(trace, small_hybrid(10)).total == replay(trace, FixedKeepAlive(100)).total


def test_hybrid_histogram_flat_histogram_is_not_trusted() -> None:
    # Idle times spread evenly over all 10 bins: CV of the counts is 0 < 2, so keep-alive
    # of the range, which serves every call warm here.
    spec, t = [], 0.0
    for gap in [5, 15, 25, 35, 45, 55, 65, 75, 85, 95, 5, 15]:
        spec.append((t, 0.0))
        t += gap
    result = replay(calls(*spec), small_hybrid(5))
    assert result.total.cold_starts == 1
    assert result.total.prewarm_starts == 0


def test_hybrid_histogram_out_of_range_uses_last_idle_time() -> None:
    # Calls of 0 s every 200 s: every idle time is beyond the 100 s range.
    # t=0   cold A, keep alive 100 -> expires 100
    # t=200 A expired: idle +100; cold B; 1 sample: keep alive 100 -> expires 300
    # t=400 B expired: idle +100; cold C; 2 samples, all out of range: forecast 200,
    #       unload for 170, alive 60 s: [570, 630)
    # t=600 C prewarm, idle +30; horizon 600
    trace = calls((0, 0), (200, 0), (400, 0), (600, 0))
    result = replay(trace, small_hybrid())
    assert result.total == stats(cold=3, prewarm=1, paused=0, warm=0, idle=230.0)


def test_hybrid_histogram_state_is_per_function_and_per_replay() -> None:
    one = calls((0, 1), (51, 1), (102, 1), (153, 1), (204, 1), (220, 1))
    two = [Invocation(i.timestamp, "g", i.duration) for i in one]
    policy = small_hybrid()
    result = replay(merge(one, two), policy)
    assert result.functions["f"] == result.functions["g"]
    assert result.functions["f"] == replay(one, policy).total  # nothing learnt carried over


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="keep-alive"):
        FixedKeepAlive(-1)
    with pytest.raises(ValueError, match="n must not"):
        PrestartN(-1)
    with pytest.raises(ValueError, match="bins"):
        HybridHistogram(range=10, bin=10)
    with pytest.raises(ValueError, match="head"):
        HybridHistogram(head=50, tail=10)


# --- properties on generated traces


def mixed_trace() -> list[Invocation]:
    return merge(
        steady(0.5, 600, function="api", duration=lambda r: r.uniform(0.05, 3.0), seed=1),
        bursty(5.0, 600, on=5, off=55, function="burst", seed=2),
        periodic(60, 5, 600, function="cron", duration=2.0, seed=3),
    )


ALL_POLICIES = [
    NoPool(),
    FixedKeepAlive(10),
    FixedKeepAlive(600),
    PrestartN(2, 30),
    PauseAfterGrace(5, 120),
    HybridHistogram(range=300, bin=10, min_samples=5),
]


def test_no_pool_property() -> None:
    total = replay(mixed_trace(), NoPool()).total
    assert total.cold_starts == total.invocations > 0
    assert total.idle_seconds == total.paused_seconds == 0.0


def test_infinite_keep_alive_sequential_calls_one_cold() -> None:
    rng = random.Random(7)
    t, spec = 0.0, []
    for _ in range(200):
        duration = rng.uniform(0, 2)
        spec.append((t, duration))
        t += duration + rng.expovariate(0.1)
    total = replay(calls(*spec), FixedKeepAlive(math.inf)).total
    assert (total.cold_starts, total.warm_starts) == (1, 199)
    # One container, alive all along: idle is the horizon minus the time spent executing.
    busy = sum(d for _, d in spec)
    assert total.idle_seconds == pytest.approx(spec[-1][0] + spec[-1][1] - busy)


def test_every_policy_accounts_every_call_deterministically() -> None:
    trace = mixed_trace()
    results = compare_policies(trace, ALL_POLICIES)
    assert results == compare_policies(trace, ALL_POLICIES)
    assert [r.policy for r in results] == [p.name for p in ALL_POLICIES]
    for r in results:
        t = r.total
        assert t.invocations == len(trace)
        assert t.cold_starts + t.prewarm_starts + t.paused_starts + t.warm_starts == len(trace)
        assert sum(r.functions.values(), PoolStats()) == t
        assert t.idle_seconds >= 0 and t.paused_seconds >= 0
    no_pool, short, long_ = results[0].total, results[1].total, results[2].total
    assert no_pool.cold_starts > short.cold_starts > long_.cold_starts
    assert no_pool.idle_seconds < short.idle_seconds < long_.idle_seconds
    table = format_table(results)
    assert "no-pool" in table and "keep-alive 600s" in table


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
    trace = merge(steady(3, 20, function="a,b", seed=1), periodic(5, 1, 20, function="c"))
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

"""faas_bench.cost against numbers worked out by hand (730-hour month = 2,628,000 s)."""

from __future__ import annotations

import math

import pytest

from faas_bench.cost import (
    SECONDS_PER_MONTH,
    CostRow,
    Prices,
    always_on_monthly,
    billed_duration,
    break_even_rate,
    cost_curve,
    cost_per_call,
    gb_seconds_per_call,
    pay_per_use_monthly,
)

# 100 ms at 128 MiB: 0.1 s * 0.125 GB = 0.0125 GB-s;
# per call 0.0125 * $0.0000166667 + $0.20 / 1e6 = $2.0833375e-7 + $2e-7 = $4.0833375e-7.
PER_CALL_100MS_128 = 4.0833375e-7


def test_month_is_730_hours() -> None:
    assert SECONDS_PER_MONTH == 2_628_000


@pytest.mark.parametrize(
    ("duration", "billed"),
    [(0.1, 0.1), (0.0004, 0.001), (0.0015, 0.002), (0.002, 0.002), (0.0, 0.0)],
)
def test_billed_duration_rounds_up_to_1ms(duration: float, billed: float) -> None:
    assert billed_duration(duration) == pytest.approx(billed, abs=1e-12)
    assert billed_duration(0.0015, granularity=0) == 0.0015


def test_gb_seconds_and_cost_per_call() -> None:
    assert gb_seconds_per_call(0.1, 128) == pytest.approx(0.0125)
    assert gb_seconds_per_call(1.0, 1024) == pytest.approx(1.0)
    assert cost_per_call(0.1, 128) == pytest.approx(PER_CALL_100MS_128)
    # Graviton price: 0.0125 * 0.0000133334 + 2e-7 = 3.666675e-7
    arm = Prices(gb_second=0.0000133334)
    assert cost_per_call(0.1, 128, arm) == pytest.approx(3.666675e-7)


def test_pay_per_use_monthly() -> None:
    # 1 call/s: 2,628,000 calls * $4.0833375e-7 = $1.0731011
    assert pay_per_use_monthly(1.0, 0.1, 128) == pytest.approx(1.0731011, abs=1e-6)
    # 1 s at 1 GiB, 1 call/s: 2,628,000 * ($0.0000166667 + $0.0000002) = $44.3256876
    assert pay_per_use_monthly(1.0, 1.0, 1024) == pytest.approx(44.3256876, abs=1e-6)
    assert pay_per_use_monthly(0.0, 1.0, 1024) == 0.0


def test_break_even_rate() -> None:
    # $15 / $1.0731011 per (call/s) = 13.978 calls/s
    rate = break_even_rate(0.1, 128)
    assert rate == pytest.approx(15 / 1.0731011, rel=1e-6)
    assert rate is not None
    assert pay_per_use_monthly(rate, 0.1, 128) == pytest.approx(15.0)
    # $15 / $44.3256876 = 0.3384 calls/s
    assert break_even_rate(1.0, 1024) == pytest.approx(0.338403, rel=1e-5)
    assert break_even_rate(1.0, 1024, monthly_price=30.0) == pytest.approx(2 * 0.338403, rel=1e-5)


def test_break_even_with_capacity() -> None:
    # One instance sustains 10 calls/s: at full load pay-per-use costs $10.73 < $15, so never.
    assert break_even_rate(0.1, 128, capacity=10.0) is None
    assert break_even_rate(0.1, 128, capacity=20.0) == pytest.approx(13.978, rel=1e-4)
    assert break_even_rate(0.0, 128, prices=Prices(0.0, 0.0)) is None


def test_always_on_monthly_steps() -> None:
    assert always_on_monthly(1000.0) == 15.0
    assert always_on_monthly(0.0, capacity=10.0) == 15.0  # never fewer than one
    assert always_on_monthly(10.0, capacity=10.0) == 15.0
    assert always_on_monthly(25.0, capacity=10.0) == 45.0
    with pytest.raises(ValueError, match="capacity"):
        always_on_monthly(1.0, capacity=0.0)


def test_cost_curve_rows() -> None:
    rows = cost_curve([0.0, 1.0, 20.0], 0.1, 128)
    assert [r.rate for r in rows] == [0.0, 1.0, 20.0]
    assert rows[1].pay_per_use_monthly == pytest.approx(1.0731011, abs=1e-6)
    assert rows[2].pay_per_use_monthly == pytest.approx(21.462022, abs=1e-5)
    assert all(r.always_on_monthly == 15.0 for r in rows)
    assert [r.cheaper for r in rows] == ["pay-per-use", "pay-per-use", "always-on"]
    assert CostRow(1.0, 2.0, 2.0).cheaper == "pay-per-use"  # a tie keeps pay-per-use
    stepped = cost_curve([25.0], 0.1, 128, monthly_price=10.0, capacity=10.0)
    assert stepped[0].always_on_monthly == 30.0


@pytest.mark.parametrize(
    ("duration", "memory", "rate", "match"),
    [
        (-1.0, 128.0, 1.0, "duration"),
        (math.nan, 128.0, 1.0, "duration"),
        (0.1, 0.0, 1.0, "memory"),
        (0.1, 128.0, -1.0, "rate"),
    ],
)
def test_rejects_bad_input(duration: float, memory: float, rate: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        pay_per_use_monthly(rate, duration, memory)

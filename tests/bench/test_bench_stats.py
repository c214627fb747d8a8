"""faas_bench.stats and faas_bench.timing: hand-checked numbers and known tables."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from faas_bench import stats
from faas_bench.stats import (
    Summary,
    compare,
    cv,
    interleave,
    mean,
    median_ci_ranks,
    percentile,
    stdev,
    summarize,
)
from faas_bench.timing import (
    CallTiming,
    parse_server_timing,
    parse_start,
)

# --- percentiles: numpy's default ("linear") definition, values from numpy's own docs/examples


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1, 2, 3, 4], 25, 1.75),
        ([1, 2, 3, 4], 50, 2.5),
        ([1, 2, 3, 4], 0, 1.0),
        ([1, 2, 3, 4], 100, 4.0),
        ([15, 20, 35, 40, 50], 40, 29.0),  # h = 4 * 0.4 = 1.6: 20 + 0.6 * 15
        ([10, 7, 4, 3, 2, 1], 50, 3.5),  # numpy.percentile docs example, flattened
        ([4, 1, 3, 2], 75, 3.25),  # unsorted input
        ([7.0], 99, 7.0),
    ],
)
def test_percentile_linear(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)
    with pytest.raises(ValueError, match="finite"):
        percentile([1.0, math.nan], 50)


def test_mean_stdev_cv() -> None:
    data = [2, 4, 4, 4, 5, 5, 7, 9]  # sum of squared deviations from 5 is 32
    assert mean(data) == 5.0
    assert stdev(data) == pytest.approx(math.sqrt(32 / 7))
    assert cv(data) == pytest.approx(math.sqrt(32 / 7) / 5)
    assert stdev([3.0]) == 0.0


# --- median confidence interval: binomial order statistics


@pytest.mark.parametrize(
    ("n", "ranks"),
    [
        (1, (1, 1)),
        (5, (1, 5)),  # too few samples for 95%: widest interval
        (6, (1, 6)),  # 1 - 2/64 = 0.969
        (9, (2, 8)),  # 1 - 2 * 10/512 = 0.961
        (10, (2, 9)),
        (20, (6, 15)),  # P(B <= 5) = 21700 / 2**20 = 0.0207
        (100, (40, 61)),  # the textbook table value
    ],
)
def test_median_ci_ranks_known(n: int, ranks: tuple[int, int]) -> None:
    assert median_ci_ranks(n) == ranks


def _tail(n: int, m: int) -> Fraction:
    return Fraction(sum(math.comb(n, i) for i in range(m + 1)), 2**n)


@pytest.mark.parametrize("confidence", [0.90, 0.95, 0.99])
def test_median_ci_ranks_cover_and_are_tightest(confidence: float) -> None:
    alpha_half = (1 - Fraction(str(confidence))) / 2
    for n in range(1, 120):
        low, high = median_ci_ranks(n, confidence)
        assert high == n + 1 - low
        if low == 1 and _tail(n, 0) > alpha_half:
            continue  # n too small: (1, n) by design
        assert 1 - 2 * _tail(n, low - 1) >= Fraction(str(confidence))  # covers
        assert _tail(n, low) > alpha_half  # one rank tighter would not


def test_median_ci_normal_approximation_matches_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    approximate = {n: median_ci_ranks(n) for n in (5001, 7919, 12000)}
    monkeypatch.setattr(stats, "EXACT_CI_MAX_N", 10**6)
    for n, (low, _) in approximate.items():
        assert abs(median_ci_ranks(n)[0] - low) <= 1


def test_median_ci_values() -> None:
    summary = summarize([float(v) for v in range(20, 0, -1)])  # 20..1, unsorted on purpose
    assert (summary.ci_low, summary.ci_high) == (6.0, 15.0)


# --- summaries and comparisons


def test_summarize_one_to_ten() -> None:
    s = summarize([float(v) for v in range(1, 11)])
    assert s.n == 10
    assert (s.min, s.max, s.mean, s.p50) == (1.0, 10.0, 5.5, 5.5)
    assert s.p95 == pytest.approx(9.55)  # h = 9 * 0.95 = 8.55: 9 + 0.55
    assert s.p99 == pytest.approx(9.91)
    assert s.stdev == pytest.approx(math.sqrt(82.5 / 9))
    assert s.cv == pytest.approx(s.stdev / 5.5)
    assert (s.ci_low, s.ci_high) == (2.0, 9.0)


def test_summarize_empty_and_single() -> None:
    with pytest.raises(ValueError, match="no samples"):
        summarize([])
    s = summarize([4.2])
    assert s == Summary(1, 4.2, 4.2, 4.2, 4.2, 0.0, 0.0, 4.2, 4.2, 4.2, 4.2)


def _summary(p50: float, p95: float, p99: float, ci: tuple[float, float]) -> Summary:
    return Summary(50, p50, p95, p99, p50, 1.0, 0.1, ci[0], ci[1], 0.0, p99)


def test_compare_ratios_and_diffs() -> None:
    candidate = _summary(110.0, 150.0, 200.0, (105.0, 115.0))
    baseline = _summary(100.0, 120.0, 160.0, (98.0, 104.0))
    c = compare(candidate, baseline)
    assert (c.p50_ratio, c.p95_ratio, c.p99_ratio) == (1.1, 1.25, 1.25)
    assert (c.p50_diff, c.p95_diff, c.p99_diff) == (10.0, 30.0, 40.0)
    assert c.medians_differ
    overlapping = _summary(101.0, 120.0, 160.0, (99.0, 103.0))
    assert not compare(overlapping, baseline).medians_differ


def test_compare_zero_baseline() -> None:
    zero = _summary(0.0, 0.0, 0.0, (0.0, 0.0))
    assert compare(zero, zero).p50_ratio == 1.0
    assert compare(_summary(1.0, 1.0, 1.0, (1.0, 1.0)), zero).p50_ratio == math.inf


# --- interleaving


def test_interleave_rotates() -> None:
    assert interleave(["A", "B", "C"], 4) == [
        ["A", "B", "C"],
        ["B", "C", "A"],
        ["C", "A", "B"],
        ["A", "B", "C"],
    ]
    with pytest.raises(ValueError, match="rounds"):
        interleave(["A"], 0)
    with pytest.raises(ValueError, match="unique"):
        interleave(["A", "A"], 1)


# --- Server-Timing and X-Faas-Start


def test_server_timing_faas_header() -> None:
    header = (
        "queue;dur=0.1, create;dur=12.5, start;dur=3,ready;dur=40.25, handler;dur=0.5, "
        "total;dur=57.1"
    )
    assert parse_server_timing(header) == {
        "queue": 0.1,
        "create": 12.5,
        "start": 3.0,
        "ready": 40.25,
        "handler": 0.5,
        "total": 57.1,
    }


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("miss, db;dur=53", {"miss": 0.0, "db": 53.0}),  # no dur: 0 per the spec
        ("  x ;  DUR = 2.5 ;desc=plain  ", {"x": 2.5}),
        ("a;dur=abc, b;dur=inf", {"a": 0.0, "b": 0.0}),
        ("a;dur=1;dur=2, a;dur=3", {"a": 1.0}),  # first dur, first entry win
        ("", {}),
        (",, ;dur=4, ;", {}),
    ],
)
def test_server_timing_tolerant(header: str, expected: dict[str, float]) -> None:
    assert parse_server_timing(header) == expected


def test_call_timing_from_headers() -> None:
    t = CallTiming.from_headers({"x-faas-start": "Paused", "server-timing": "total;dur=4"})
    assert t.start == "paused"
    assert t.phases == {"total": 4.0}
    assert CallTiming.from_headers({"X-Faas-Start": "warm"}).phases == {}


def test_parse_start_rejects() -> None:
    with pytest.raises(ValueError, match="no X-Faas-Start"):
        parse_start(None)
    with pytest.raises(ValueError, match="one of cold, prewarm, paused, warm"):
        parse_start("tepid")

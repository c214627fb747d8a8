"""Summary statistics as SeBS reports them, and helpers to measure against a same-run baseline.

Latencies are skewed and have outliers, so the headline figure is the median with a
non-parametric confidence interval (no normality assumption), plus p95/p99 for the tail.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from statistics import NormalDist

# Above this many samples the binomial sums get slow and the normal approximation is exact
# to within a rank; below it the ranks come from math.comb.
EXACT_CI_MAX_N = 5000


def _checked(values: Sequence[float]) -> list[float]:
    if not values:
        raise ValueError("no samples: statistics need at least one value")
    for index, value in enumerate(values):
        if not math.isfinite(value):
            raise ValueError(f"sample {index} is {value!r}; samples must be finite numbers")
    return sorted(values)


def _percentile_sorted(ordered: Sequence[float], q: float) -> float:
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be between 0 and 100, got {q!r}")
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linearly interpolated like numpy's default ("linear")."""
    return _percentile_sorted(_checked(values), q)


def mean(values: Sequence[float]) -> float:
    return math.fsum(_checked(values)) / len(values)


def stdev(values: Sequence[float]) -> float:
    """Sample standard deviation (n - 1); 0.0 for a single value, where no spread is seen."""
    ordered = _checked(values)
    if len(ordered) == 1:
        return 0.0
    centre = math.fsum(ordered) / len(ordered)
    return math.sqrt(math.fsum((v - centre) ** 2 for v in ordered) / (len(ordered) - 1))


def cv(values: Sequence[float]) -> float:
    """Coefficient of variation, stdev / mean."""
    return _cv(stdev(values), mean(values))


def _cv(spread: float, centre: float) -> float:
    if centre == 0.0:
        return 0.0 if spread == 0.0 else math.inf
    return spread / abs(centre)


def median_ci_ranks(n: int, confidence: float = 0.95) -> tuple[int, int]:
    """1-based ranks (j, k) of the order statistics bounding the median with `confidence`.

    The number of samples below the true median is binomial(n, 1/2), so [x(j), x(k)] with
    k = n + 1 - j covers it with probability 1 - 2 * P(B <= j - 1); j is the largest rank that
    keeps this at least `confidence`. With too few samples for that (n <= 5 at 95%) the
    widest interval, (1, n), is returned: its coverage is below `confidence`.
    """
    if n < 1:
        raise ValueError(f"need at least one sample, got n={n}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    if n <= EXACT_CI_MAX_N:
        # Exact in integers: P(B <= m) <= alpha/2  <=>  sum C(n, i) * den <= 2**n * num.
        tail = (1 - Fraction(str(confidence))) / 2
        limit = (2**n) * tail.numerator
        term, cumulative, m = 1, 0, -1
        while m + 1 <= n // 2:
            cumulative += term
            if cumulative * tail.denominator > limit:
                break
            m += 1
            term = term * (n - m) // (m + 1)
    else:
        # Normal approximation with continuity correction: P(B <= m) ~ Phi((m + 1/2 - n/2) / sd).
        z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
        m = math.floor(n / 2 - 0.5 - z * math.sqrt(n) / 2)
    if m < 0:
        return 1, n
    return m + 1, n - m


@dataclass(frozen=True)
class Summary:
    """SeBS-style description of one series, in the samples' own unit."""

    n: int
    p50: float
    p95: float
    p99: float
    mean: float
    stdev: float
    cv: float
    ci_low: float
    ci_high: float
    min: float
    max: float


def summarize(values: Sequence[float], confidence: float = 0.95) -> Summary:
    """Describe a series. n = 0 raises ValueError; n = 1 gives stdev = cv = 0 and a point CI."""
    ordered = _checked(values)
    n = len(ordered)
    centre = math.fsum(ordered) / n
    spread = stdev(ordered)
    low, high = median_ci_ranks(n, confidence)
    return Summary(
        n=n,
        p50=_percentile_sorted(ordered, 50),
        p95=_percentile_sorted(ordered, 95),
        p99=_percentile_sorted(ordered, 99),
        mean=centre,
        stdev=spread,
        cv=_cv(spread, centre),
        ci_low=ordered[low - 1],
        ci_high=ordered[high - 1],
        min=ordered[0],
        max=ordered[-1],
    )


def _ratio(candidate: float, baseline: float) -> float:
    if baseline == 0.0:
        return 1.0 if candidate == 0.0 else math.inf
    return candidate / baseline


@dataclass(frozen=True)
class Comparison:
    """A figure against its same-run baseline: ratios are candidate / baseline, diffs
    candidate - baseline (in the samples' unit, ms for latencies)."""

    p50_ratio: float
    p95_ratio: float
    p99_ratio: float
    p50_diff: float
    p95_diff: float
    p99_diff: float
    # True when the medians' confidence intervals do not overlap: a real difference, not noise.
    medians_differ: bool


def compare(candidate: Summary, baseline: Summary) -> Comparison:
    return Comparison(
        p50_ratio=_ratio(candidate.p50, baseline.p50),
        p95_ratio=_ratio(candidate.p95, baseline.p95),
        p99_ratio=_ratio(candidate.p99, baseline.p99),
        p50_diff=candidate.p50 - baseline.p50,
        p95_diff=candidate.p95 - baseline.p95,
        p99_diff=candidate.p99 - baseline.p99,
        medians_differ=candidate.ci_low > baseline.ci_high or candidate.ci_high < baseline.ci_low,
    )


def interleave(names: Sequence[str], rounds: int) -> list[list[str]]:
    """Per-round run order, rotated each round (A B C, B C A, C A B, A B C, ...).

    Rotating spreads slow drift on a shared machine over every series instead of letting it
    land on whichever series always runs last.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    if len(set(names)) != len(names):
        raise ValueError(f"series names must be unique, got {list(names)}")
    count = len(names)
    return [[names[(r + i) % count] for i in range(count)] for r in range(rounds)]

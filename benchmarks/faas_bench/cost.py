"""Pay-per-use (Lambda-style) against an always-on instance: monthly cost and break-even rate.

Inputs are what the benchmark measures: the mean duration of a call (s) and the memory it is
given (MiB). Free tiers, data transfer and the instance's own headroom are left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

# AWS Lambda on-demand prices, x86, us-east-1, first tier (6 billion GB-s a month), from
# https://aws.amazon.com/lambda/pricing/. Lambda's "GB" is 1024 MiB; durations are billed
# rounded up to 1 ms.
LAMBDA_X86_GB_SECOND = 0.0000166667
LAMBDA_PER_MILLION_REQUESTS = 0.20
LAMBDA_BILLING_GRANULARITY = 0.001

# Cloud providers quote monthly prices for 730 hours (8760 / 12).
SECONDS_PER_MONTH = 730 * 3600

# A small always-on VM: EC2 t3.small on demand is $0.0208/h, about $15.18 for 730 h.
DEFAULT_ALWAYS_ON_MONTHLY = 15.0


@dataclass(frozen=True)
class Prices:
    gb_second: float = LAMBDA_X86_GB_SECOND
    per_million_requests: float = LAMBDA_PER_MILLION_REQUESTS
    granularity: float = LAMBDA_BILLING_GRANULARITY  # seconds; 0 bills exact durations


@dataclass(frozen=True)
class CostRow:
    rate: float  # calls per second, sustained all month
    pay_per_use_monthly: float
    always_on_monthly: float

    @property
    def cheaper(self) -> str:
        return "always-on" if self.always_on_monthly < self.pay_per_use_monthly else "pay-per-use"


def _check(duration: float, memory_mib: float) -> None:
    if not (math.isfinite(duration) and duration >= 0):
        raise ValueError(f"duration must be a non-negative number of seconds, got {duration!r}")
    if not (math.isfinite(memory_mib) and memory_mib > 0):
        raise ValueError(f"memory must be a positive number of MiB, got {memory_mib!r}")


def billed_duration(duration: float, granularity: float = LAMBDA_BILLING_GRANULARITY) -> float:
    """`duration` rounded up to the billing granularity."""
    if granularity <= 0:
        return duration
    # round() first: 0.1 / 0.001 is 100.00000000000001 in floats, which must bill as 100 ms.
    return math.ceil(round(duration / granularity, 9)) * granularity


def gb_seconds_per_call(
    duration: float, memory_mib: float, granularity: float = LAMBDA_BILLING_GRANULARITY
) -> float:
    _check(duration, memory_mib)
    return billed_duration(duration, granularity) * memory_mib / 1024


def cost_per_call(duration: float, memory_mib: float, prices: Prices | None = None) -> float:
    p = prices or Prices()
    gbs = gb_seconds_per_call(duration, memory_mib, p.granularity)
    return gbs * p.gb_second + p.per_million_requests / 1_000_000


def pay_per_use_monthly(
    rate: float, duration: float, memory_mib: float, prices: Prices | None = None
) -> float:
    """Monthly bill for `rate` calls per second, sustained for the whole month."""
    _check_rate(rate)
    return rate * SECONDS_PER_MONTH * cost_per_call(duration, memory_mib, prices)


def always_on_monthly(
    rate: float,
    monthly_price: float = DEFAULT_ALWAYS_ON_MONTHLY,
    capacity: float | None = None,
) -> float:
    """One instance at `monthly_price`, or with `capacity` (calls/s one instance sustains)
    as many as the rate needs, never fewer than one."""
    _check_rate(rate)
    if capacity is None:
        return monthly_price
    if not capacity > 0:
        raise ValueError(f"capacity must be positive, got {capacity!r}")
    return monthly_price * max(1, math.ceil(rate / capacity))


def _check_rate(rate: float) -> None:
    if not (math.isfinite(rate) and rate >= 0):
        raise ValueError(f"rate must be a non-negative number of calls per second, got {rate!r}")


def cost_curve(
    rates_per_second: Iterable[float],
    duration: float,
    memory_mib: float,
    *,
    prices: Prices | None = None,
    monthly_price: float = DEFAULT_ALWAYS_ON_MONTHLY,
    capacity: float | None = None,
) -> list[CostRow]:
    return [
        CostRow(
            rate,
            pay_per_use_monthly(rate, duration, memory_mib, prices),
            always_on_monthly(rate, monthly_price, capacity),
        )
        for rate in rates_per_second
    ]


def break_even_rate(
    duration: float,
    memory_mib: float,
    *,
    prices: Prices | None = None,
    monthly_price: float = DEFAULT_ALWAYS_ON_MONTHLY,
    capacity: float | None = None,
) -> float | None:
    """The lowest rate (calls/s) at which always-on costs no more than pay-per-use.

    Pay-per-use is the line a * rate, so with one flat-priced instance they cross at
    monthly_price / a. With a `capacity`, that crossing must fall within the first instance's
    capacity; if it does not, one instance's full load is cheaper on pay-per-use, every later
    step too, and there is no break-even (None). Past the first crossing, a newly added
    instance can briefly make pay-per-use cheaper again; `cost_curve` shows those steps.
    """
    per_call = cost_per_call(duration, memory_mib, prices)
    if per_call <= 0:
        return None  # free calls: pay-per-use never costs more
    rate = monthly_price / (SECONDS_PER_MONTH * per_call)
    if capacity is not None and rate > capacity:
        return None
    return rate

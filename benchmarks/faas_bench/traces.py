"""Synthetic invocation traces and their CSV form: `timestamp,function,duration`.

Timestamps are seconds from the trace start, durations seconds of execution. Every generator
takes a seed and draws from its own `random.Random`, so a trace is reproducible.
"""

from __future__ import annotations

import csv
import math
import os
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

HEADER = ("timestamp", "function", "duration")

# A fixed duration, or a draw from the generator's RNG (e.g. lambda r: r.lognormvariate(-3, 1)).
Duration = float | Callable[[random.Random], float]


@dataclass(frozen=True, order=True)
class Invocation:
    timestamp: float
    function: str
    duration: float

    @property
    def end(self) -> float:
        return self.timestamp + self.duration


def _positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def _draw(duration: Duration, rng: random.Random) -> float:
    value = duration(rng) if callable(duration) else float(duration)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"duration must be a non-negative number, got {value!r}")
    return value


def _poisson(rng: random.Random, rate: float, start: float, stop: float) -> list[float]:
    times: list[float] = []
    t = start + rng.expovariate(rate)
    while t < stop:
        times.append(t)
        t += rng.expovariate(rate)
    return times


def _build(
    times: Iterable[float], function: str, duration: Duration, rng: random.Random
) -> list[Invocation]:
    if not function:
        raise ValueError("function name must not be empty")
    return sorted(Invocation(t, function, _draw(duration, rng)) for t in times)


def steady(
    rate: float,
    seconds: float,
    *,
    function: str = "f",
    duration: Duration = 0.1,
    poisson: bool = True,
    seed: int = 0,
) -> list[Invocation]:
    """`rate` calls per second for `seconds`: Poisson arrivals, or evenly spaced if not poisson."""
    _positive("rate", rate)
    _positive("seconds", seconds)
    rng = random.Random(seed)
    if poisson:
        times = _poisson(rng, rate, 0.0, seconds)
    else:
        times = [i / rate for i in range(math.ceil(seconds * rate)) if i / rate < seconds]
    return _build(times, function, duration, rng)


def bursty(
    rate: float,
    seconds: float,
    *,
    on: float = 10.0,
    off: float = 50.0,
    function: str = "f",
    duration: Duration = 0.1,
    seed: int = 0,
) -> list[Invocation]:
    """Poisson bursts at `rate` for `on` seconds, then silence for `off` seconds, repeated."""
    _positive("rate", rate)
    _positive("seconds", seconds)
    _positive("on", on)
    if not (math.isfinite(off) and off >= 0):
        raise ValueError(f"off must be a non-negative number, got {off!r}")
    rng = random.Random(seed)
    times: list[float] = []
    start = 0.0
    while start < seconds:
        times += _poisson(rng, rate, start, min(start + on, seconds))
        start += on + off
    return _build(times, function, duration, rng)


def periodic(
    period: float,
    jitter: float,
    seconds: float,
    *,
    function: str = "f",
    duration: Duration = 0.1,
    seed: int = 0,
) -> list[Invocation]:
    """A cron-like function: one call every `period` s, each late by uniform(0, jitter) s."""
    _positive("period", period)
    _positive("seconds", seconds)
    if not (0 <= jitter < period):
        raise ValueError(f"jitter must be at least 0 and below the period, got {jitter!r}")
    rng = random.Random(seed)
    times: list[float] = []
    for k in range(math.ceil(seconds / period)):
        t = k * period + rng.uniform(0.0, jitter)
        if t < seconds:
            times.append(t)
    return _build(times, function, duration, rng)


def diurnal(
    peak_rate: float,
    seconds: float,
    period: float = 86400.0,
    *,
    trough_rate: float = 0.0,
    function: str = "f",
    duration: Duration = 0.1,
    seed: int = 0,
) -> list[Invocation]:
    """A day-like cycle: rate(t) goes from `trough_rate` at t = 0 to `peak_rate` at period/2.

    Non-homogeneous Poisson by thinning (Lewis & Shedler): draw candidates at the peak rate and
    keep each with probability rate(t) / peak_rate.
    """
    _positive("peak_rate", peak_rate)
    _positive("seconds", seconds)
    _positive("period", period)
    if not (0 <= trough_rate <= peak_rate):
        raise ValueError(f"trough_rate must be between 0 and peak_rate, got {trough_rate!r}")
    rng = random.Random(seed)
    swing = peak_rate - trough_rate
    times = [
        t
        for t in _poisson(rng, peak_rate, 0.0, seconds)
        if rng.random() * peak_rate
        < trough_rate + swing * (1 - math.cos(2 * math.pi * t / period)) / 2
    ]
    return _build(times, function, duration, rng)


def write_trace(path: str | os.PathLike[str], invocations: Iterable[Invocation]) -> None:
    """Write the CSV; floats use repr so read_trace gives back exactly the same values."""
    with Path(path).open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(HEADER)
        for inv in invocations:
            writer.writerow((repr(float(inv.timestamp)), inv.function, repr(float(inv.duration))))


def _number(where: str, field: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: {field} must be a number, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{where}: {field} must be a non-negative number, got {text!r}")
    return value


def read_trace(path: str | os.PathLike[str]) -> list[Invocation]:
    """Read the CSV (header required, blank lines skipped) into invocations sorted by time."""
    invocations: list[Invocation] = []
    with Path(path).open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        header = next(reader, None)
        if header is None or tuple(cell.strip() for cell in header) != HEADER:
            raise ValueError(f"{path}:1: expected the header {','.join(HEADER)}, got {header!r}")
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != 3:
                raise ValueError(f"{where}: expected 3 fields ({','.join(HEADER)}), got {len(row)}")
            function = row[1].strip()
            if not function:
                raise ValueError(f"{where}: function name is empty")
            timestamp = _number(where, "timestamp", row[0].strip())
            invocations.append(Invocation(timestamp, function, _number(where, "duration", row[2])))
    # Stable sort: rows at the same instant keep their file order.
    invocations.sort(key=lambda inv: inv.timestamp)
    return invocations

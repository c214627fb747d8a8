"""The timing headers every function response carries: `X-Faas-Start` and `Server-Timing`.

SeBS discards samples of the wrong temperature; `CallTiming.from_headers` gives the start kind
so a benchmark can do the same, and the per-phase durations (ms) the gateway measured.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

StartKind = Literal["cold", "prewarm", "paused", "warm"]
START_KINDS: tuple[StartKind, ...] = ("cold", "prewarm", "paused", "warm")

START_HEADER = "X-Faas-Start"
TIMING_HEADER = "Server-Timing"


def parse_server_timing(header: str) -> dict[str, float]:
    """`{"name": dur_ms}` from the gateway's `Server-Timing` (`create;dur=12.5, total;dur=57.1`,
    the form the gateway writes); never raises. An entry without a
    numeric `dur` counts 0, the first entry of a name wins."""
    timings: dict[str, float] = {}
    for entry in header.split(","):
        name, *params = (part.strip() for part in entry.split(";"))
        duration = 0.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "dur":
                try:
                    duration = float(value)
                except ValueError:
                    duration = 0.0
                break
        if name:
            timings.setdefault(name, duration if math.isfinite(duration) else 0.0)
    return timings


def parse_start(value: str | None) -> StartKind:
    """The start kind from an `X-Faas-Start` value; ValueError if missing or unknown."""
    if value is None:
        raise ValueError(f"response has no {START_HEADER} header")
    kind = value.strip().lower()
    if kind not in START_KINDS:
        raise ValueError(f"{START_HEADER} must be one of {', '.join(START_KINDS)}, got {value!r}")
    return kind


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # Plain dicts are case-sensitive; HTTP header names are not.
    if name in headers:
        return headers[name]
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


@dataclass(frozen=True)
class CallTiming:
    """What one response says about how it was served; phases in ms, as the gateway sent them."""

    start: StartKind
    phases: Mapping[str, float]

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> CallTiming:
        timing = _header(headers, TIMING_HEADER)
        phases = parse_server_timing(timing) if timing is not None else {}
        return cls(start=parse_start(_header(headers, START_HEADER)), phases=phases)

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


def _split_unquoted(text: str, sep: str) -> list[str]:
    """Split on `sep` outside double-quoted strings (which may hold `\\"` escapes)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == sep and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        inner = value[1:-1]
        out: list[str] = []
        escaped = False
        for char in inner:
            if char == "\\" and not escaped:
                escaped = True
                continue
            escaped = False
            out.append(char)
        return "".join(out)
    return value


def parse_server_timing(header: str) -> dict[str, float]:
    """`{"name": dur_ms}` from a W3C Server-Timing header value; never raises.

    Follows the spec's processing model: an entry without a (numeric, finite) `dur` has a
    duration of 0; the first `dur` of an entry and the first entry of a name win; entries
    without a name are skipped. Commas and semicolons inside quoted `desc` values are data.
    """
    timings: dict[str, float] = {}
    for entry in _split_unquoted(header, ","):
        name, *params = _split_unquoted(entry, ";")
        name = name.strip()
        if not name or '"' in name or "=" in name:
            continue
        duration = 0.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() != "dur":
                continue
            try:
                duration = float(_unquote(value.strip()))
            except ValueError:
                duration = 0.0
            if not math.isfinite(duration):
                duration = 0.0
            break
        timings.setdefault(name, duration)
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

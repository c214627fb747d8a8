"""Parsing of the human units used in faas.yaml and FAAS_* settings: durations and sizes."""

from __future__ import annotations

import math
import re

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*")
_DURATION_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}

_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|K|M|G|k|B)?\s*")
_SIZE_SCALE = {
    None: 1,
    "B": 1,
    "K": 1000,
    "k": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
}


def parse_duration(value: object) -> float:
    """Seconds from `30s`, `500ms`, `10m`, `1h` or a bare number of seconds.

    Raises ValueError with a message fit to show after the field's name.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 30s, 500ms or 10m, got {_short(value)}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.fullmatch(str(value))
        if not match:
            raise ValueError(f"expected a duration like 30s, 500ms or 10m, got {_short(value)}")
        seconds = float(match.group(1)) * _DURATION_SCALE[match.group(2)]
    if not math.isfinite(seconds):  # NaN, inf, or digits past float's range
        raise ValueError(f"must be a finite duration, got {_short(value)}")
    if seconds < 0:
        raise ValueError(f"must not be negative, got {_short(value)}")
    return seconds


def parse_size(value: object) -> int:
    """Bytes from `128Mi`, `1Gi`, `64M` or a bare number of bytes."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size like 128Mi or 1Gi, got {_short(value)}")
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.fullmatch(str(value))
        if not match:
            raise ValueError(f"expected a size like 128Mi or 1Gi, got {_short(value)}")
        scaled = float(match.group(1)) * _SIZE_SCALE[match.group(2)]
        if not math.isfinite(scaled):
            raise ValueError(f"must be a finite size, got {_short(value)}")
        size = int(scaled)
    if size < 0:
        raise ValueError(f"must not be negative, got {_short(value)}")
    return size


def format_duration(seconds: float) -> str:
    """The shortest exact spelling: 30s, 10m, 1h, 250ms."""
    for unit, scale in (("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if seconds >= scale and (seconds / scale).is_integer():
            return f"{int(seconds / scale)}{unit}"
    return f"{round(seconds * 1000)}ms"


def format_size(size: int) -> str:
    """The shortest exact binary spelling: 128Mi, 1Gi, 1500."""
    for unit in ("Gi", "Mi", "Ki"):
        scale = _SIZE_SCALE[unit]
        if size >= scale and size % scale == 0:
            return f"{size // scale}{unit}"
    return str(size)


def _short(value: object) -> str:
    """A value for an error message, cut so a megabyte of digits does not come back."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."

"""Reading what a client sends to the Starlette routes: JSON bodies and query values.

Anything out of shape is a BadRequest naming the field, never an exception that reaches the
500 handler: bodies nested deeper than Python's parser recurses, `NaN`/`Infinity` (not JSON,
though Python's parser accepts them), digits outside ASCII, numbers past what Redis or the
engine takes.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from starlette.requests import Request

from faas.errors import BadRequest
from faas.pool.log_pages import TIMESTAMP, epoch, timestamp

MAX_TAIL = 100_000  # log lines
MAX_SINCE = 1e10  # epoch seconds (year 2286): the engine's log API takes no more
_STREAM_ID = re.compile(r"([0-9]{1,20})(?:-([0-9]{1,20}))?")
_U64 = 2**64 - 1


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def json_body(request: Request, example: str) -> Any:
    """The request's JSON body; `example` shows the expected shape in the error message."""
    raw = await request.body()
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        problem = "nested too deeply" if isinstance(exc, RecursionError) else "not valid JSON"
        raise BadRequest(f"the body must be JSON like {example} ({problem})") from None


def whole_number(request: Request, key: str, low: int, high: int) -> int | None:
    """An optional query value from `low` to `high`; None when absent or empty."""
    value = request.query_params.get(key)
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        raise BadRequest(f"{key} must be a whole number from {low} to {high}, got {_short(value)}")
    return int(value)


def number(request: Request, key: str, low: float, high: float) -> float | None:
    """An optional finite query value from `low` to `high`; None when absent or empty."""
    value = request.query_params.get(key)
    if value is None or value == "":
        return None
    try:
        parsed = float(value)
    except ValueError:
        parsed = math.nan
    if not (math.isfinite(parsed) and low <= parsed <= high):
        raise BadRequest(f"{key} must be a number from {low:g} to {high:g}, got {_short(value)}")
    return parsed


def log_cursor(request: Request, key: str) -> str | None:
    """An optional log position: a log line's timestamp (`before` of an earlier page) or
    epoch seconds; as the timestamp the lines are compared with."""
    value = request.query_params.get(key)
    if value is None or value == "":
        return None
    try:
        seconds = epoch(value) if TIMESTAMP.fullmatch(value) else float(value)
    except ValueError:  # not a number, or a timestamp of no real day
        seconds = math.nan
    if not (math.isfinite(seconds) and 1 <= seconds <= MAX_SINCE):
        raise BadRequest(
            f"{key} must be a log timestamp (from an earlier page) or epoch seconds from 1 to "
            f"{MAX_SINCE:g}, got {_short(value)}"
        )
    return value if TIMESTAMP.fullmatch(value) else timestamp(seconds)


def stream_id(request: Request, key: str) -> str | None:
    """An optional Redis stream entry id (`1700000000000-0`, or the milliseconds alone)."""
    value = request.query_params.get(key)
    if value is None or value == "":
        return None
    match = _STREAM_ID.fullmatch(value)
    if not match or any(int(part) > _U64 for part in match.groups("0")):
        raise BadRequest(
            f"{key} must be an entry id like 1700000000000-0 (from an earlier page), "
            f"got {_short(value)}"
        )
    return value


def _short(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")


# Docker's reference grammar (distribution/reference): [domain[:port]/]path[:tag][@digest],
# or an image id. Checked before the engine sees it: its answer to a malformed one is a 500.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = rf"(?:{_LABEL}(?:\.{_LABEL})*(?::[0-9]{{1,5}})?/)?"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
_DIGEST = r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?"
_IMAGE = re.compile(
    rf"{_DOMAIN}{_COMPONENT}(?:/{_COMPONENT})*{_TAG}{_DIGEST}|sha256:[0-9a-f]{{64}}"
)


def image_reference(value: object) -> str:
    """The `image` field of a registration: a Docker image reference."""
    if not isinstance(value, str) or not value:
        raise BadRequest(
            "image: required, the tag of the function's image (built by `faas deploy`)"
        )
    if len(value) > 255 or not _IMAGE.fullmatch(value):
        raise BadRequest(
            f"image: {_short(value)} is not a Docker image reference like faas-hello:1a2b3c"
        )
    return value

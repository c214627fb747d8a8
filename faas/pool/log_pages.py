"""One page of a function's logs (`GET /system/logs/NAME`), bounded in lines and bytes.

Every line starts with the engine's RFC 3339 timestamp (UTC, nine fraction digits), so lines
sort by time as strings, and a line's timestamp is the cursor of the next, older page: the
page holds the newest lines before `before`. Each source (the archive of removed containers,
each live container) is read only up to the page's bounds, so a function that printed
200 MB costs the gateway a page, not its log.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

_MAX_ENTRY = 16 * 1024  # Docker's longest log entry: longer output lines are split
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z")

ArchiveReader = Callable[[str, str | None, int, int], Awaitable[tuple[list[str], bool]]]
LiveReader = Callable[..., Awaitable[list[list[str]]]]


@dataclass(frozen=True)
class LogPage:
    lines: list[str]  # oldest first
    before: str | None  # the cursor of the next, older page; None: there is none


def timestamp(epoch: float) -> str:
    """Epoch seconds as a log line's timestamp (microseconds from a float, zero-padded)."""
    moment = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def epoch(stamp: str) -> float:
    """A log line's timestamp as epoch seconds (to the microsecond; the engine's `until`)."""
    moment = datetime.datetime.strptime(stamp[:26], "%Y-%m-%dT%H:%M:%S.%f")
    return moment.replace(tzinfo=datetime.UTC).timestamp()


def newest(
    sources: Sequence[tuple[list[str], bool]], before: str | None, limit: int, max_bytes: int
) -> LogPage:
    """The newest lines of all `sources` ((lines, whether older ones were left out) each)
    before `before`, at most `limit` lines and `max_bytes` characters (but at least one line,
    cut to `max_bytes`, so that paging always moves on)."""
    # A source that was cut has older lines this page did not see: nothing older than its
    # oldest line may be shown yet, or those lines would fall between two pages.
    floor = max((lines[0] for lines, cut in sources if cut and lines), default="")
    candidates = sorted(
        line
        for lines, _ in sources
        for line in lines
        if line >= floor and (before is None or line < before)
    )
    more = any(cut for _, cut in sources)
    picked: list[str] = []
    size = 0
    for line in reversed(candidates):
        if len(picked) >= limit or (picked and size + len(line) > max_bytes):
            more = True
            break
        picked.append(line[:max_bytes])
        size += len(line)
    picked.reverse()
    cursor = picked[0].partition(" ")[0] if more and picked else None
    return LogPage(picked, cursor if cursor and TIMESTAMP.fullmatch(cursor) else None)


async def read_page(
    archive: ArchiveReader,
    live: LiveReader,
    name: str,
    *,
    since: float | None,
    before: str | None,
    limit: int,
    max_bytes: int,
) -> LogPage:
    """A page of `name`'s logs; with `since` (the CLI's follow) the archive is left out."""
    # The engine's `until` is inclusive and this float coarser than the cursor: ask a little
    # past it, and keep only what sorts before the cursor.
    until = epoch(before) + 2e-6 if before else None
    # Docker takes the last `tail` entries first and filters by `until` after: an older page
    # streams up to `until` instead, keeping only the newest `max_bytes` of it.
    tail = None if until else limit
    batches = await live(name, since, until=until, tail=tail, max_bytes=max_bytes)
    sources = [(lines, len(lines) >= limit or _full(lines, max_bytes)) for lines in batches]
    if since is None:
        sources.append(await archive(name, before, limit, max_bytes))
    return newest(sources, before, limit, max_bytes)


def _full(lines: list[str], max_bytes: int) -> bool:
    """Whether a live source may have been cut at its byte bound: it is within one log entry
    (Docker splits longer lines) of it."""
    return sum(len(line) + 1 for line in lines) > max_bytes - _MAX_ENTRY

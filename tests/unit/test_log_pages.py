"""Log pages: bounded in lines and bytes, paged back by the oldest line's timestamp."""

from __future__ import annotations

import asyncio
from typing import Any

from faas.engines.base import newest_within
from faas.pool.log_pages import TIMESTAMP, LogPage, epoch, newest, read_page, timestamp


def line(second: int, text: str = "x") -> str:
    return f"2026-12-02T10:00:{second:02d}.000000000Z {text}"


def test_timestamps_round_trip_and_sort_as_strings() -> None:
    stamp = timestamp(1_764_669_600.25)
    assert TIMESTAMP.fullmatch(stamp)
    assert stamp == "2025-12-02T10:00:00.250000000Z"
    assert epoch(stamp) == 1_764_669_600.25
    assert timestamp(1.0) < timestamp(2.0) < stamp


def test_a_page_is_the_newest_lines_and_points_at_the_older_ones() -> None:
    archive = ([line(s) for s in range(0, 10)], False)
    live = ([line(s) for s in range(10, 20)], False)
    page = newest([archive, live], None, 5, 10_000)
    assert page.lines == [line(s) for s in range(15, 20)]
    assert page.before == line(15).split()[0]
    older = newest([archive, live], page.before, 5, 10_000)
    assert older.lines == [line(s) for s in range(10, 15)]
    oldest = newest([archive, live], line(5).split()[0], 5, 10_000)
    assert oldest == LogPage([line(s) for s in range(0, 5)], None)  # nothing older left


def test_a_page_stops_at_its_byte_bound_but_always_moves_on() -> None:
    lines = [line(s, "y" * 100) for s in range(10)]
    page = newest([(lines, False)], None, 1000, 400)
    assert len(page.lines) == 3 and page.before == lines[7].split()[0]
    huge = [line(1, "z" * 5000)]
    page = newest([(huge, False)], None, 1000, 400)
    assert [len(x) for x in page.lines] == [400]  # one line, cut to the bound


def test_a_source_that_was_cut_means_there_is_an_older_page() -> None:
    page = newest([([line(1), line(2)], True)], None, 10, 10_000)
    assert page.lines == [line(1), line(2)] and page.before == line(1).split()[0]


def test_lines_older_than_a_cut_source_wait_for_the_next_page() -> None:
    busy = ([line(s) for s in range(20, 30)], True)  # cut: it holds lines before 20 too
    quiet = ([line(5, "start"), line(40)], False)
    page = newest([busy, quiet], None, 100, 100_000)
    assert page.lines == [line(s) for s in range(20, 30)] + [line(40)]
    assert page.before == line(20).split()[0]


def test_read_page_asks_each_source_only_for_a_page() -> None:
    asked: dict[str, Any] = {}

    async def archive(name: str, before: str | None, limit: int, max_bytes: int) -> Any:
        asked["archive"] = (name, before, limit, max_bytes)
        return [line(1)], False

    async def live(name: str, since: float | None, **bounds: Any) -> list[list[str]]:
        asked["live"] = (name, since, bounds)
        return [[line(2)], [line(3)]]

    cursor = line(4).split()[0]
    page = asyncio.run(
        read_page(archive, live, "fn", since=None, before=cursor, limit=7, max_bytes=90_000)
    )
    assert page.lines == [line(1), line(2), line(3)] and page.before is None
    assert asked["archive"] == ("fn", cursor, 7, 90_000)
    name, since, bounds = asked["live"]
    assert (name, since, bounds["tail"], bounds["max_bytes"]) == ("fn", None, None, 90_000)
    assert epoch(cursor) < bounds["until"] < epoch(cursor) + 1e-5  # a little past: inclusive


def test_newest_within_keeps_the_last_whole_chunks() -> None:
    chunks = [b"a" * 10, b"b" * 10, b"c" * 10]
    assert newest_within(iter(chunks), 25) == b"b" * 10 + b"c" * 10
    assert newest_within(iter(chunks), None) == b"".join(chunks)
    assert newest_within(iter(chunks), 5) == b""

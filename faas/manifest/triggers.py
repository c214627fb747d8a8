"""`triggers:` in faas.yaml: Redis streams and schedules that call the function
(faas.manifest.spec parses the rest of the manifest; faas.queue.triggers runs them)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from faas.errors import ManifestError
from faas.manifest.cron import parse_schedule

MAX_BATCH = 10_000  # Lambda's SQS event-source limit
_STREAM = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._/-]{0,199}")


@dataclass(frozen=True)
class StreamTrigger:
    """Entries appended to the Redis stream `stream` reach the function in batches."""

    stream: str
    batch_size: int = 10


@dataclass(frozen=True)
class ScheduleTrigger:
    """The function is called through the async queue once per tick of `schedule`."""

    schedule: str


Trigger = StreamTrigger | ScheduleTrigger


def parse_triggers(value: object) -> tuple[Trigger, ...]:
    """`[{stream: votes, batch_size: 10}, {schedule: "*/5 * * * *"}]`; errors name the item."""
    if not isinstance(value, list):
        raise ManifestError(
            "triggers",
            f"must be a list like [{{stream: votes}}, {{schedule: '@hourly'}}], got {value!r}",
        )
    triggers: list[Trigger] = []
    for index, item in enumerate(value):
        where = f"triggers[{index}]"
        if not isinstance(item, Mapping) or ("stream" in item) == ("schedule" in item):
            raise ManifestError(where, "must be a mapping with either `stream` or `schedule`")
        known = ("stream", "batch_size") if "stream" in item else ("schedule",)
        unknown = sorted(str(key) for key in item if key not in known)
        if unknown:
            raise ManifestError(
                f"{where}.{unknown[0]}", f"unknown field (known: {', '.join(known)})"
            )
        if "schedule" in item:
            try:
                schedule = parse_schedule(item["schedule"])
            except ValueError as exc:
                raise ManifestError(f"{where}.schedule", str(exc)) from None
            triggers.append(ScheduleTrigger(schedule.text))
            continue
        stream = item["stream"]
        if not isinstance(stream, str) or not _STREAM.fullmatch(stream):
            raise ManifestError(
                f"{where}.stream",
                "must be a Redis stream name of letters, digits and ':._/-' (at most 200), "
                f"got {stream!r}",
            )
        if stream.startswith("faas:"):
            raise ManifestError(f"{where}.stream", "names starting with 'faas:' are reserved")
        if any(isinstance(t, StreamTrigger) and t.stream == stream for t in triggers):
            raise ManifestError(f"{where}.stream", f"{stream!r} is already a trigger")
        batch = item.get("batch_size", StreamTrigger.batch_size)
        if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_BATCH:
            raise ManifestError(
                f"{where}.batch_size",
                f"must be a whole number from 1 to {MAX_BATCH}, got {batch!r}",
            )
        triggers.append(StreamTrigger(stream, batch))
    return tuple(triggers)

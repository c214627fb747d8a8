"""Schedule expressions of cron triggers: five-field cron (UTC), `@hourly`-style names and
`@every <duration>` (ticks at whole multiples of the interval since the Unix epoch).

Pure code: `next_tick(after)` is what the cron runner asks; the Redis lock per tick lives in
the store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from cronsim import CronSim, CronSimError

from faas.units import parse_duration

_NAMED = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MIN_INTERVAL = 1.0


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule; `interval` is set for `@every`, `cron` for the other forms."""

    text: str
    cron: str = ""
    interval: float = 0.0

    def next_tick(self, after: float) -> float:
        """The first tick strictly after `after` (epoch seconds)."""
        if self.interval:
            return (math.floor(after / self.interval) + 1) * self.interval
        start = datetime.fromtimestamp(math.floor(after), UTC)
        return next(CronSim(self.cron, start)).timestamp()

    @property
    def period(self) -> float:
        """A lower bound of the time between ticks (cron: one minute)."""
        return self.interval or 60.0


def parse_schedule(text: object) -> Schedule:
    """Parse a schedule; raises ValueError with a message fit for `triggers[i].schedule`."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"must be a cron expression like '*/5 * * * *', got {text!r}")
    expr = " ".join(text.split())
    if expr.startswith("@every"):
        _, _, rest = expr.partition(" ")
        try:
            interval = parse_duration(rest)
        except ValueError as exc:
            raise ValueError(f"@every needs a duration like '@every 30s': {exc}") from None
        if interval < MIN_INTERVAL:
            raise ValueError(f"@every must be at least {MIN_INTERVAL:g}s, got {rest!r}")
        return Schedule(text=expr, interval=interval)
    cron = _NAMED.get(expr, expr)
    if cron.startswith("@"):
        raise ValueError(f"unknown schedule {expr!r} (known: {', '.join(_NAMED)}, @every 30s)")
    if len(cron.split()) != 5:
        raise ValueError(
            f"{expr!r} needs five fields: minute hour day-of-month month day-of-week (UTC)"
        )
    try:
        CronSim(cron, datetime.now(UTC))
    except CronSimError as exc:
        raise ValueError(f"{expr!r} is not a valid cron expression: {exc}") from None
    return Schedule(text=expr, cron=cron)

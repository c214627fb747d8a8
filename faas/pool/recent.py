"""This gateway's recent synchronous calls, for `GET /system/calls/{id}`.

Kept in memory and bounded (FAAS_RECENT_CALLS): writing a record to Redis on every warm call
would cost more than the whole gateway hop. Async calls have durable records in Redis.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


class RecentSyncCalls:
    def __init__(self, size: int) -> None:
        self.size = size
        self._records: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def add(self, call_id: str, record: dict[str, Any]) -> None:
        self._records[call_id] = record
        if len(self._records) > self.size:
            self._records.popitem(last=False)

    def get(self, call_id: str) -> dict[str, Any] | None:
        return self._records.get(call_id)

    def __len__(self) -> int:
        return len(self._records)

    def newest(self, count: int) -> list[dict[str, Any]]:
        """Up to `count` records, newest first (the dashboard's list)."""
        out: list[dict[str, Any]] = []
        for record in reversed(self._records.values()):
            if len(out) >= count:
                break
            out.append(record)
        return out

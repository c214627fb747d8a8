"""The gateway's in-memory view of the registry: a warm call must not wait on Redis.

The view follows the registry's change feed (`Registry.changes`): catching up costs one small
Redis round trip when nothing changed, and otherwise reads and parses only the changed records.
"""

from __future__ import annotations

from faas.errors import FunctionNotFound
from faas.registry.store import FunctionRecord, Registry


class Catalog:
    """Function records by name, read through to Redis on a miss and caught up on demand."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._records: dict[str, FunctionRecord] = {}
        self._revision: int | None = None  # of the registry, when last caught up
        self._changed: set[str] = set()  # not yet returned by `refresh`
        self._removed: set[str] = set()  # not yet returned by `take_removed`

    @property
    def revision(self) -> int | None:
        """The registry revision this view has caught up with (None: not yet)."""
        return self._revision

    async def get(self, name: str) -> FunctionRecord:
        record = self._records.get(name)
        if record is None:
            record = await self.registry.get(name)
            if record is None:
                raise FunctionNotFound(name)
            self._learn(record)
        return record

    async def refresh(self) -> list[FunctionRecord]:
        """Catch up; return the records new or changed since the previous refresh (all, first).

        Records this gateway put itself (`put`) are not returned: its caller applied them."""
        await self._catch_up()
        changed = [self._records[name] for name in sorted(self._changed) if name in self._records]
        self._changed.clear()
        return changed

    def take_removed(self) -> list[str]:
        """Names removed from the registry by others since the previous call (after `refresh`).

        Names this gateway removed itself (`drop`) are not returned."""
        removed = sorted(self._removed)
        self._removed.clear()
        return removed

    async def all(self) -> list[FunctionRecord]:
        """Every record by name, caught up with the registry; `refresh`'s changes stay pending."""
        await self._catch_up()
        return sorted(self._records.values(), key=lambda record: record.name)

    def known(self) -> int:
        """How many functions this gateway knows (without asking Redis)."""
        return len(self._records)

    def put(self, record: FunctionRecord) -> None:
        self._records[record.name] = record

    def drop(self, name: str) -> None:
        self._records.pop(name, None)

    async def _catch_up(self) -> None:
        since = self._revision
        changes = await self.registry.changes(since)
        if since != self._revision:  # a concurrent catch-up already applied newer changes
            return
        if changes.complete:
            present = {record.name for record in changes.records}
            for name in [name for name in self._records if name not in present]:
                self._forget(name)
        for record in changes.records:
            if self._records.get(record.name) != record:
                self._learn(record)
        for name in changes.removed:
            if name in self._records:
                self._forget(name)
        self._revision = changes.revision

    def _learn(self, record: FunctionRecord) -> None:
        self._records[record.name] = record
        self._changed.add(record.name)
        self._removed.discard(record.name)

    def _forget(self, name: str) -> None:
        del self._records[name]
        self._changed.discard(name)
        self._removed.add(name)

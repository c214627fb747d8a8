"""The gateway's in-memory view of the registry: a warm call must not wait on Redis."""

from __future__ import annotations

from faas.errors import FunctionNotFound
from faas.registry.store import FunctionRecord, Registry


class Catalog:
    """Function records by name, read through to Redis on a miss and refreshed periodically."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._records: dict[str, FunctionRecord] = {}

    async def get(self, name: str) -> FunctionRecord:
        record = self._records.get(name)
        if record is None:
            record = await self.registry.get(name)
            if record is None:
                raise FunctionNotFound(name)
            self._records[name] = record
        return record

    async def refresh(self) -> list[FunctionRecord]:
        """Reload every record (picks up deploys made through other gateways)."""
        records = await self.registry.all()
        self._records = {record.name: record for record in records}
        return records

    def put(self, record: FunctionRecord) -> None:
        self._records[record.name] = record

    def drop(self, name: str) -> None:
        self._records.pop(name, None)

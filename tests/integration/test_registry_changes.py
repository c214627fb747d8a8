"""The registry's change feed against a real redis-server (no Docker): readers that follow it
(the gateway's catalog, the trigger service) fetch only what changed since they last looked."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from faas.manifest.spec import parse_manifest
from faas.queue.retry import RetryPolicy
from faas.queue.triggers import Triggers
from faas.registry.catalog import Catalog
from faas.registry.store import FunctionRecord, Registry, connect
from tests.conftest import RedisServer

pytestmark = pytest.mark.redis

T = TypeVar("T")


@pytest.fixture
def run(redis_server: RedisServer) -> Callable[[Callable[[Registry], Awaitable[T]]], T]:
    """Run `body` with a registry on a flushed Redis."""
    redis_server.flush()

    def _run(body: Callable[[Registry], Awaitable[T]]) -> T:
        async def main() -> T:
            client = connect(redis_server.url)
            try:
                return await body(Registry(client))
            finally:
                await client.aclose()

        return asyncio.run(main())

    return _run


async def put(registry: Registry, name: str, **config: Any) -> FunctionRecord:
    return await registry.put(parse_manifest({"name": name, **config}), "faas/function:1", "h")


def test_every_put_and_delete_bumps_the_revision(run: Callable[..., None]) -> None:
    async def body(registry: Registry) -> None:
        assert (await registry.changes(None)).revision == 0
        await put(registry, "a")
        await put(registry, "a", timeout="5s")
        await put(registry, "b")
        assert (await registry.changes(None)).revision == 3
        assert await registry.delete("a")
        assert not await registry.delete("a")  # nothing removed: no change to follow
        assert not await registry.delete("never")
        assert (await registry.changes(None)).revision == 4

    run(body)


def test_changes_hold_only_what_changed_since_a_revision(run: Callable[..., None]) -> None:
    async def body(registry: Registry) -> None:
        a = await put(registry, "a")
        await put(registry, "b")
        full = await registry.changes(None)
        assert full.complete and sorted(r.name for r in full.records) == ["a", "b"]
        assert full.records[0] == a or full.records[1] == a  # round trips through JSON

        unchanged = await registry.changes(full.revision)
        assert (unchanged.revision, unchanged.records, unchanged.removed) == (full.revision, [], [])

        a2 = await put(registry, "a", timeout="5s")
        await put(registry, "c")
        await registry.delete("b")
        later = await registry.changes(full.revision)
        assert not later.complete and later.revision == full.revision + 3
        assert sorted(r.name for r in later.records) == ["a", "c"]
        assert a2 in later.records and later.removed == ["b"]
        assert await registry.get("b") is None

    run(body)


def test_a_redis_that_lost_its_data_gets_a_full_read(
    run: Callable[..., None], redis_server: RedisServer
) -> None:
    async def body(registry: Registry) -> None:
        await put(registry, "a")
        await put(registry, "b")
        seen = (await registry.changes(None)).revision
        redis_server.flush()
        await put(registry, "c")
        after = await registry.changes(seen)
        assert after.complete and [r.name for r in after.records] == ["c"]

    run(body)


def test_catalog_refresh_returns_only_new_or_changed_records(run: Callable[..., None]) -> None:
    async def body(registry: Registry) -> None:
        await put(registry, "a")
        await put(registry, "b")
        catalog = Catalog(registry)
        assert [r.name for r in await catalog.refresh()] == ["a", "b"]
        assert await catalog.refresh() == []

        changed = await put(registry, "b", timeout="5s")  # through another gateway
        await put(registry, "c")
        assert await catalog.refresh() == [changed, await catalog.get("c")]
        assert await catalog.refresh() == []
        assert catalog.take_removed() == []

    run(body)


def test_catalog_reports_removals_by_others_but_not_its_own_changes(
    run: Callable[..., None],
) -> None:
    async def body(registry: Registry) -> None:
        catalog = Catalog(registry)
        assert await catalog.refresh() == []
        own = await put(registry, "own")
        catalog.put(own)  # what the gateway does after registering a function itself
        await put(registry, "other")
        assert [r.name for r in await catalog.refresh()] == ["other"]

        await registry.delete("own")
        catalog.drop("own")
        await registry.delete("other")
        assert await catalog.refresh() == []
        assert catalog.take_removed() == ["other"]
        assert catalog.take_removed() == []
        assert await catalog.all() == []

    run(body)


def test_listing_does_not_consume_the_changes_refresh_reports(run: Callable[..., None]) -> None:
    async def body(registry: Registry) -> None:
        catalog = Catalog(registry)
        await catalog.refresh()
        await put(registry, "b")
        await put(registry, "a")
        assert [r.name for r in await catalog.all()] == ["a", "b"]
        assert [r.name for r in await catalog.refresh()] == ["a", "b"]

    run(body)


def test_triggers_follow_registry_changes(run: Callable[..., None]) -> None:
    async def enqueue(*args: object) -> tuple[str, bool]:
        raise AssertionError("no tick is due in this test")

    async def body(registry: Registry) -> None:
        triggers = Triggers(
            store=None,  # type: ignore[arg-type]  # cron only: no stream to read
            registry=registry,
            invoker=None,  # type: ignore[arg-type]  # no call is made
            enqueue=enqueue,
            name="g",
            policy=RetryPolicy(),
            visibility=30.0,
        )
        await put(registry, "ticker", triggers=[{"schedule": "@hourly"}])
        await put(registry, "plain")
        await triggers.refresh()
        assert list(triggers._crons) == [("ticker", 0, "@hourly")]
        await put(registry, "ticker", triggers=[{"schedule": "@daily"}])
        await triggers.refresh()
        assert list(triggers._crons) == [("ticker", 0, "@daily")]
        await registry.delete("ticker")
        await triggers.refresh()
        assert triggers._crons == {}

    run(body)

"""After a deploy returns, no gateway answers with the previous code (issue 11, item 8): the
gateway that takes the deploy waits until every other live gateway has applied it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from faas.build.images import BuiltImage
from faas.manifest.spec import parse_manifest
from faas.registry.propagation import wait_applied
from faas.registry.store import Registry, connect
from tests.conftest import Gateway, RedisServer
from tests.integration.test_cli import write_function

Build = Callable[[Path], tuple[dict[str, object], BuiltImage]]


def version(folder: Path, text: str) -> Path:
    body = f"def handle(event, context):\n    return {text!r}\n"
    return write_function(folder, "which", body)


def test_the_second_gateway_answers_with_the_new_code_once_deploy_returns(
    make_gateway: Callable[..., Gateway], build: Build, tmp_path: Path
) -> None:
    first, second = make_gateway(), make_gateway()
    v1 = build(version(tmp_path / "v1" / "which", "v1"))
    v2 = build(version(tmp_path / "v2" / "which", "v2"))
    for manifest, built in (v1, v2):
        with first.client() as client:
            record = client.register(manifest, built.tag, built.code_hash)
        assert "lagging_gateways" not in record, record
        expected = "v1" if built is v1[1] else "v2"
        # At once, on both: the second gateway never served it before the deploy returned.
        for gateway in (second, first):
            answer = gateway.http.post("/function/which")
            assert (answer.status_code, answer.text) == (200, expected)


def on_registry(redis_server: RedisServer, scenario: Callable[[Registry], Awaitable[None]]) -> None:
    """Run `scenario` on a Registry of an emptied Redis."""
    redis_server.flush()

    async def main() -> None:
        client = connect(redis_server.url)
        try:
            await scenario(Registry(client))
        finally:
            await client.aclose()

    asyncio.run(main())


def test_a_gateway_that_does_not_apply_a_change_is_named_after_the_wait(
    redis_server: RedisServer,
) -> None:
    async def scenario(registry: Registry) -> None:
        for gateway in ("me", "quick", "stuck"):
            await registry.heartbeat(gateway, 30)
        _, revision = await registry.put_at(parse_manifest({"name": "a"}), "img:1", "h")
        await registry.record_applied("quick", revision, 30)
        await registry.record_applied("stuck", revision - 1, 30)
        started = time.monotonic()
        assert await wait_applied(registry, "me", revision, 0.3) == ["stuck"]
        assert 0.3 <= time.monotonic() - started < 5
        await registry.record_applied("stuck", revision, 30)
        assert await wait_applied(registry, "me", revision, 5) == []

    on_registry(redis_server, scenario)


def test_a_wait_for_changes_ends_when_a_function_is_put_or_deleted(
    redis_server: RedisServer,
) -> None:
    async def scenario(registry: Registry) -> None:
        end = await registry.next_change(None, 0)
        assert await registry.next_change(end, 0.05) == end  # nothing: the wait times out
        waiting = asyncio.ensure_future(registry.next_change(end, 4))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        started = time.monotonic()
        await registry.put(parse_manifest({"name": "a"}), "img:1", "h")
        after_put = await waiting
        assert after_put != end and time.monotonic() - started < 1
        waiting = asyncio.ensure_future(registry.next_change(after_put, 4))
        await registry.delete("a")
        assert await waiting not in (end, after_put)
        assert await registry.next_change(None, 0) != after_put  # the end moved on

    on_registry(redis_server, scenario)

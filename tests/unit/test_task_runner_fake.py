"""The task runner on the fake engine (real local processes, no Docker): stdout and exit codes,
the timeout kill, scale.max slots and removal whatever the exit. The fake engine has no
ENTRYPOINT, so a task's arguments here are its whole command line."""

from __future__ import annotations

import asyncio
import json
import sys
from types import SimpleNamespace
from typing import Any, cast

import pytest

from faas.contracts.base import CallRequest
from faas.engines.fake import FakeEngine
from faas.errors import AtScaleLimit, FunctionTimeout
from faas.manifest.spec import parse_manifest
from faas.pool.lifecycle import Lifecycle
from faas.pool.tasks import TaskRunner
from faas.pool.trace import CallTrace
from faas.settings import Settings


def runner(engine: FakeEngine, **settings: Any) -> TaskRunner:
    engine.add_image("task:1", None)
    lifecycle = SimpleNamespace(
        engine=engine, settings=Settings(**settings), gateway_id="g1", stack_id="s1"
    )
    return TaskRunner(cast(Lifecycle, lifecycle))


def python(code: str) -> CallRequest:
    body = json.dumps([sys.executable, "-c", code]).encode()
    return CallRequest("POST", b"", b"", [], body)


def spec(**fields: Any) -> Any:
    return parse_manifest({"name": "vote", "image": "task:1", "contract": "task", **fields})


def test_stdout_is_the_body_exit_code_the_status(fake_engine: FakeEngine) -> None:
    tasks = runner(fake_engine)

    async def scenario() -> None:
        ok = await tasks.run(spec(), "task:1", python("print('[1, 2]')"), "c1", CallTrace())
        assert (ok.status, ok.body.strip()) == (200, b"[1, 2]")
        assert (b"content-type", b"application/json") in ok.headers
        bad = await tasks.run(
            spec(), "task:1", python("import sys; sys.exit(7)"), "c2", CallTrace()
        )
        error = json.loads(bad.body)["error"]
        assert bad.status == 502 and error["exit_code"] == 7 and error["code"] == "task_failed"
        assert await fake_engine.list({}) == []  # both removed

    asyncio.run(scenario())


def test_timeout_kills_and_removes(fake_engine: FakeEngine) -> None:
    tasks = runner(fake_engine)

    async def scenario() -> None:
        with pytest.raises(FunctionTimeout):
            slow = python("import time; time.sleep(30)")
            await tasks.run(spec(timeout="300ms"), "task:1", slow, "c", CallTrace())
        assert await fake_engine.list({}) == []

    asyncio.run(scenario())


def test_scale_max_bounds_concurrent_runs(fake_engine: FakeEngine) -> None:
    tasks = runner(fake_engine, queue_timeout=0.2)

    async def scenario() -> None:
        one = spec(scale={"max": 1})
        slow = asyncio.create_task(
            tasks.run(one, "task:1", python("import time; time.sleep(1)"), "a", CallTrace())
        )
        while tasks.running("vote") == 0:
            await asyncio.sleep(0.01)
        with pytest.raises(AtScaleLimit):
            await tasks.run(one, "task:1", python("print(1)"), "b", CallTrace())
        assert (await slow).status == 200
        assert tasks.running("vote") == 0 and await fake_engine.list({}) == []

    asyncio.run(scenario())

"""A background loop that stops is never silent: /healthz turns 503 and names it."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

from starlette.requests import Request

from faas.supervised import Supervisor, cancel_and_wait, where_tasks_wait
from gateway.auth import AUTHENTICATED
from gateway.routes import healthz


async def _ok() -> None:
    return None


def _healthz(supervisor: Supervisor) -> tuple[int, dict[str, Any]]:
    state = {
        "lifecycle": SimpleNamespace(ping=_ok, gateway_id="g1"),
        "registry": SimpleNamespace(ping=_ok),
        "queue": SimpleNamespace(supervisor=supervisor),
    }
    scope = {"type": "http", "method": "GET", "path": "/healthz", "headers": [], "state": state}
    scope[AUTHENTICATED] = True  # the detail is for the control plane only
    response = asyncio.run(healthz(Request(scope)))
    return response.status_code, json.loads(bytes(response.body))


def _stop_a_loop_on_purpose(supervisor: Supervisor) -> None:
    async def broken_reader() -> None:
        raise KeyError("id")

    async def cancelled() -> None:
        await asyncio.sleep(3600)

    async def run() -> None:
        dying = supervisor.spawn("queue-read", broken_reader())
        stopping = supervisor.spawn("queue-claim", cancelled())
        await asyncio.sleep(0)
        stopping.cancel()  # a shutdown: not a problem
        await asyncio.gather(dying, stopping, return_exceptions=True)

    asyncio.run(run())


def test_a_loop_that_raises_is_reported_and_a_cancelled_one_is_not() -> None:
    supervisor = Supervisor()
    _stop_a_loop_on_purpose(supervisor)
    assert supervisor.problems() == {"queue-read": "stopped: KeyError: 'id'"}


def test_healthz_is_red_naming_the_stopped_loop() -> None:
    supervisor = Supervisor()
    assert _healthz(supervisor)[0] == 200
    _stop_a_loop_on_purpose(supervisor)
    status, body = _healthz(supervisor)
    assert status == 503
    assert body["error"] == {
        "code": "unhealthy",
        "message": "loop queue-read: stopped: KeyError: 'id'",
    }


def test_a_respawned_loop_clears_its_problem() -> None:
    supervisor = Supervisor()
    _stop_a_loop_on_purpose(supervisor)

    async def respawn() -> None:
        await supervisor.spawn("queue-read", _ok())

    asyncio.run(respawn())
    assert supervisor.problems() == {}


async def _loop_losing_one_cancel(rounds: list[int]) -> None:
    """A `while True` loop whose awaited call swallows the first cancel (CPython gh-86296)."""
    lost = False
    while True:
        rounds.append(1)
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            if lost:
                raise
            lost = True


def test_cancel_and_wait_ends_a_loop_that_lost_a_cancel() -> None:
    async def run() -> None:
        rounds: list[int] = []
        task = asyncio.create_task(_loop_losing_one_cancel(rounds))
        await asyncio.sleep(0)
        await asyncio.wait_for(cancel_and_wait([task], recancel=0.01), 5)
        assert task.cancelled() and len(rounds) == 2  # the first cancel was lost, not the second

    asyncio.run(run())


def test_where_tasks_wait_names_the_chain_of_calls() -> None:
    async def inner() -> None:
        await asyncio.sleep(10)

    async def outer() -> None:
        await inner()

    async def run() -> str:
        task = asyncio.create_task(outer(), name="stuck-step")
        await asyncio.sleep(0)
        try:
            return where_tasks_wait()
        finally:
            await cancel_and_wait([task])

    listing = asyncio.run(run()).splitlines()
    assert any(line.startswith("stuck-step: outer:") and "-> inner:" in line for line in listing)

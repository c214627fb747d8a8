"""Async calls end to end: the gateway's queue consumer over a real Redis and the fake engine."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.unit.fake_gateway import FakeGateway, Stack, run, until

FAST_RETRIES = {"async_retry_base": 0.01, "async_retry_max": 0.05, "async_max_attempts": 2}


@pytest.fixture
def flaky(tmp_path: Path) -> Path:
    """A function whose instance answers 500 to its first call and 200 to the others."""
    folder = tmp_path / "flaky"
    folder.mkdir()
    (folder / "faas.yaml").write_text("name: flaky\nmemory: 64Mi\n")
    (folder / "handler.py").write_text(
        "calls = 0\n\n\n"
        "def handle(event, context):\n"
        "    global calls\n"
        "    calls += 1\n"
        "    if calls == 1:\n"
        '        return {"statusCode": 500, "body": "not yet"}\n'
        '    return f"ok after {calls}"\n'
    )
    return folder


async def enqueue(gw: FakeGateway, name: str, path: str = "/") -> str:
    response = await gw.http.post(f"/async-function/{name}{path}", content=b"payload")
    assert response.status_code == 202, response.text
    call_id = response.json()["call_id"]
    assert response.headers["x-call-id"] == call_id
    return str(call_id)


async def settled(gw: FakeGateway, call_id: str) -> dict[str, Any]:
    """The call's record once it is no longer queued or running."""

    async def record() -> dict[str, Any] | None:
        found = (await gw.http.get(f"/system/calls/{call_id}")).json()
        return None if found["status"] in ("queued", "running") else dict(found)

    return dict(await until(record, what=f"call {call_id} settled"))


def test_an_async_call_runs_through_the_pool_and_is_recorded(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            await gw.register("echo")
            call_id = await enqueue(gw, "echo", "/from-queue")
            record = await settled(gw, call_id)
            assert record["status"] == "succeeded", record
            assert record["attempts"] == 1 and record["start"] == "cold"
            assert record["result"]["status"] == 200
            assert record["executions"] == 1
            sync = await gw.call("echo")
            assert sync.headers["x-faas-start"] == "warm"  # the async call's instance
            recent = (await gw.http.get(f"/system/calls/{sync.headers['x-call-id']}")).json()
            assert (recent["mode"], recent["status"]) == ("sync", "succeeded")
            unknown = await gw.http.post("/async-function/nope", content=b"")
            assert unknown.status_code == 404

    run(scenario)


def test_a_failed_attempt_is_retried(stack: Stack, flaky: Path) -> None:
    async def scenario() -> None:
        async with stack.gateway(**FAST_RETRIES) as gw:
            await gw.register(flaky)
            record = await settled(gw, await enqueue(gw, "flaky"))
            assert record["status"] == "succeeded", record
            assert record["attempts"] == 2

    run(scenario)


def test_calls_that_keep_failing_are_dead_lettered_after_max_attempts(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway(**FAST_RETRIES) as gw:
            await gw.register("echo")
            call_id = await enqueue(gw, "echo", "/raise")
            record = await settled(gw, call_id)
            assert record["status"] == "dead", record
            assert record["dead_letter"]["reason"] == "max_attempts"
            assert record["attempts"] == 2 and record["result"]["status"] == 500
            [letter] = (await gw.http.get("/system/dead-letters?function=echo")).json()[
                "dead_letters"
            ]
            assert letter["call_id"] == call_id and letter["reason"] == "max_attempts"
            redriven = await gw.http.post(f"/system/dead-letters/{letter['id']}/redrive")
            assert redriven.status_code == 202
            again = await settled(gw, redriven.json()["call_id"])
            assert again["status"] == "dead"

    run(scenario)


def test_calls_over_the_per_function_limit_wait_in_the_backlog(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway(async_per_function=1) as gw:
            await gw.register("tricks")
            call_ids = [await enqueue(gw, "tricks", "/sleep?s=0.1") for _ in range(3)]
            records = [await settled(gw, call_id) for call_id in call_ids]
            assert [r["status"] for r in records] == ["succeeded"] * 3
            assert len(await gw.container_ids("tricks")) == 1  # one at a time: one instance
            started = sorted(r["started_at"] for r in records)
            finished = sorted(r["finished_at"] for r in records)
            assert started[1] >= finished[0] and started[2] >= finished[1]

    run(scenario)


def test_a_stopping_gateway_hands_unfinished_calls_to_another(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway(async_shutdown_grace=0.1) as first:
            await first.register("tricks")
            call_id = await enqueue(first, "tricks", "/sleep?s=1")

            async def running() -> bool:
                found = await first.http.get(f"/system/calls/{call_id}")
                return bool(found.json()["status"] == "running")

            await until(running, what="the call running")
            stopped = first.gateway_id
        async with stack.gateway() as second:
            record = await settled(second, call_id)
            assert record["status"] == "succeeded", record
            assert record["gateway"] == second.gateway_id != stopped
            assert record["executions"] == 2  # at least once: the interrupted run, then this

    run(scenario)


class CallbackReceiver:
    """A local HTTP endpoint that keeps what is POSTed to it and answers 204."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[dict[str, str], bytes]] = asyncio.Queue()
        self.url = ""

    async def __aenter__(self) -> CallbackReceiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/done"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")[1:]
        headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in head if line)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        await self.received.put((headers, body))
        writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()


def test_the_result_is_posted_to_the_callback_url(stack: Stack) -> None:
    async def scenario() -> None:
        async with CallbackReceiver() as receiver, stack.gateway(callback_allow_private=True) as gw:
            await gw.register("echo")
            response = await gw.http.post(
                "/async-function/echo/text", headers={"X-Callback-Url": receiver.url}
            )
            call_id = response.json()["call_id"]
            headers, body = await asyncio.wait_for(receiver.received.get(), 10)
            assert body == b"plain text"
            assert headers["x-call-id"] == call_id
            assert headers["x-function-status"] == "200"
            assert headers["x-faas-call-status"] == "succeeded"

            async def delivered() -> bool:
                record = (await gw.http.get(f"/system/calls/{call_id}")).json()
                return bool(record.get("callback", {}).get("status") == "delivered")

            await until(delivered, what="the delivery recorded")

    run(scenario)

"""A response's head waits for its body, to go out in one write; never longer than a loop turn."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from gateway.one_write import OneWrite


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else None


def one_write(transport: FakeTransport) -> OneWrite:
    return OneWrite(cast(asyncio.Transport, transport))


def test_head_and_body_go_out_in_one_write() -> None:
    async def scenario() -> list[bytes]:
        transport = FakeTransport()
        writer = one_write(transport)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        assert transport.writes == []
        writer.write(b"ok")
        await asyncio.sleep(0)
        writer.write(b"more")  # after the head: passes through
        return transport.writes

    assert asyncio.run(scenario()) == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", b"more"]


def test_a_head_whose_body_is_late_goes_out_on_the_next_loop_turn() -> None:
    async def scenario() -> None:
        transport = FakeTransport()
        writer = one_write(transport)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        await asyncio.sleep(0)
        assert transport.writes == [b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"]
        writer.write(b"5\r\nhello\r\n")
        assert transport.writes[-1] == b"5\r\nhello\r\n"

    asyncio.run(scenario())


def test_100_continue_is_never_held_and_close_sends_a_held_head_first() -> None:
    async def scenario() -> None:
        transport = FakeTransport()
        writer = one_write(transport)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        writer.close()
        assert transport.writes[-1] == b"HTTP/1.1 204 No Content\r\n\r\n" and transport.closed
        assert writer.is_closing() and writer.get_extra_info("peername") == ("127.0.0.1", 1)

    asyncio.run(scenario())

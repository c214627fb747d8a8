"""Slow clients against a real gateway process: a request head that trickles in (slowloris) or
never comes is cut at FAAS_HEADER_TIMEOUT, while normal calls go on."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from tests.conftest import Gateway

TIMEOUT = 2.0  # FAAS_HEADER_TIMEOUT of these tests


def connect(gateway: Gateway) -> socket.socket:
    return socket.create_connection(("127.0.0.1", gateway.port), timeout=30)


def closed(sock: socket.socket) -> bool:
    """Whether the gateway has closed the connection (reads without waiting)."""
    sock.setblocking(False)
    try:
        return sock.recv(1024) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
    finally:
        sock.setblocking(True)


def test_a_head_sent_one_byte_a_second_is_cut_while_calls_go_on(
    make_gateway: Callable[..., Gateway],
) -> None:
    gateway = make_gateway(FAAS_HEADER_TIMEOUT=f"{TIMEOUT}s")
    slow = connect(gateway)
    silent = connect(gateway)  # connects and never sends a byte
    started = time.monotonic()
    slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    trickle = b"X-Slow: " + b"a" * 100
    cut_after = None
    for byte in trickle:
        try:
            slow.sendall(bytes([byte]))
        except OSError:  # reset: cut while sending
            cut_after = time.monotonic() - started
            break
        if closed(slow):
            cut_after = time.monotonic() - started
            break
        # Normal calls keep working meanwhile, on their own connections.
        assert gateway.http.get("/healthz").status_code == 200
        time.sleep(1.0)  # the slow client's pace is what is tested
    assert cut_after is not None, "the slow head was never cut"
    assert TIMEOUT <= cut_after <= TIMEOUT + 4, cut_after
    assert closed(silent)  # cut too, by the same clock
    slow.close()
    silent.close()
    assert gateway.http.get("/healthz").status_code == 200


def test_many_slow_heads_are_all_cut_and_the_gateway_serves(
    make_gateway: Callable[..., Gateway],
) -> None:
    gateway = make_gateway(FAAS_HEADER_TIMEOUT=f"{TIMEOUT}s")
    held = [connect(gateway) for _ in range(300)]
    for sock in held:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nX-Slow: a")
    assert gateway.http.get("/healthz").status_code == 200
    deadline = time.monotonic() + TIMEOUT + 10
    while time.monotonic() < deadline and not all(closed(sock) for sock in held):
        time.sleep(0.2)
    assert all(closed(sock) for sock in held)
    for sock in held:
        sock.close()
    # A whole head sent at once on a fresh connection is answered as ever.
    normal = connect(gateway)
    normal.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert normal.recv(1024).startswith(b"HTTP/1.1 ")
    normal.close()

"""faas bench's measuring client and baseline helpers, against local sockets (no Docker)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from faas.contracts.transport import Address
from faas.engines.base import ContainerConfig
from faas_bench import wire
from faas_bench.docker_run import docker_run_argv
from faas_bench.environment import cgroup_memory
from faas_bench.wire import Connection, WireError, parse_address, request_bytes


class TinyServer:
    """Answers each request on a Unix socket; closes each connection after `per_connection`
    responses (like uvicorn closing an idle keep-alive connection)."""

    def __init__(self, path: Path, per_connection: int = 1000, split: bool = False) -> None:
        self.path = path
        self.per_connection = per_connection
        self.split = split  # head and body in separate writes
        self.requests: list[bytes] = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                for _ in range(self.per_connection):
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    if not data:
                        break
                    self.requests.append(data)
                    body = b'{"ok": true}'
                    head = (
                        b"HTTP/1.1 200 OK\r\nX-Faas-Start: warm\r\n"
                        b"Server-Timing: total;dur=0.5\r\nContent-Length: "
                        + str(len(body)).encode()
                        + b"\r\n\r\n"
                    )
                    if self.split:
                        conn.sendall(head)
                        conn.sendall(body)
                    else:
                        conn.sendall(head + body)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="fb-", dir="/tmp") as tmp:  # sun_path is short
        yield Path(tmp)


def test_request_bytes_always_carries_content_length() -> None:
    raw = request_bytes("POST", "/call/", b"abc", {"X-Faas-Force": "cold"})
    assert raw == (
        b"POST /call/ HTTP/1.1\r\nHost: faas\r\nX-Faas-Force: cold\r\nContent-Length: 3\r\n\r\nabc"
    )


def test_addresses() -> None:
    assert parse_address("unix:/run/x.sock") == Address(path="/run/x.sock")
    assert parse_address("172.18.0.2:8080") == Address(host="172.18.0.2", port=8080)
    assert wire.address_from_url("http://127.0.0.1:8090") == Address(host="127.0.0.1", port=8090)
    with pytest.raises(ValueError):
        parse_address("nowhere")


def test_keep_alive_exchange_parses_headers_and_body(short_tmp: Path) -> None:
    server = TinyServer(short_tmp / "s.sock", split=True)
    try:
        with Connection(Address(path=str(server.path))) as conn:
            replies = [conn.exchange(request_bytes("GET", "/call/")) for _ in range(3)]
    finally:
        server.close()
    assert [r.status for r in replies] == [200, 200, 200]
    assert replies[0].headers["x-faas-start"] == "warm"
    assert replies[0].headers["server-timing"] == "total;dur=0.5"
    assert replies[0].body == b'{"ok": true}'
    assert 0 < replies[0].first_byte_ms <= replies[0].elapsed_ms
    assert len(server.requests) == 3


def test_a_connection_the_server_closed_while_idle_is_retried_once(short_tmp: Path) -> None:
    server = TinyServer(short_tmp / "s.sock", per_connection=1)
    try:
        with Connection(Address(path=str(server.path))) as conn:
            first = conn.exchange(request_bytes("GET", "/call/"))
            second = conn.exchange(request_bytes("GET", "/call/"))  # old one is closed
    finally:
        server.close()
    assert first.status == second.status == 200
    assert len(server.requests) == 2


def test_a_fresh_connection_that_closes_is_an_error(short_tmp: Path) -> None:
    path = short_tmp / "s.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen()

    def slam() -> None:
        conn, _ = listener.accept()
        conn.recv(1024)
        conn.close()

    thread = threading.Thread(target=slam, daemon=True)
    thread.start()
    try:
        with pytest.raises(WireError, match="closed"), Connection(Address(path=str(path))) as c:
            c.exchange(request_bytes("GET", "/call/"))
    finally:
        listener.close()


def test_docker_run_argv_keeps_the_hardening() -> None:
    cfg = ContainerConfig(
        image="faas/noop:1",
        name="faas-bench-noop-1",
        labels={"faas.managed": "true", "faas.role": "bench"},
        environment={"FAAS_HANDLER": "handler.handle", "FAAS_PORT": "8080"},
        memory=64 * 2**20,
        cpus=0.5,
    )
    argv = docker_run_argv(cfg)
    joined = " ".join(argv)
    for flag in (
        "--rm",
        "--user 10001:10001",
        "--read-only",
        "--cap-drop ALL",
        "--security-opt no-new-privileges",
        "--memory 67108864 --memory-swap 67108864",
        "--cpus 0.5",
        "--network none",
        "--label faas.role=bench",
        "-e FAAS_HANDLER=handler.handle",
    ):
        assert flag in joined
    assert "FAAS_PORT" not in joined  # one-shot: no server
    assert argv[argv.index("faas/noop:1") + 1 : argv.index("faas/noop:1") + 4] == [
        "python3",
        "-s",
        "-c",
    ]


def test_cgroup_memory_v1_and_v2(tmp_path: Path) -> None:
    v1 = tmp_path / "v1" / "memory" / "docker" / "abc123"
    v1.mkdir(parents=True)
    (v1 / "memory.usage_in_bytes").write_text("10485760\n")
    (v1 / "memory.limit_in_bytes").write_text("67108864\n")
    (v1 / "memory.stat").write_text(
        "cache 2097152\ntotal_rss 7340032\ntotal_inactive_file 1048576\n"
    )
    sample = cgroup_memory("abc123", tmp_path / "v1")
    assert sample is not None
    assert (sample.usage, sample.working_set, sample.rss, sample.limit) == (
        10485760,
        9437184,
        7340032,
        67108864,
    )

    v2 = tmp_path / "v2" / "system.slice" / "docker-abc123.scope"
    v2.mkdir(parents=True)
    (v2 / "memory.current").write_text("5000000\n")
    (v2 / "memory.max").write_text("max\n")
    (v2 / "memory.stat").write_text("anon 4000000\ninactive_file 1000000\n")
    sample = cgroup_memory("abc123", tmp_path / "v2")
    assert sample is not None
    assert (sample.usage, sample.working_set, sample.rss, sample.limit) == (
        5000000,
        4000000,
        4000000,
        None,
    )
    assert cgroup_memory("missing", tmp_path / "v1") is None


# -- pool control ------------------------------------------------------------------------------


def control(handler: object) -> object:
    import httpx

    from faas_bench.control import Control

    return Control("http://gw", "noop", transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


def test_pool_control_missing_from_the_gateway_is_not_available_once_and_for_all() -> None:
    import httpx

    from faas_bench.control import NotAvailable

    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        body = {"error": {"code": "not_found", "message": f"no route for {request.url.path}"}}
        return httpx.Response(404, json=body)

    ctl = control(handler)
    with pytest.raises(NotAvailable, match="no pool control"):
        ctl.drain()  # type: ignore[attr-defined]
    with pytest.raises(NotAvailable, match="no pool control"):
        ctl.prestart(1)  # type: ignore[attr-defined]
    assert seen == ["/system/function/noop/pool"]  # asked once, remembered


def test_pool_control_actions_and_their_errors() -> None:
    import json as json_

    import httpx

    from faas_bench.control import NotAvailable

    actions: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json_.loads(request.content)
        actions.append(body)
        if body["action"] == "pause":
            error = {"code": "bad_request", "message": "nothing to pause"}
            return httpx.Response(400, json={"error": error})
        return httpx.Response(200, json={"removed": 2})

    ctl = control(handler)
    assert ctl.drain() == 2  # type: ignore[attr-defined]
    ctl.prestart(3)  # type: ignore[attr-defined]
    with pytest.raises(NotAvailable, match="pool pause: nothing to pause"):
        ctl.pause()  # type: ignore[attr-defined]
    assert actions == [{"action": "drain"}, {"action": "prestart", "count": 3}, {"action": "pause"}]

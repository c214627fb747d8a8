"""The in-container runtime (the faas.runtime package), over real sockets and without Docker.

Most tests run a `Server` on a daemon thread with a handler defined here and talk raw HTTP to
it; startup, init failures and log tagging run the runtime as a process, both as an image
starts it (a copy of the package, under `python -I -S`) and as `python -m faas.runtime`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from faas import runtime as rt
from faas.build.images import RUNTIME_PACKAGE, runtime_command, runtime_files
from faas.runtime.adapter import BINARY, TEXT
from faas.runtime.codec import JSON, parse_head
from faas.runtime.logs import TaggedWriter, current_call
from faas.runtime.main import env_int

if TYPE_CHECKING:
    from faas.runtime.adapter import Handler

TIMEOUT = 5.0


# --- Helpers ---------------------------------------------------------------------------------


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers  # lower-case names
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


def raw_request(
    method: str = "GET",
    target: str = "/call/",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Client:
    """A raw HTTP/1.1 client on one connection: send bytes, read responses in order."""

    def __init__(self, address: str | tuple[str, int]) -> None:
        family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(address)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, method: str = "GET", target: str = "/call/", **kw: Any) -> Response:
        self.send(raw_request(method, target, **kw))
        return self.read()

    def read(self) -> Response:
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
        length = int(headers["content-length"])
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return Response(status, headers, body)

    def at_eof(self) -> bool:
        """True once the server has closed its side (after any buffered bytes)."""
        return not self.buf and self.sock.recv(65536) == b""

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("server closed the connection")
        self.buf += chunk


def wait_until(condition: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


def can_connect(address: str | tuple[str, int]) -> bool:
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(address)
        except OSError:
            return False
    return True


@pytest.fixture(scope="session")
def image_runtime(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The command that starts the runtime as an image does, for a copy of the package made as
    an image build makes it, run under `python -I -S`: isolated from the environment and
    without site-packages, so the runtime has nothing but the standard library to import.
    """
    folder = tmp_path_factory.mktemp("image")
    (folder / RUNTIME_PACKAGE).mkdir()
    for path in runtime_files():
        shutil.copyfile(path, folder / RUNTIME_PACKAGE / path.name)
    subprocess.run([sys.executable, "-I", "-S", "-m", "compileall", "-q", folder], check=True)
    python, *flags, code = runtime_command(str(folder))
    assert (python, flags) == ("python3", ["-s", "-P", "-c"])  # -I implies -s and -P
    return [sys.executable, "-I", "-S", "-c", code]


@pytest.fixture(params=["image", "host"])
def runtime_process(request: pytest.FixtureRequest) -> list[str]:
    """How a process test starts the runtime: as an image does, or on a host as
    `python -P -m faas.runtime` (-P: a function folder as working directory shadows no `faas`)."""
    if request.param == "image":
        return request.getfixturevalue("image_runtime")  # type: ignore[no-any-return]
    return [sys.executable, "-P", "-m", "faas.runtime"]


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    # Short, not tmp_path: a Unix socket path must fit in 108 bytes.
    path = Path(tempfile.mkdtemp(prefix="faas-rt-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def serve(sock_dir: Path) -> Iterator[Callable[..., rt.Server]]:
    """serve(handler, **options) -> a running Server on a fresh Unix socket."""
    servers: list[rt.Server] = []

    def start(handler: Handler, **options: Any) -> rt.Server:
        if "port" not in options:
            options["socket_path"] = str(sock_dir / f"{len(servers)}.sock")
        server = rt.Server(handler, **options)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def connect() -> Iterator[Callable[[rt.Server], Client]]:
    clients: list[Client] = []

    def open_client(server: rt.Server) -> Client:
        clients.append(Client(server.address))
        return clients[-1]

    yield open_client
    for client in clients:
        client.close()


def echo(event: rt.Event, context: rt.Context) -> dict[str, Any]:
    return {"method": event.method, "path": event.path, "query": event.query}


# --- Requests reach the handler --------------------------------------------------------------


def test_event_carries_method_path_query_headers_and_binary_body(
    serve: Callable[..., rt.Server], connect: Callable[[rt.Server], Client]
) -> None:
    seen: list[tuple[rt.Event, rt.Context]] = []

    def handle(event: rt.Event, context: rt.Context) -> str:
        seen.append((event, context))
        return "ok"

    client = connect(serve(handle, function_name="fn"))
    body = bytes(range(256)) * 4
    headers = {
        "Content-Type": "application/x-thing",
        "X-Custom": "v1",
        "X-Call-Id": "call-42",
        "X-Faas-Timeout-Ms": "2500",
        "X-Faas-Secret": "gateway-only",
    }
    response = client.request(
        "PUT", "/call/a%20b/c?x=1&x=2&y=&q=a+b%26c", body=body, headers=headers
    )
    assert response.status == 200
    ((event, context),) = seen
    assert event.method == "PUT"
    assert event.path == "/a b/c"
    assert event.query == {"x": "2", "y": "", "q": "a b&c"}
    assert event.query_list == {"x": ["1", "2"], "y": [""], "q": ["a b&c"]}
    assert event.body == body
    assert event.headers["content-type"] == event.headers["Content-Type"] == "application/x-thing"
    assert event.headers.get("X-CUSTOM") == "v1"
    assert "x-call-id" in event.headers and "X-Call-Id" in event.headers
    assert not any(name.startswith("x-faas-") for name in event.headers)
    assert "X-Faas-Timeout-Ms" not in event.headers
    assert set(event.headers) == {"content-type", "x-custom", "x-call-id", "content-length"}
    assert context.call_id == "call-42"
    assert context.function_name == "fn"
    assert 0 < context.remaining_ms() <= 2500


@pytest.mark.parametrize(
    ("target", "path", "query"),
    [
        ("/call", "/", {}),
        ("/call/", "/", {}),
        ("/call?x=1", "/", {"x": "1"}),
        ("/call/a/b?x=1&x=2&y=", "/a/b", {"x": "2", "y": ""}),
        ("/call/%E2%9C%93/%zz", "/\u2713/%zz", {}),
        ("/call/x?flag&k=%3D", "/x", {"flag": "", "k": "="}),
    ],
)
def test_call_targets_map_to_path_and_query(
    serve: Callable[..., rt.Server],
    connect: Callable[[rt.Server], Client],
    target: str,
    path: str,
    query: dict[str, str],
) -> None:
    response = connect(serve(echo)).request("GET", target)
    assert response.status == 200
    assert response.json() == {"method": "GET", "path": path, "query": query}


def test_event_json_and_text() -> None:
    event = rt.Event("POST", body='{"name": "caf\u00e9"}'.encode())
    assert event.json() == {"name": "caf\u00e9"}
    assert event.text() == '{"name": "caf\u00e9"}'
    with pytest.raises(ValueError):
        rt.Event(body=b"{not json").json()
    with pytest.raises(ValueError):
        rt.Event(body=b"").json()


def test_headers_mapping_is_case_insensitive() -> None:
    headers = rt.Headers({"content-type": "text/plain", "x-a": "1"})
    assert headers["CONTENT-TYPE"] == "text/plain"
    assert headers.get("X-A") == "1" and headers.get("missing") is None
    assert "Content-Type" in headers and "nope" not in headers
    assert 3 not in headers  # type: ignore[comparison-overlap]
    assert list(headers) == ["content-type", "x-a"] and len(headers) == 2
    assert dict(headers) == {"content-type": "text/plain", "x-a": "1"}


def test_repeated_request_headers_are_joined() -> None:
    request = parse_head(b"GET /call/ HTTP/1.1\r\nAccept: a\r\naccept: b\r\nHost:  h ")
    assert request.headers == {"accept": "a, b", "host": "h"}


# --- Return values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "status", "content_type", "body"),
    [
        ("h\u00e9", 200, TEXT, "h\u00e9".encode()),
        (b"\x00\xff", 200, BINARY, b"\x00\xff"),
        (bytearray(b"ab"), 200, BINARY, b"ab"),
        (None, 204, None, b""),
        ({"a": [1, None]}, 200, JSON, b'{"a":[1,null]}'),
        ([1, "x"], 200, JSON, b'[1,"x"]'),
        (42, 200, JSON, b"42"),
        (1.5, 200, JSON, b"1.5"),
        (True, 200, JSON, b"true"),
        (False, 200, JSON, b"false"),
        ({"statusCode": 201, "body": "made"}, 201, TEXT, b"made"),
        ({"statusCode": 200, "body": {"x": 1}}, 200, JSON, b'{"x":1}'),
        ({"statusCode": 200, "body": [1]}, 200, JSON, b"[1]"),
        ({"statusCode": 200, "body": b"raw"}, 200, BINARY, b"raw"),
        ({"statusCode": 202}, 202, None, b""),
        ({"statusCode": 404, "body": None}, 404, None, b""),
        ({"statusCode": 204, "body": "dropped"}, 204, None, b""),
        (
            {
                "statusCode": 200,
                "body": base64.b64encode(b"\x00\xfe").decode(),
                "isBase64Encoded": True,
            },
            200,
            BINARY,
            b"\x00\xfe",
        ),
        (
            {"statusCode": 200, "headers": {"content-TYPE": "text/html"}, "body": "<p>"},
            200,
            "text/html",
            b"<p>",
        ),
    ],
)
def test_coerce_response(value: Any, status: int, content_type: str | None, body: bytes) -> None:
    got_status, headers, got_body = rt.coerce_response(value)
    assert (got_status, got_body) == (status, body)
    types = [v for k, v in headers if k.lower() == "content-type"]
    assert types == ([content_type] if content_type else [])


def test_coerce_response_headers_lists_and_framing() -> None:
    status, headers, body = rt.coerce_response(
        {
            "statusCode": 302,
            "headers": {"Location": "/x", "Set-Cookie": ["a=1", "b=2"], "Content-Length": "99"},
            "multiValueHeaders": {"X-Multi": ["1", 2]},
            "body": "",
        }
    )
    assert status == 302 and body == b""
    assert headers == [
        ("Location", "/x"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("X-Multi", "1"),
        ("X-Multi", "2"),
        ("Content-Type", TEXT),
    ]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (object(), ["object", "JSON-serialisable", "statusCode"]),
        ({"when": {1, 2}}, ["dict", "set"]),
        ({"statusCode": 700}, ["statusCode", "700"]),
        ({"statusCode": 100}, ["statusCode"]),
        ({"statusCode": "200"}, ["statusCode", "'200'"]),
        ({"statusCode": True}, ["statusCode"]),
        ({"statusCode": 200, "headers": "x"}, ["headers must be a dict"]),
        ({"statusCode": 200, "headers": {"X-A": "1\r\nEvil: 1"}}, ["X-A"]),
        ({"statusCode": 200, "headers": {"Bad Name": "1"}}, ["Bad Name"]),
        ({"statusCode": 200, "headers": {"X-A": "\u2713"}}, ["X-A"]),
        ({"statusCode": 200, "body": "abc", "isBase64Encoded": True}, ["base64"]),
        ({"statusCode": 200, "body": object()}, ["object"]),
        ("\ud800", ["UTF-8"]),
    ],
)
def test_coerce_response_bad_return(value: Any, words: list[str]) -> None:
    status, headers, body = rt.coerce_response(value)
    assert status == 500
    assert ("X-Faas-Function-Error", "BadReturn") in headers
    error = json.loads(body)["error"]
    assert error["code"] == "bad_return"
    for word in words:
        assert word in error["message"]


def test_return_values_over_the_wire(
    serve: Callable[..., rt.Server], connect: Callable[[rt.Server], Client]
) -> None:
    returns: dict[str, Any] = {
        "/none": None,
        "/text": "hi",
        "/shaped": {"statusCode": 418, "headers": {"X-Tea": "yes"}, "body": {"short": True}},
        "/bad": {1, 2},
    }
    client = connect(serve(lambda event, context: returns[event.path]))

    none = client.request("GET", "/call/none")
    assert (none.status, none.body, none.headers["content-length"]) == (204, b"", "0")
    text = client.request("GET", "/call/text")
    assert (text.status, text.body, text.headers["content-type"]) == (200, b"hi", TEXT)
    shaped = client.request("GET", "/call/shaped")
    assert (shaped.status, shaped.headers["x-tea"], shaped.json()) == (418, "yes", {"short": True})
    bad = client.request("GET", "/call/bad")
    assert bad.status == 500 and bad.json()["error"]["code"] == "bad_return"
    assert bad.headers["x-faas-function-error"] == "BadReturn"
    for response in (none, text, shaped, bad):
        assert float(response.headers["x-faas-handler-ms"]) >= 0
        assert len(response.headers["x-faas-handler-ms"].split(".")[1]) == 3


# --- Errors and logging ----------------------------------------------------------------------


@contextmanager
def tagged_output(directory: Path) -> Iterator[Callable[[], str]]:
    """sys.stdout and sys.stderr as TaggedWriters into one file; yields a reader.

    Used inside test bodies: pytest's capturing swaps sys.stdout back between test phases.
    """
    path = directory / "output.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    saved = sys.stdout, sys.stderr
    sys.stdout = TaggedWriter(fd)
    sys.stderr = TaggedWriter(fd)
    try:
        yield path.read_text
    finally:
        sys.stdout, sys.stderr = saved
        os.close(fd)


def test_unhandled_exception_is_500_with_tagged_traceback(
    serve: Callable[..., rt.Server],
    connect: Callable[[rt.Server], Client],
    tmp_path: Path,
) -> None:
    def handle(event: rt.Event, context: rt.Context) -> Any:
        print("about to divide")
        return 1 / 0

    client = connect(serve(handle))
    with tagged_output(tmp_path) as output:
        response = client.request("POST", "/call/", headers={"X-Call-Id": "c-7"})
    assert response.status == 500
    assert response.json() == {
        "error": {"code": "handler_error", "message": "ZeroDivisionError: division by zero"}
    }
    assert response.headers["x-faas-function-error"] == "Unhandled"
    assert "x-faas-handler-ms" in response.headers
    lines = output().splitlines()
    assert lines[0] == "[c-7] about to divide"
    assert lines[1] == "[c-7] Traceback (most recent call last):"
    assert lines[-1] == "[c-7] ZeroDivisionError: division by zero"
    assert all(line.startswith("[c-7] ") for line in lines)


def test_system_exit_in_handler_does_not_stop_the_server(
    serve: Callable[..., rt.Server],
    connect: Callable[[rt.Server], Client],
    tmp_path: Path,
) -> None:
    def handle(event: rt.Event, context: rt.Context) -> Any:
        if event.path == "/exit":
            sys.exit(3)
        return "still here"

    client = connect(serve(handle))
    with tagged_output(tmp_path):
        response = client.request("GET", "/call/exit")
    assert response.status == 500 and response.json()["error"]["message"] == "SystemExit: 3"
    assert client.request("GET", "/call/").body == b"still here"


def test_tagged_writer_lines_partials_and_untagged_output(tmp_path: Path) -> None:
    path = tmp_path / "log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    writer = TaggedWriter(fd)
    writer.write("outside\n")
    writer.write("no newline yet")
    writer.flush()  # outside a call a flush writes the partial line as is
    writer.write(" done\n")

    def in_call() -> None:
        writer.write("one\ntwo\nthr")
        writer.flush()  # inside a call it waits for the newline: one tag per line
        writer.write("ee\npartial")
        writer.end_line()
        writer.write("")

    current_call.id = "cid"
    try:
        in_call()
    finally:
        current_call.id = None
    writer.write("after\n")
    os.close(fd)
    assert path.read_text().splitlines() == [
        "outside",
        "no newline yet done",
        "[cid] one",
        "[cid] two",
        "[cid] three",
        "[cid] partial",
        "after",
    ]
    assert writer.writable() and writer.fileno() == fd and writer.encoding == "utf-8"


def test_partial_line_is_flushed_when_the_call_ends(
    serve: Callable[..., rt.Server],
    connect: Callable[[rt.Server], Client],
    tmp_path: Path,
) -> None:
    def handle(event: rt.Event, context: rt.Context) -> None:
        print("progress", end="", flush=True)
        print("...", end="")

    client = connect(serve(handle))
    with tagged_output(tmp_path) as output:
        client.request("GET", "/call/", headers={"X-Call-Id": "a"})
        client.request("GET", "/call/", headers={"X-Call-Id": "b"})
    assert output().splitlines() == ["[a] progress...", "[b] progress..."]


# --- Context ---------------------------------------------------------------------------------


def test_cold_only_on_first_call(
    serve: Callable[..., rt.Server], connect: Callable[[rt.Server], Client]
) -> None:
    server = serve(lambda event, context: context.cold)
    first, second = connect(server), connect(server)
    assert first.request().json() is True
    assert second.request().json() is False
    assert first.request().json() is False


def test_remaining_ms(
    serve: Callable[..., rt.Server], connect: Callable[[rt.Server], Client]
) -> None:
    client = connect(serve(lambda event, context: str(context.remaining_ms())))
    remaining = float(client.request(headers={"X-Faas-Timeout-Ms": "1500.5"}).body)
    assert 1000 < remaining <= 1500.5
    assert float(client.request(headers={"X-Faas-Timeout-Ms": "0"}).body) == 0.0
    assert client.request().body == b"inf"  # no timeout given
    assert client.request(headers={"X-Faas-Timeout-Ms": "soon"}).body == b"inf"


def test_remaining_ms_counts_from_receipt_and_is_never_negative() -> None:
    late = rt.Context(timeout_ms=100, received=time.perf_counter() - 1.0)
    assert late.remaining_ms() == 0.0
    fresh = rt.Context(timeout_ms=100, received=time.perf_counter() - 0.05)
    assert 0 < fresh.remaining_ms() <= 50


# --- Connections -----------------------------------------------------------------------------


def test_keep_alive_serves_many_requests_then_honours_connection_close(
    serve: Callable[..., rt.Server], connect: Callable[[rt.Server], Client]
) -> None:
    server = serve(echo)
    client = connect(server)
    for n in range(20):
        response = client.request("POST", f"/call/{n}", body=b"x" * n)
        assert response.json()["path"] == f"/{n}"
        assert "connection" not in response.headers
    last = client.request("GET", "/call/last", headers={"Connection": "close"})
    assert last.json()["path"] == "/last" and last.headers["connection"] == "close"
    assert client.at_eof()
    assert server.calls == 21


def test_http_1_0_closes_unless_keep_alive(
    serve: Callable[..., rt.Server], connect: Callable[[rt.Server], Client]
) -> None:
    server = serve(echo)
    client = connect(server)
    client.send(b"GET /call/a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert client.read().json()["path"] == "/a"
    client.send(b"GET /call/b HTTP/1.0\r\n\r\n")
    assert client.read().json()["path"] == "/b"
    assert client.at_eof()


@pytest.mark.parametrize("concurrency", [1, 3])
def test_pipelined_requests_are_answered_in_order(
    serve: Callable[..., rt.Server], connect: Callable[[rt.Server], Client], concurrency: int
) -> None:
    def handle(event: rt.Event, context: rt.Context) -> str:
        if event.path == "/0":
            time.sleep(0.02)  # the first is slowest: order must not follow completion
        return event.path

    client = connect(serve(handle, concurrency=concurrency))
    client.send(b"".join(raw_request("POST", f"/call/{n}", body=b"b" * n) for n in range(8)))
    client.send(b"\r\n" + raw_request("GET", "/_/health"))  # a stray CRLF is allowed
    assert [client.read().body for _ in range(8)] == [f"/{n}".encode() for n in range(8)]
    assert client.read().json()["calls"] == 8


def test_request_split_across_writes(
    serve: Callable[..., rt.Server], connect: Callable[[rt.Server], Client]
) -> None:
    def handle(event: rt.Event, context: rt.Context) -> dict[str, Any]:
        return {"size": len(event.body), "sha": hashlib.sha256(event.body).hexdigest()}

    client = connect(serve(handle))
    body = os.urandom(1024 * 1024 + 7)
    data = raw_request("POST", "/call/up", body=body, headers={"X-Call-Id": "split"})
    cuts = [0, 10, 40, len(data) - len(body) - 1, len(data) - len(body) + 3, len(data) - 5]
    for start, end in zip(cuts, [*cuts[1:], len(data)], strict=True):
        client.send(data[start:end])
        time.sleep(0.005)  # give the server a chance to read each piece on its own
    assert client.read().json() == {"size": len(body), "sha": hashlib.sha256(body).hexdigest()}
    assert client.request("GET", "/call/").status == 200  # the connection is still in sync


def test_large_response_is_written_out_across_many_sends(
    serve: Callable[..., rt.Server], connect: Callable[[rt.Server], Client]
) -> None:
    big = os.urandom(8 * 1024 * 1024)  # far beyond the socket buffer: the loop must wait
    client = connect(serve(lambda event, context: big if event.path == "/big" else "small"))
    client.send(raw_request("GET", "/call/big") + raw_request("GET", "/call/next"))
    first = client.read()
    assert first.status == 200 and first.body == big
    assert client.read().body == b"small"


def test_oversized_head_is_431_and_closes(
    serve: Callable[..., rt.Server], connect: Callable[[rt.Server], Client]
) -> None:
    client = connect(serve(echo))
    client.send(b"GET /call/ HTTP/1.1\r\nX-Big: " + b"a" * (70 * 1024))
    response = client.read()
    assert response.status == 431
    assert response.json()["error"]["code"] == "header_too_large"
    assert response.headers["connection"] == "close"
    client.sock.shutdown(socket.SHUT_WR)
    assert client.at_eof()


def test_oversized_body_is_413_even_while_the_client_keeps_sending(
    serve: Callable[..., rt.Server], connect: Callable[[rt.Server], Client]
) -> None:
    client = connect(serve(echo, max_body=1000))
    body = b"z" * (2 * 1024 * 1024)  # more than the socket buffers: the server must drain it
    client.send(raw_request("POST", "/call/", body=body))
    response = client.read()
    assert response.status == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    client.sock.shutdown(socket.SHUT_WR)
    assert client.at_eof()


def test_body_at_the_limit_is_accepted(
    serve: Callable[..., rt.Server], connect: Callable[[rt.Server], Client]
) -> None:
    client = connect(serve(lambda event, context: len(event.body), max_body=1000))
    assert client.request("POST", "/call/", body=b"z" * 1000).json() == 1000


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"POST /call/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501, "not_implemented"),
        (b"GET /call/\r\n\r\n", 400, "bad_request"),
        (b"GET /call/ HTTP/2.0\r\n\r\n", 400, "bad_request"),
        (b"GET /call/ HTTP/1.1\r\nno colon\r\n\r\n", 400, "bad_request"),
        (b"GET /call/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "bad_request"),
        (b"GET /call/ HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n", 400, "bad_request"),
    ],
)
def test_refused_requests(
    serve: Callable[..., rt.Server],
    connect: Callable[[rt.Server], Client],
    data: bytes,
    status: int,
    code: str,
) -> None:
    server = serve(echo)
    client = connect(server)
    client.send(data)
    response = client.read()
    assert (response.status, response.json()["error"]["code"]) == (status, code)
    client.sock.shutdown(socket.SHUT_WR)
    assert client.at_eof()
    assert server.calls == 0


def test_health_and_unknown_targets(
    serve: Callable[..., rt.Server], connect: Callable[[rt.Server], Client]
) -> None:
    client = connect(serve(echo, function_name="resize"))
    health = client.request("GET", "/_/health")
    assert health.status == 200 and health.headers["content-type"] == JSON
    assert health.json() == {"status": "ok", "loaded": True, "function": "resize", "calls": 0}
    client.request("GET", "/call/")
    assert client.request("GET", "/_/health").json()["calls"] == 1
    assert client.request("POST", "/_/health").status == 405
    for target in ("/", "/nope", "/callx", "/_/healthz"):
        response = client.request("GET", target)
        assert response.status == 404, target
        assert response.json()["error"]["code"] == "not_found"
    assert client.request("GET", "/call/").status == 200  # errors keep the connection


def test_head_response_has_no_body(
    serve: Callable[..., rt.Server], connect: Callable[[rt.Server], Client]
) -> None:
    client = connect(serve(lambda event, context: "twelve bytes"))
    head = client.request("HEAD", "/call/")
    assert head.status == 200 and head.headers["content-length"] == "0"
    assert head.headers["content-type"] == TEXT
    assert client.request("GET", "/call/").body == b"twelve bytes"  # nothing stray in between


def test_pool_runs_calls_concurrently_and_answers_health_meanwhile(
    serve: Callable[..., rt.Server], connect: Callable[[rt.Server], Client]
) -> None:
    both_running = threading.Barrier(2, timeout=TIMEOUT)
    release = threading.Event()

    def handle(event: rt.Event, context: rt.Context) -> str:
        both_running.wait()  # fails unless two calls run at once
        release.wait(TIMEOUT)
        return threading.current_thread().name

    server = serve(handle, concurrency=2)
    first, second, checker = connect(server), connect(server), connect(server)
    first.send(raw_request("GET", "/call/"))
    second.send(raw_request("GET", "/call/"))
    wait_until(lambda: server.calls == 2)
    assert checker.request("GET", "/_/health").json()["calls"] == 2
    release.set()
    names = {first.read().body, second.read().body}
    assert names == {b"faas-call-0", b"faas-call-1"}


def test_pool_reports_handler_errors(
    serve: Callable[..., rt.Server], connect: Callable[[rt.Server], Client]
) -> None:
    def handle(event: rt.Event, context: rt.Context) -> Any:
        raise KeyError("k")

    stderr = sys.stderr
    client = connect(serve(handle, concurrency=2))
    response = client.request("GET", "/call/")
    assert response.status == 500 and response.json()["error"]["message"] == "KeyError: 'k'"
    assert sys.stderr is stderr


def test_tcp_mode(serve: Callable[..., rt.Server], connect: Callable[[rt.Server], Client]) -> None:
    server = serve(echo, port=0, host="127.0.0.1")
    address = server.address
    assert isinstance(address, tuple)
    host, port = address
    assert host == "127.0.0.1" and port > 0
    client = connect(server)
    for n in range(3):
        assert client.request("GET", f"/call/{n}?a=b").json()["query"] == {"a": "b"}
    (conn,) = server._conns  # Nagle off, or small responses wait for delayed ACKs
    assert conn.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_stop_closes_connections_and_removes_the_socket(sock_dir: Path) -> None:
    path = sock_dir / "s.sock"
    path.write_text("stale")  # a leftover from an earlier container is replaced
    server = rt.Server(echo, socket_path=str(path))
    server.start()
    assert stat.S_ISSOCK(path.stat().st_mode) and stat.S_IMODE(path.stat().st_mode) == 0o666
    client = Client(str(path))
    assert client.request().status == 200
    server.stop()
    assert client.at_eof()
    assert not path.exists()
    client.close()


def test_server_needs_exactly_one_address() -> None:
    with pytest.raises(ValueError):
        rt.Server(echo)
    with pytest.raises(ValueError):
        rt.Server(echo, socket_path="/tmp/x.sock", port=1)


def test_bad_handler_spec_and_bad_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(rt.HandlerLoadError) as caught:
        rt.load_handler("handle")
    assert caught.value.code == rt.HANDLER_NOT_FOUND and caught.value.exit_status == 4
    monkeypatch.setenv("FAAS_CONCURRENCY", "lots")
    assert env_int("FAAS_CONCURRENCY", 1, 1) == 1
    monkeypatch.setenv("FAAS_CONCURRENCY", "8")
    assert env_int("FAAS_CONCURRENCY", 1, 1) == 8
    assert "ignoring FAAS_CONCURRENCY='lots'" in capsys.readouterr().err


# --- The process: startup, init failures, logs -----------------------------------------------


def run_env(function_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAAS_")}
    env.update(FAAS_FUNCTION_DIR=str(function_dir), PYTHONUNBUFFERED="1", **extra)
    return env


@pytest.mark.parametrize(
    ("files", "handler", "code", "status", "message"),
    [
        (
            {"handler.py": "import does_not_exist_xyz\n"},
            "handler.handle",
            rt.IMPORT_MODULE_ERROR,
            3,
            "Unable to import module 'handler': No module named 'does_not_exist_xyz'",
        ),
        (
            {},
            "handler.handle",
            rt.IMPORT_MODULE_ERROR,
            3,
            "Unable to import module 'handler': No module named 'handler'",
        ),
        (
            {"handler.py": "x = 1\ndef handle(:\n    pass\n"},
            "handler.handle",
            rt.USER_CODE_SYNTAX_ERROR,
            3,
            "Syntax error in module 'handler': invalid syntax ({dir}/handler.py, line 2)",
        ),
        (
            {"handler.py": "def other(event, context):\n    pass\n"},
            "handler.handle",
            rt.HANDLER_NOT_FOUND,
            4,
            "Handler 'handle' missing on module 'handler'",
        ),
        (
            {"app/__init__.py": "", "app/main.py": "run = 42\n"},
            "app.main.run",
            rt.HANDLER_NOT_FOUND,
            4,
            "Handler 'run' on module 'app.main' is not callable (it is a int)",
        ),
        (
            {"handler.py": "print('loading')\nraise ValueError('no config')\n"},
            "handler.handle",
            rt.INIT_ERROR,
            5,
            "ValueError: no config",
        ),
    ],
)
def test_init_failures_exit_with_a_stable_code(
    runtime_process: list[str],
    sock_dir: Path,
    files: dict[str, str],
    handler: str,
    code: str,
    status: int,
    message: str,
) -> None:
    for name, text in files.items():
        (sock_dir / name).parent.mkdir(exist_ok=True)
        (sock_dir / name).write_text(text)
    socket_path = sock_dir / "s.sock"
    env = run_env(sock_dir, FAAS_SOCKET=str(socket_path), FAAS_HANDLER=handler)
    proc = subprocess.run(runtime_process, env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == status == rt.INIT_EXIT_STATUS[code]
    lines = proc.stderr.splitlines()
    expected = {"faas_init_error": {"code": code, "message": message.format(dir=sock_dir)}}
    assert json.loads(lines[-1]) == expected
    if code != rt.HANDLER_NOT_FOUND:
        assert "Traceback (most recent call last):" in proc.stderr
    with socket.socket(socket.AF_UNIX) as client, pytest.raises(ConnectionRefusedError):
        client.connect(str(socket_path))  # never listened: the gateway must not think it ready


@pytest.mark.parametrize("runtime_process", ["host"], indirect=True)
def test_no_function_code_runs_before_the_gateway_seals_the_socket_folder(
    runtime_process: list[str], sock_dir: Path, tmp_path: Path
) -> None:
    """The socket exists, refusing connections, while the folder is writable; the handler's
    module is imported (here: writes a marker) only once the folder has no write bit."""
    marker = tmp_path / "imported"
    (tmp_path / "handler.py").write_text(
        f"open({str(marker)!r}, 'w').close()\ndef handle(event, context):\n    return 'ok'\n"
    )
    socket_path = sock_dir / "s.sock"
    env = run_env(tmp_path, FAAS_SOCKET=str(socket_path), FAAS_SOCKET_SEALED="1")
    with subprocess.Popen(runtime_process, env=env, stderr=subprocess.PIPE) as proc:
        try:
            assert wait_for(socket_path.exists, 20)
            with socket.socket(socket.AF_UNIX) as client, pytest.raises(ConnectionRefusedError):
                client.connect(str(socket_path))
            assert not marker.exists()
            sock_dir.chmod(0o500)  # what the gateway does once the socket exists
            assert wait_for(lambda: connects(socket_path), 20)
            assert marker.exists()
        finally:
            sock_dir.chmod(0o700)
            proc.terminate()


def connects(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as client:
        try:
            client.connect(str(path))
        except OSError:
            return False
        return True


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_process_serves_tcp_tags_logs_and_exits_on_sigterm(
    runtime_process: list[str], sock_dir: Path
) -> None:
    (sock_dir / "deps").mkdir()
    (sock_dir / "deps" / "helper.py").write_text("GREETING = 'hi from deps'\n")
    (sock_dir / "pkg").mkdir()
    (sock_dir / "pkg" / "__init__.py").write_text("")
    (sock_dir / "pkg" / "mod.py").write_text(
        "import helper\n"
        "print('imported')\n"
        "def func(event, context):\n"
        "    print(helper.GREETING, context.function_name)\n"
        "    if event.path == '/boom':\n"
        "        raise RuntimeError('boom')\n"
        "    return {'cold': context.cold}\n"
    )
    env = run_env(
        sock_dir,
        FAAS_DEPS_DIR=str(sock_dir / "deps"),
        FAAS_HANDLER="pkg.mod.func",
        FAAS_FUNCTION_NAME="greeter",
        FAAS_PORT="0",
    )
    proc = subprocess.Popen(
        runtime_process,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None and proc.stdout is not None
        banner = proc.stderr.readline()
        assert "serving pkg.mod.func on 0.0.0.0:" in banner, banner
        port = int(banner.split("0.0.0.0:")[1].split()[0])
        client = Client(("127.0.0.1", port))
        assert client.request("GET", "/call/", headers={"X-Call-Id": "one"}).json() == {
            "cold": True
        }
        failed = client.request("GET", "/call/boom", headers={"X-Call-Id": "two"})
        assert failed.status == 500 and failed.headers["x-faas-function-error"] == "Unhandled"
        client.close()
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0
    assert stdout.splitlines() == [
        "imported",
        "[one] hi from deps greeter",
        "[two] hi from deps greeter",
    ]
    error_lines = stderr.splitlines()
    assert error_lines[0] == "[two] Traceback (most recent call last):"
    assert error_lines[-1] == "[two] RuntimeError: boom"
    assert all(line.startswith("[two] ") for line in error_lines)


def test_process_on_a_unix_socket_becomes_ready(runtime_process: list[str], sock_dir: Path) -> None:
    (sock_dir / "handler.py").write_text("def handle(event, context):\n    return event.text()\n")
    socket_path = str(sock_dir / "s.sock")
    env = run_env(sock_dir, FAAS_SOCKET=socket_path, FAAS_CONCURRENCY="2")
    proc = subprocess.Popen(runtime_process, env=env, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: can_connect(socket_path))
        client = Client(socket_path)
        assert client.request("POST", "/call/", body=b"echo").body == b"echo"
        client.close()
        proc.terminate()
        assert proc.wait(TIMEOUT) == 0
    finally:
        proc.kill()
        proc.wait()
    assert not os.path.exists(socket_path)


def test_image_start_needs_only_the_standard_library_and_shadows_no_function_module(
    image_runtime: list[str], sock_dir: Path
) -> None:
    """Run as an image runs it, with a function whose modules have the names of the runtime's
    own (and of the runtime package's folder): each side imports its own modules."""
    names = ["adapter", "codec", "loading", "logs", "loop", "main", "pool", "server", "runtime"]
    for name in names:
        (sock_dir / f"{name}.py").write_text("WHOSE = 'function'\n")
    (sock_dir / "handler.py").write_text(
        "import sys, threading\n"
        f"import {', '.join(names)}\n"
        "def handle(event, context):\n"
        f"    whose = {{m.__name__: m.WHOSE for m in ({', '.join(names)})}}\n"
        "    ours = sorted(m for m in sys.modules if m.partition('.')[0].startswith('faas'))\n"
        "    return {'whose': whose, 'ours': ours, 'path': sys.path,\n"
        "            'flags': [sys.flags.isolated, sys.flags.no_site],\n"
        "            'thread': threading.current_thread().name}\n"
    )
    socket_path = str(sock_dir / "s.sock")
    env = run_env(sock_dir, FAAS_SOCKET=socket_path, FAAS_CONCURRENCY="2")
    proc = subprocess.Popen(image_runtime, env=env, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: can_connect(socket_path))
        client = Client(socket_path)
        seen = client.request("GET", "/call/").json()
        client.close()
        proc.terminate()
        assert proc.wait(TIMEOUT) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        proc.kill()
        proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    assert seen["whose"] == dict.fromkeys(names, "function")
    assert seen["flags"] == [1, 1] and seen["thread"].startswith("faas-call-")
    assert "faas" not in seen["ours"] and "faas_runtime.pool" in seen["ours"]
    assert all(name.startswith("faas_runtime") for name in seen["ours"])
    assert seen["path"][0] == str(sock_dir)
    assert not any((Path(entry) / RUNTIME_PACKAGE).is_dir() for entry in seen["path"])
    assert not any("-packages" in entry for entry in seen["path"])

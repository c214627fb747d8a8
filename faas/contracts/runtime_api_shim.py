"""The Lambda Runtime API inside a `contract: lambda-image` container (standard library only).

faas starts this file as the container's entrypoint (`python3 -I -S -c <this source>`, see
faas.contracts.lambda_image); it is never imported by faas itself. It

1. creates faas's socket (FAAS_SOCKET, not yet accepting) and waits for the gateway to seal
   its folder, as faas's own runtime does (faas.runtime.confine);
2. serves the Lambda Runtime API (version 2018-06-01) on 127.0.0.1, a free port, inside the
   container only: `GET /runtime/invocation/next`, `POST /runtime/invocation/{id}/response`,
   `.../{id}/error`, `POST /runtime/init/error`;
3. starts the image's own entrypoint and command (FAAS_LAMBDA_COMMAND, a JSON argv) with
   AWS_LAMBDA_RUNTIME_API pointing there and Lambda's environment variables;
4. once that runtime asks for its first event (its init is done), accepts faas's calls on the
   socket, exactly as faas's runtime takes them (`POST /call` with x-call-id and
   x-faas-timeout-ms), one at a time: each becomes the answer to the pending `next`, and the
   runtime's `response` (200) or `error` (500, `x-faas-function-error: Unhandled`, Lambda's
   error JSON) becomes the call's answer, with `x-faas-handler-ms`.

An init error (`/runtime/init/error`, or the runtime exiting before its first `next`) is
printed as the `{"faas_init_error": ...}` line faas looks for, and ends the container. The
runtime's output is tagged `[call id] ` per call, with Lambda's START/END/REPORT lines.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time

API = "/2018-06-01/runtime/"
MAX_RESPONSE = 6 * 1024 * 1024  # Lambda's synchronous response limit
MAX_HEAD = 64 * 1024
VERSION = "$LATEST"
EXIT_INIT_ERROR = 5

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, BinaryIO

    Headers = dict[str, str]
    Answer = tuple[int, bytes, list[tuple[str, str]]]


class Invocation:
    def __init__(self, request_id: str, body: bytes, headers: Headers, timeout_ms: int) -> None:
        self.request_id = request_id
        self.body = body
        self.headers = headers
        self.deadline_ms = int(time.time() * 1000) + timeout_ms
        self.started = 0.0
        self.done = threading.Event()
        self.status = 200
        self.answer = b""
        self.handler_ms = 0.0


class State:
    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.waiting: list[Invocation] = []  # invocations not yet handed to the runtime
        self.current: Invocation | None = None  # the one the runtime works on
        self.ready = threading.Event()
        self.init_error: dict[str, Any] | None = None
        self.tag = b""  # the prefix of the runtime's output lines


STATE = State()


def read_request(stream: BinaryIO) -> tuple[str, str, Headers] | None:
    """(method, path, headers with lowercase names, body) of one HTTP/1.1 request, or None."""
    line = stream.readline(MAX_HEAD)
    while line in (b"\r\n", b"\n"):
        line = stream.readline(MAX_HEAD)
    if not line:
        return None
    method, path = line.split(b" ")[:2]
    headers: Headers = {}
    while True:
        line = stream.readline(MAX_HEAD)
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return method.decode(), path.decode("latin-1"), headers


def read_body(stream: BinaryIO, headers: Headers, send_continue: Callable[[bytes], None]) -> bytes:
    if headers.get("expect", "").lower() == "100-continue":
        send_continue(b"HTTP/1.1 100 Continue\r\n\r\n")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts: list[bytes] = []
        while True:
            size = int(stream.readline(MAX_HEAD).split(b";")[0], 16)
            if size == 0:
                while stream.readline(MAX_HEAD) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(stream.read(size))
            stream.readline(MAX_HEAD)
    return stream.read(int(headers.get("content-length") or 0))


def respond(conn: socket.socket, status: int, body: bytes, headers: Any = ()) -> None:
    head = [f"HTTP/1.1 {status} {REASONS.get(status, 'OK')}"]
    head += [f"{name}: {value}" for name, value in headers]
    head.append(f"Content-Length: {len(body)}")
    conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)


REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 403: "Forbidden", 404: "Not Found"}
REASONS.update({413: "Payload Too Large", 500: "Internal Server Error"})
JSON = ("Content-Type", "application/json")


def error_json(error_type: str, message: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


# -- the Runtime API, for the image's runtime -------------------------------------------------


def serve_runtime(conn: socket.socket) -> None:
    # An interim `100 Continue` then the answer: two small writes, never held back by Nagle.
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    stream = conn.makefile("rb")
    with conn:
        while True:
            request = read_request(stream)
            if request is None:
                return
            method, path, headers = request
            body = read_body(stream, headers, conn.sendall)
            status, answer, extra = runtime_route(method, path, headers, body)
            respond(conn, status, answer, [JSON, *extra])


def runtime_route(method: str, path: str, headers: Headers, body: bytes) -> Answer:
    path = path.split("?", 1)[0]
    if not path.startswith(API):
        return 404, error_json("NotFound", f"no Runtime API route {path}"), []
    route = path[len(API) :].strip("/").split("/")
    if method == "GET" and route == ["invocation", "next"]:
        return next_invocation()
    if method == "POST" and route == ["init", "error"]:
        with STATE.lock:
            STATE.init_error = parse_error(body, headers)
        return 202, b'{"status":"OK"}', []
    if (
        method == "POST"
        and len(route) == 3
        and route[::2] in (["invocation", "response"], ["invocation", "error"])
    ):
        return finish(route[1], route[2], body, headers)
    return 404, error_json("NotFound", f"no Runtime API route {method} {path}"), []


def next_invocation() -> Answer:
    with STATE.lock:
        if STATE.current is not None:  # asked again without answering: Lambda drops it
            fail(STATE.current, "Runtime.InvalidResponse", "the runtime asked for the next event")
        STATE.ready.set()
        while not STATE.waiting:
            STATE.lock.wait()
        call = STATE.current = STATE.waiting.pop(0)
        call.started = time.perf_counter()
        STATE.tag = f"[{call.request_id}] ".encode()
    log(f"START RequestId: {call.request_id} Version: {VERSION}")
    function = os.environ.get("FAAS_FUNCTION_NAME", "function")
    arn = call.headers.get("lambda-runtime-invoked-function-arn") or (
        f"arn:aws:lambda:{os.environ.get('AWS_REGION', 'us-east-1')}:000000000000:function:"
        + function
    )
    now = int(time.time())
    trace = f"Root=1-{now:08x}-{os.urandom(12).hex()};Parent={os.urandom(8).hex()};Sampled=0"
    headers = [
        ("Lambda-Runtime-Aws-Request-Id", call.request_id),
        ("Lambda-Runtime-Deadline-Ms", str(call.deadline_ms)),
        ("Lambda-Runtime-Invoked-Function-Arn", arn),
        ("Lambda-Runtime-Trace-Id", trace),
    ]
    for name in ("Lambda-Runtime-Client-Context", "Lambda-Runtime-Cognito-Identity"):
        if call.headers.get(name.lower()):
            headers.append((name, call.headers[name.lower()]))
    return 200, call.body, headers


def parse_error(body: bytes, headers: Headers) -> dict[str, Any]:
    error_type = headers.get("lambda-runtime-function-error-type") or "Runtime.Unknown"
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict) or "errorMessage" not in parsed:
        parsed = {"errorMessage": body.decode("utf-8", "replace"), "errorType": error_type}
    parsed.setdefault("errorType", error_type)
    return parsed


def finish(request_id: str, kind: str, body: bytes, headers: Headers) -> Answer:
    with STATE.lock:
        call = STATE.current
        if call is None or call.request_id != request_id:
            message = f"Invalid request ID: {request_id}"
            return 400, error_json("InvalidRequestID", message), []
        STATE.current = None
    if kind == "error":
        complete(call, 500, json.dumps(parse_error(body, headers)).encode())
    elif len(body) > MAX_RESPONSE:
        message = (
            f"Response payload size ({len(body)} bytes) exceeded maximum allowed payload size "
            f"({MAX_RESPONSE} bytes)."
        )
        complete(call, 500, error_json("Function.ResponseSizeTooLarge", message))
        return 413, error_json("RequestEntityTooLarge", message), []
    else:
        complete(call, 200, body)
    return 202, b'{"status":"OK"}', []


def fail(call: Invocation, error_type: str, message: str) -> None:
    STATE.current = None
    complete(call, 500, error_json(error_type, message))


def complete(call: Invocation, status: int, answer: bytes) -> None:
    elapsed = (time.perf_counter() - call.started) * 1000.0
    memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
    log(f"END RequestId: {call.request_id}")
    log(
        f"REPORT RequestId: {call.request_id}\tDuration: {elapsed:.2f} ms\tBilled Duration: "
        f"{max(1, int(elapsed + 0.999))} ms\tMemory Size: {memory} MB"
    )
    call.status, call.answer, call.handler_ms = status, answer, elapsed
    call.done.set()


# -- faas's side: calls over the socket, as faas's own runtime takes them ---------------------


def serve_faas(conn: socket.socket) -> None:
    stream = conn.makefile("rb")
    with conn:
        while True:
            request = read_request(stream)
            if request is None:
                return
            _, path, headers = request
            body = read_body(stream, headers, conn.sendall)
            if not path.startswith("/call"):
                respond(conn, 404, error_json("NotFound", "faas calls go to /call"), [JSON])
                continue
            call_id = headers.get("x-call-id") or os.urandom(16).hex()
            timeout_ms = int(headers.get("x-faas-timeout-ms") or 30000)
            call = Invocation(call_id, body, headers, timeout_ms)
            with STATE.lock:
                STATE.waiting.append(call)
                STATE.lock.notify_all()
            call.done.wait()
            extra = [JSON, ("x-faas-handler-ms", f"{call.handler_ms:.3f}")]
            if call.status != 200:
                extra.append(("x-faas-function-error", "Unhandled"))
            respond(conn, call.status, call.answer, extra)


def accept_forever(server: socket.socket, serve: Callable[[socket.socket], None]) -> None:
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


# -- output and the runtime process -----------------------------------------------------------


OUT_LOCK = threading.Lock()


def log(line: str, fd: int = 1) -> None:
    with OUT_LOCK:
        os.write(fd, STATE.tag + line.encode() + b"\n")


def pump(source: int, fd: int) -> None:
    """The runtime's output, line by line, tagged with the call it belongs to (a line after a
    call's end still belongs to it, until the next call starts)."""
    pending = b""
    while True:
        data = os.read(source, 65536)
        if not data:
            break
        pending += data
        *lines, pending = pending.split(b"\n")
        if len(pending) > 65536:
            lines.append(pending)
            pending = b""
        with OUT_LOCK:
            for line in lines:
                os.write(fd, STATE.tag + line + b"\n")
    if pending:
        with OUT_LOCK:
            os.write(fd, STATE.tag + pending + b"\n")


def report_init_error(code: str, message: str) -> None:
    line = json.dumps({"faas_init_error": {"code": code, "message": message}})
    with OUT_LOCK:
        os.write(2, line.encode() + b"\n")


def lambda_environment(port: int) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("FAAS_SOCKET", "FAAS_SOCKET_SEALED", "FAAS_PORT", "FAAS_LAMBDA_COMMAND"):
        env.pop(name, None)
    name = env.get("FAAS_FUNCTION_NAME", "function")
    env.update(
        AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{port}",
        AWS_LAMBDA_FUNCTION_NAME=name,
        AWS_LAMBDA_FUNCTION_VERSION=VERSION,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE=env.get("FAAS_MEMORY_MB", "128"),
        AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{name}",
        AWS_LAMBDA_LOG_STREAM_NAME=f"{time.strftime('%Y/%m/%d')}/[{VERSION}]{os.uname().nodename}",
        AWS_LAMBDA_INITIALIZATION_TYPE="on-demand",
    )
    env.setdefault("AWS_REGION", "us-east-1")
    env.setdefault("AWS_DEFAULT_REGION", env["AWS_REGION"])
    env.setdefault("_HANDLER", env.get("FAAS_LAMBDA_HANDLER", ""))
    env.setdefault("LAMBDA_TASK_ROOT", os.getcwd())
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def start_runtime(argv: list[str], env: dict[str, str]) -> int:
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    actions: list[tuple[int, ...]] = [(os.POSIX_SPAWN_DUP2, out_w, 1)]
    actions.append((os.POSIX_SPAWN_DUP2, err_w, 2))
    actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in (out_r, err_r, out_w, err_w)]
    pid = os.posix_spawnp(argv[0], argv, env, file_actions=actions)
    os.close(out_w)
    os.close(err_w)
    threading.Thread(target=pump, args=(out_r, 1), daemon=True).start()
    threading.Thread(target=pump, args=(err_r, 2), daemon=True).start()
    return pid


def wait_runtime(pid: int) -> None:
    """Reap every process (this is the container's PID 1); end the container with the runtime."""
    while True:
        try:
            reaped, status = os.waitpid(-1, 0)
        except ChildProcessError:
            status = 0
            break
        if reaped == pid:
            break
    code = os.waitstatus_to_exitcode(status)
    time.sleep(0.05)  # let the pumps write the runtime's last words
    if STATE.init_error is not None:
        error = STATE.init_error
        report_init_error(error.get("errorType", "Runtime.Unknown"), error.get("errorMessage", ""))
        os._exit(EXIT_INIT_ERROR)
    if not STATE.ready.is_set():
        report_init_error("Runtime.ExitError", f"the runtime exited with {code} during init")
        os._exit(EXIT_INIT_ERROR)
    log(f"the Lambda runtime exited with {code}", 2)
    os._exit(code if code > 0 else 1)


def listen_for_faas() -> socket.socket:
    path = os.environ.get("FAAS_SOCKET")
    if path:
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        if os.environ.get("FAAS_SOCKET_SEALED") == "1":
            deadline = time.monotonic() + 30.0
            while os.stat(os.path.dirname(path)).st_mode & 0o222:
                if time.monotonic() >= deadline:
                    report_init_error("Runtime.InitError", "the socket folder was not sealed")
                    os._exit(EXIT_INIT_ERROR)
                time.sleep(0.0005)
        return server
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", int(os.environ.get("FAAS_PORT") or 8080)))
    return server


def main() -> None:
    try:
        argv = json.loads(os.environ.get("FAAS_LAMBDA_COMMAND") or "[]")
    except ValueError:
        argv = []
    if not argv:
        report_init_error("Runtime.InvalidEntrypoint", "the image has no ENTRYPOINT or CMD")
        sys.exit(EXIT_INIT_ERROR)
    faas_server = listen_for_faas()
    runtime_server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    runtime_server.bind(("127.0.0.1", 0))
    runtime_server.listen(16)
    port = runtime_server.getsockname()[1]
    threading.Thread(
        target=accept_forever, args=(runtime_server, serve_runtime), daemon=True
    ).start()
    try:
        pid = start_runtime(argv, lambda_environment(port))
    except OSError as exc:
        report_init_error("Runtime.InvalidEntrypoint", f"cannot start {argv[0]!r}: {exc}")
        sys.exit(EXIT_INIT_ERROR)

    def forward(signum: int, _: object) -> None:  # docker stop: pass it on to the runtime
        try:  # noqa: SIM105  (contextlib is not imported: start-up cost)
            os.kill(pid, signum)
        except ProcessLookupError:  # already gone: wait_runtime ends the container
            pass

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    threading.Thread(target=wait_runtime, args=(pid,), daemon=True).start()
    STATE.ready.wait()
    faas_server.listen(64)
    accept_forever(faas_server, serve_faas)


if __name__ == "__main__":
    main()

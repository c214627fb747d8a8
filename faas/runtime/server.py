"""The runtime's routes on top of the loop: `/call<path>` runs the handler, `GET /_/health`
reports status, `POST /_/load` loads a function in generic mode; anything else is a 404.

    server = Server(handle, socket_path="/tmp/fn.sock")
    server.start()            # binds, then serves on a daemon thread
    ...
    server.stop()
"""

from __future__ import annotations

import json
import os
import time

from .adapter import Context, Event, Headers, invoke
from .codec import (
    DEFAULT_MAX_BODY,
    JSON,
    MAX_HEADER_BYTES,
    Request,
    call_target,
    error_response,
    http_response,
    parse_query,
    timeout_ms,
    unquote,
)
from .loading import MAX_LOAD_BODY, HandlerLoadError, load_handler, prepare_load, report_init_error
from .loop import Conn, Loop

TYPE_CHECKING = False  # avoids importing typing at runtime; mypy treats the name as True
if TYPE_CHECKING:
    from typing import Any

    from .adapter import Handler
    from .codec import HeaderList

DEFAULT_FUNCTION_DIR = "/opt/faas/function"


class Server(Loop):
    """Serves one handler on a Unix socket (`socket_path`) or TCP (`port`; 0 picks one); with
    handler None, calls get 503 until `POST /_/load` installs one in `function_dir`.

    Lifecycle as for `Loop`: `serve_forever()`, `start()`, `shutdown()`, `stop()`.
    """

    def __init__(
        self,
        handler: Handler | None,
        *,
        socket_path: str | None = None,
        port: int | None = None,
        host: str = "0.0.0.0",
        function_name: str = "function",
        concurrency: int = 1,
        max_body: int = DEFAULT_MAX_BODY,
        max_header: int = MAX_HEADER_BYTES,
        function_dir: str = DEFAULT_FUNCTION_DIR,
    ) -> None:
        super().__init__(
            socket_path=socket_path,
            port=port,
            host=host,
            concurrency=concurrency,
            max_body=max_body,
            max_header=max_header,
        )
        self.handler = handler
        self.function_name = function_name
        self.function_dir = function_dir
        self.calls = 0  # calls started; only the loop thread changes it
        self._first_call = 1  # the number of the first call since the handler was loaded

    def _body_limit(self, request: Request) -> int:
        if request.target == b"/_/load":
            return max(self.max_body, MAX_LOAD_BODY)
        return self.max_body

    def _dispatch(self, conn: Conn, request: Request) -> None:
        is_call = call_target(request.target) is not None
        if is_call and self.handler is not None:
            self.calls += 1
            request.number = self.calls
            if self._pool is not None:
                conn.busy = True  # reading stops until the response is out: keeps order
                self._pool.jobs.put((conn, request))
            else:
                self._reply(conn, request, self._respond_call(request))
            return
        loaded = self.handler is not None
        if is_call:
            response = error_response(503, "not_loaded", "no function loaded; POST /_/load first")
        elif request.target == b"/_/health":
            if request.method in ("GET", "HEAD"):
                function = self.function_name if loaded else None
                status = dict(status="ok", loaded=loaded, function=function, calls=self.calls)
                response = 200, [("Content-Type", JSON)], json.dumps(status).encode()
            else:
                response = error_response(405, "method_not_allowed", "use GET /_/health")
        elif request.target == b"/_/load":
            if request.method != "POST":
                response = error_response(405, "method_not_allowed", "use POST /_/load")
            elif loaded:
                message = f"function {self.function_name!r} is already loaded"
                response = error_response(409, "already_loaded", message)
            else:
                response = self._load(request.body)
        else:
            message = f"no such target {request.target.decode('latin-1')!r}; use /call/..."
            response = error_response(404, "not_found", message)
        data = http_response(*response, request.keep_alive, request.method == "HEAD")
        self._reply(conn, request, data)

    def _respond_call(self, request: Request) -> bytes:
        """Run the handler for a call request (on this thread) and encode the response."""
        target = call_target(request.target)
        assert target is not None
        event = make_event(request, *target)
        call_id = request.headers.get("x-call-id") or f"call-{request.number}"
        timeout = timeout_ms(request.headers)
        cold = request.number == self._first_call
        context = Context(self.function_name, call_id, cold, timeout, request.received)
        assert self.handler is not None  # calls are dispatched only once loaded
        status, headers, body = invoke(self.handler, event, context)
        return http_response(status, headers, body, request.keep_alive, request.method == "HEAD")

    def _load(self, body: bytes) -> tuple[int, HeaderList, bytes]:
        """POST /_/load, inline: it is a generic container's first request. A bad body is a 400
        (nothing written); a failed import a 500 with its Runtime.* code (still unloaded).
        """
        start = time.perf_counter()
        try:
            name, spec, concurrency = prepare_load(self.function_dir, body)
        except ValueError as exc:
            return error_response(400, "bad_request", str(exc))
        except OSError as exc:  # an error here must not end the loop
            return error_response(500, "internal", f"cannot install the function: {exc}")
        try:
            handler = load_function(spec, name, self.function_dir)
        except HandlerLoadError as err:
            report_init_error(err)
            return error_response(500, err.code, err.message)
        self.handler, self.function_name = handler, name
        self._first_call = self.calls + 1
        if self._pool is None:  # a pool already running (FAAS_CONCURRENCY) is kept as it is
            self.concurrency = concurrency
            if concurrency > 1:
                self._start_pool()
        elapsed = round((time.perf_counter() - start) * 1000.0, 3)
        loaded = {"status": "loaded", "function": name, "load_ms": elapsed}
        return 200, [("Content-Type", JSON)], json.dumps(loaded).encode()


def load_function(spec: str, name: str, function_dir: str | None = None) -> Handler:
    """Import the handler, through the adapter the function's environment selects (the
    Lambda adapter's module is imported only for the functions that use it)."""
    if os.environ.get("FAAS_ADAPTER") != "lambda":
        return load_handler(spec)
    from . import lambda_adapter

    folder = function_dir or os.environ.get("FAAS_FUNCTION_DIR") or DEFAULT_FUNCTION_DIR
    lambda_adapter.set_environment(name, spec, folder)
    return lambda_adapter.wrap(load_handler(spec))


def make_event(request: Request, raw_path: bytes, raw_query: bytes) -> Event:
    """The handler's Event for a call; X-Faas-* headers (the gateway's) are not shown."""
    visible = {k: v for k, v in request.headers.items() if not k.startswith("x-faas-")}
    query = parse_query(raw_query) if raw_query else {}
    return Event(request.method, unquote(raw_path), query, Headers(visible), request.body)


def serve(handler: Handler, **options: Any) -> None:
    """Serve `handler` until shutdown; options as for Server (socket_path= or port=, ...)."""
    Server(handler, **options).serve_forever()

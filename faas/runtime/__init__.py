"""The in-container runtime: load a function's handler once, then serve calls over HTTP/1.1.

This package is copied on its own into every function image and the generic runtime image
(as /opt/faas/runtime/faas_runtime, under a name no handler module uses), so it imports only the
standard library (Python 3.11+) and nothing else of `faas`; its modules import each other
relatively. Only cheap modules: it is on the hot path of every call and in the idle memory of
every warm container (no asyncio, http.server, email, urllib or typing at runtime).

Modules, in the order a call meets them:
- main      start from the environment (FAAS_*), load the handler, bind, serve
- loop      the selectors loop: connections, pipelining, one write per response
- pool      worker threads for concurrency > 1 (imported only then)
- codec     the HTTP/1.1 subset: request heads, call targets, queries, responses, JSON errors
- server    the routes: /call<path>, GET /_/health, POST /_/load
- adapter   the handler adapter: Event, Context, Headers in; return value or exception out
- lambda_adapter  `contract: lambda` (FAAS_ADAPTER=lambda): handler(event, context) on the
            call's JSON event, Lambda's context, AWS_* variables and error shape (imported
            only for such functions)
- logs      every line printed during a call tagged `[<call id>] `
- loading   importing `module.function`, init failures as Runtime.* codes, and POST /_/load
            (a pre-started container's function code, written into a tmpfs)

The handler is loaded *before* the socket is bound, because the gateway takes "the socket
accepts connections" to mean "ready". If loading fails the runtime prints the traceback, then
one final line `{"faas_init_error": {"code": ..., "message": ...}}` on stderr and exits with
the status in INIT_EXIT_STATUS. With FAAS_GENERIC=1 (a pre-started container) it binds at once
and loads nothing until `POST /_/load`; a failed load prints the same lines but answers 500.

Wire protocol (the gateway is the only client; both ends are ours), an HTTP/1.1 subset:
requests carry Content-Length (chunked bodies get 501), connections are keep-alive and may be
pipelined; `GET /_/health` reports status; `POST /_/load` loads a function (generic mode;
503 `not_loaded` for calls until then); `<METHOD> /call<path>[?query]` runs the handler.
The gateway adds `X-Call-Id` and `X-Faas-Timeout-Ms`; X-Faas-* headers are hidden from the
handler. Every response carries Content-Length and goes out in one socket write; call
responses carry `X-Faas-Handler-Ms`, and `X-Faas-Function-Error` when the function is at
fault. Errors are `{"error": {"code": ..., "message": ...}}`.

In a program:

    server = Server(handle, socket_path="/tmp/fn.sock")
    server.start()            # binds, then serves on a daemon thread
    ...
    server.stop()
"""

from .adapter import Context, Event, Headers, coerce_response, invoke
from .loading import (
    HANDLER_NOT_FOUND,
    IMPORT_MODULE_ERROR,
    INIT_ERROR,
    INIT_EXIT_STATUS,
    USER_CODE_SYNTAX_ERROR,
    HandlerLoadError,
    load_handler,
)
from .server import Server, serve

__all__ = [
    "HANDLER_NOT_FOUND",
    "IMPORT_MODULE_ERROR",
    "INIT_ERROR",
    "INIT_EXIT_STATUS",
    "USER_CODE_SYNTAX_ERROR",
    "Context",
    "Event",
    "HandlerLoadError",
    "Headers",
    "Server",
    "coerce_response",
    "invoke",
    "load_handler",
    "serve",
]

"""Start the runtime from the environment: tag the logs, put the function's code on sys.path,
load the handler (unless generic), bind, serve until SIGTERM/SIGINT.

Environment: FAAS_HANDLER (`module.function`), FAAS_FUNCTION_DIR, FAAS_DEPS_DIR,
FAAS_FUNCTION_NAME, FAAS_CONCURRENCY, FAAS_MAX_BODY, FAAS_GENERIC and FAAS_SOCKET (a Unix
socket path) or FAAS_PORT (TCP on 0.0.0.0; 8080 when neither is set).

How it is started: in an image, `python3 -s -P -c "import sys; sys.path.insert(0,
'/opt/faas/runtime'); from faas_runtime.main import main; main()"` (faas.build.images'
runtime_command), the package copied to /opt/faas/runtime/faas_runtime and compiled at build
time; on a host, `python -m faas.runtime`. The image's -c start avoids `-m`, whose runpy (with
contextlib, importlib.util...) costs ~5 ms.
"""

from __future__ import annotations

import os
import sys

from .codec import DEFAULT_MAX_BODY
from .confine import sealing_requested, wait_sealed
from .loading import EXIT_INIT_ERROR, INIT_ERROR, HandlerLoadError, report_init_error
from .logs import install_log_tagging
from .server import DEFAULT_FUNCTION_DIR, Server, load_function

# Import cost of this package over the single file it replaced, measured in faas-python:bookworm
# (Python 3.11.2) on 2 shared cores: +0.5 ms per cold start until bound (19.1 -> 19.6 ms,
# median of 300 alternating starts); importing only the runtime, the standard library
# preloaded: +0.6 to +0.85 ms of CPU (about 0.8 -> 1.5 ms; medians of 400-500 runs). It is
# importlib's fixed cost per file, 8 instead of 1 (8 empty modules: 0.5 ms); `pool` is imported
# only with concurrency > 1. Idle memory of a warm container is unchanged (5.03 MiB cgroup).

DEFAULT_HANDLER = "handler.handle"
DEFAULT_DEPS_DIR = "/opt/faas/deps"
DEFAULT_PORT = 8080


def main(argv: list[str] | None = None) -> None:
    """Run the runtime: `[HANDLER]` (default $FAAS_HANDLER or handler.handle)."""
    args = sys.argv[1:] if argv is None else argv
    install_log_tagging()
    spec = args[0] if args else os.environ.get("FAAS_HANDLER") or DEFAULT_HANDLER
    generic = os.environ.get("FAAS_GENERIC") == "1"
    socket_path = os.environ.get("FAAS_SOCKET") or None
    port = None if socket_path else env_int("FAAS_PORT", DEFAULT_PORT, 0)
    server = Server(
        None,
        socket_path=socket_path,
        port=port,
        function_name=os.environ.get("FAAS_FUNCTION_NAME") or "function",
        concurrency=env_int("FAAS_CONCURRENCY", 1, 1),
        max_body=env_int("FAAS_MAX_BODY", DEFAULT_MAX_BODY, 0),
        function_dir=os.environ.get("FAAS_FUNCTION_DIR") or DEFAULT_FUNCTION_DIR,
    )
    # The socket exists (refusing connections) before any of the function's code runs, so the
    # gateway can close its folder first (faas.runtime.confine).
    server.bind(listen=False)
    if socket_path and sealing_requested() and not wait_sealed(os.path.dirname(socket_path)):
        message = "the gateway did not close the socket folder in time"
        report_init_error(HandlerLoadError(INIT_ERROR, message))
        sys.exit(EXIT_INIT_ERROR)
    _setup_path()
    try:
        server.handler = None if generic else load_function(spec, server.function_name)
    except HandlerLoadError as err:
        report_init_error(err)
        sys.exit(err.exit_status)
    server.listen()
    import signal

    for signum in (signal.SIGTERM, signal.SIGINT):  # docker stop, ^C: finish the step, exit
        signal.signal(signum, lambda *_: server.shutdown())
    where = server.address if socket_path else "{}:{}".format(*server.address)
    what = "generic, waiting for /_/load" if generic else f"serving {spec}"
    tail = "" if generic else f" (concurrency {server.concurrency})"
    print(f"faas runtime: {what} on {where}{tail}", file=sys.stderr)
    server.serve_forever()
    sys.stdout.flush()
    sys.stderr.flush()


def env_int(name: str, default: int, minimum: int) -> int:
    """An integer setting from the environment; a bad or too small value is reported, ignored."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        print(f"faas runtime: ignoring {name}={text!r}, using {default}", file=sys.stderr)
        return default
    return value


def _setup_path() -> None:
    """Function code first on sys.path, then its dependencies.

    In an image the runtime is the top-level package `faas_runtime`, and the folder holding it
    is on sys.path for it alone: that folder goes, so nothing in it is ever imported in place
    of the function's modules. (As `faas.runtime` on a host, sys.path is left as it is.)
    """
    package = __name__.rpartition(".")[0]
    if package and "." not in package:
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    function_dir = os.environ.get("FAAS_FUNCTION_DIR") or DEFAULT_FUNCTION_DIR
    deps_dir = os.environ.get("FAAS_DEPS_DIR") or DEFAULT_DEPS_DIR
    sys.path.insert(0, function_dir)
    if os.path.isdir(deps_dir):
        sys.path.insert(1, deps_dir)

"""Loading the function: importing its handler (`module.function`), reporting why that failed,
and generic mode's `POST /_/load`, which brings a pre-started container its function's code.

An init failure has a stable code (as AWS Lambda's runtime interface client) and, when the
runtime exits on it, a status in INIT_EXIT_STATUS. The report is the traceback, then one final
line `{"faas_init_error": {"code": ..., "message": ...}}` on stderr: the gateway looks for it.

A load's body is JSON: `{"function", "handler", "concurrency", "env", "files": [{path, mode,
mtime, data (base64)}]}`. `prepare_load` checks it, writes the files into the (tmpfs) function
folder and sets up the process as a function image's would be (working directory,
environment, sys.path); the server then imports the handler as at a normal start.
"""

from __future__ import annotations

import binascii
import importlib
import json
import os
import sys

from .confine import drop_privileges

TYPE_CHECKING = False  # avoids importing typing at runtime; mypy treats the name as True
if TYPE_CHECKING:
    from typing import Any

    from .adapter import Handler

IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
INIT_ERROR = "Runtime.InitError"
EXIT_IMPORT_MODULE_ERROR = 3
EXIT_USER_CODE_SYNTAX_ERROR = 3
EXIT_HANDLER_NOT_FOUND = 4
EXIT_INIT_ERROR = 5
INIT_EXIT_STATUS = {
    IMPORT_MODULE_ERROR: EXIT_IMPORT_MODULE_ERROR,
    USER_CODE_SYNTAX_ERROR: EXIT_USER_CODE_SYNTAX_ERROR,
    HANDLER_NOT_FOUND: EXIT_HANDLER_NOT_FOUND,
    INIT_ERROR: EXIT_INIT_ERROR,
}


class HandlerLoadError(Exception):
    """The handler could not be loaded; `code` is one of the Runtime.* codes above."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.exit_status = INIT_EXIT_STATUS[code]


def load_handler(spec: str) -> Handler:
    """Import `module.function` (the module may be dotted) and return the callable.

    Raises HandlerLoadError; the original exception, if any, is its __cause__.
    """
    python3_http = os.environ.get("FAAS_LANG") == "python3-http"  # faas.yaml `lang`
    if python3_http:
        from .openfaas_http import package_spec

        spec = package_spec(spec)
    module_name, _, attr = spec.rpartition(".")
    if not module_name or not attr:
        raise HandlerLoadError(HANDLER_NOT_FOUND, f"Bad handler {spec!r}: expected module.function")
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as exc:  # before ImportError: a SyntaxError is not one
        where = f"{exc.filename}, line {exc.lineno}"
        message = f"Syntax error in module '{module_name}': {exc.msg} ({where})"
        raise HandlerLoadError(USER_CODE_SYNTAX_ERROR, message) from exc
    except ImportError as exc:
        message = f"Unable to import module '{module_name}': {exc}"
        raise HandlerLoadError(IMPORT_MODULE_ERROR, message) from exc
    except (Exception, SystemExit) as exc:
        raise HandlerLoadError(INIT_ERROR, describe(exc)) from exc
    handler = getattr(module, attr, None)
    if handler is None:
        raise HandlerLoadError(
            HANDLER_NOT_FOUND, f"Handler '{attr}' missing on module '{module_name}'"
        )
    if not callable(handler):
        kind = type(handler).__name__
        message = f"Handler '{attr}' on module '{module_name}' is not callable (it is a {kind})"
        raise HandlerLoadError(HANDLER_NOT_FOUND, message)
    if python3_http:
        from .openfaas_http import adapt

        return adapt(handler)
    return handler  # type: ignore[no-any-return]


def describe(exc: BaseException) -> str:
    """`ValueError: bad thing`, or just the type's name when the exception has no text."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def print_traceback(exc: BaseException) -> None:
    import traceback  # only on errors: keeps it out of the idle footprint

    traceback.print_exception(exc, file=sys.stderr)


def report_init_error(err: HandlerLoadError) -> None:
    """Traceback, then the one JSON line the gateway looks for, on stderr."""
    if err.__cause__ is not None:
        print_traceback(err.__cause__)
    line = json.dumps({"faas_init_error": {"code": err.code, "message": err.message}})
    sys.stderr.flush()
    print(line, file=sys.stderr, flush=True)


# --- Generic mode: POST /_/load ----------------------------------------------------------------

MAX_LOAD_BODY = 256 * 1024 * 1024  # a load carries a whole function's files, base64-encoded


def prepare_load(function_dir: str, body: bytes) -> tuple[str, str, int]:
    """Install a load's function and return its (name, handler spec, concurrency).

    ValueError for a bad body (nothing written), OSError if writing the files fails.
    """
    name, spec, concurrency, env, files = parse_load(body)
    install_files(function_dir, files)
    os.chdir(function_dir)  # as a function image's WORKDIR
    drop_privileges()  # the code is written: from here on it is read-only to the process
    importlib.invalidate_caches()  # path finders may have cached the directory as empty
    os.environ.update(env)  # before the import: module-level code reads its settings
    os.environ.update(FAAS_FUNCTION_NAME=name, FAAS_HANDLER=spec, FAAS_CONCURRENCY=str(concurrency))
    if sys.path[:1] != [function_dir]:
        sys.path.insert(0, function_dir)
    return name, spec, concurrency


def parse_load(body: bytes) -> tuple[str, str, int, dict[str, str], Any]:
    """(function, handler, concurrency, env, files) of a /_/load body; raises ValueError."""
    try:
        spec = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"body is not JSON: {exc}") from None
    if not isinstance(spec, dict):
        raise ValueError("body must be a JSON object")
    name, handler, env = spec.get("function"), spec.get("handler"), spec.get("env", {})
    concurrency = spec.get("concurrency", 1)
    if not (isinstance(name, str) and name and isinstance(handler, str) and handler):
        raise ValueError("function and handler must be non-empty strings")
    if type(concurrency) is not int or concurrency < 1:
        raise ValueError("concurrency must be an int >= 1")
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k and "=" not in k and "\0" not in k + v
        for k, v in env.items()
    ):
        raise ValueError("env must map variable names to strings")
    return name, handler, concurrency, env, spec.get("files", [])


def install_files(function_dir: str, files: Any) -> None:
    """Write a load's files ({path, mode, mtime, data}) under function_dir, keeping modes and
    mtimes so the .pyc files compiled in the function's image stay valid. All are checked
    before any is written: ValueError for a bad entry or unsafe path, OSError if writing fails.
    """
    if not isinstance(files, list):
        raise ValueError("files must be a list")
    root = os.path.join(os.path.abspath(function_dir), "")
    checked = []
    for entry in files:
        fields: Any = entry if isinstance(entry, dict) else {}
        path, mode, mtime, data = (fields.get(k) for k in ("path", "mode", "mtime", "data"))
        target = os.path.normpath(root + path) if isinstance(path, str) else ""
        # The prefix test alone would take /etc/x as root/etc/x, and a/../b inside too.
        if not target.startswith(root) or path[0] == "/" or "\0" in path or ".." in path.split("/"):
            raise ValueError(f"unsafe file path {path!r}")
        if type(mode) is not int or type(mtime) not in (int, float) or not 0 <= mtime < 1e12:
            raise ValueError(f"file {path!r} needs an int mode and a numeric mtime")
        try:
            content = binascii.a2b_base64(data, strict_mode=True)
        except (ValueError, TypeError):
            raise ValueError(f"file {path!r}: data must be base64") from None
        # Read-only, as in the function's image (root-owned there): no write, setuid or sticky.
        checked.append((target, mode & 0o555, mtime, content))
    folders = set()
    for target, mode, mtime, content in checked:
        folder = os.path.dirname(target)
        os.makedirs(folder, exist_ok=True)
        with open(target, "wb") as file:
            file.write(content)
        os.chmod(target, mode)
        os.utime(target, (mtime, mtime))
        while folder + os.sep != root and folder.startswith(root):
            folders.add(folder)
            folder = os.path.dirname(folder)
    for folder in folders:  # last: nothing more is written into them
        os.chmod(folder, 0o555)

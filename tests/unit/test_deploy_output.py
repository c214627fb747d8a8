"""Deploy's handler check message and its quiet build log, without Docker."""

from __future__ import annotations

import io

from faas.build.handler_check import describe_failure
from faas.cli.build_log import BuildLog
from faas.manifest.spec import FunctionSpec


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_runtimes_own_message_comes_first_then_the_traceback() -> None:
    stderr = (
        b"Traceback (most recent call last):\n  File x\nModuleNotFoundError: No module named 'q'\n"
        b'{"faas_init_error": {"code": "Runtime.ImportModuleError", '
        b"\"message\": \"Unable to import module 'handler': No module named 'q'\"}}\n"
    )
    text = describe_failure(FunctionSpec(name="f"), stderr)
    first, *rest = text.splitlines()
    assert first == (
        "f: the handler handler.handle does not load: Unable to import module 'handler': "
        "No module named 'q' (Runtime.ImportModuleError)"
    )
    assert rest[-1] == "ModuleNotFoundError: No module named 'q'"


def test_a_silent_exit_is_said() -> None:
    assert "saying nothing" in describe_failure(FunctionSpec(name="f"), b"")


def test_a_terminal_sees_one_progress_line_and_the_log_only_on_failure() -> None:
    tty = Tty()
    log = BuildLog(stream=tty)
    log.start("building f")
    log("Step 2/7 : COPY runtime/ /opt")
    log(" ---> 1234")
    assert tty.getvalue().endswith("\r\x1b[Kbuilding f  [2/7]")
    log.done()
    assert tty.getvalue().endswith("\r\x1b[K")
    assert log.lines == ["Step 2/7 : COPY runtime/ /opt", " ---> 1234"]


def test_a_pipe_sees_nothing() -> None:
    pipe = io.StringIO()
    log = BuildLog(stream=pipe)
    log.start("building f")
    log("Step 1/7 : FROM x")
    log.done()
    assert pipe.getvalue() == ""

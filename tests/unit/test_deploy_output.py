"""Deploy's handler check message and its quiet build log, without Docker."""

from __future__ import annotations

import io

import pytest

from faas.build.handler_check import describe_failure
from faas.cli.build_log import BuildLog
from faas.cli.functions import write_body
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


class Stdout(io.TextIOWrapper):
    def __init__(self, tty: bool) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8")
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty

    def written(self) -> bytes:
        self.flush()
        assert isinstance(self.buffer, io.BytesIO)
        return self.buffer.getvalue()


@pytest.mark.parametrize(
    ("tty", "body", "shown"),
    [
        (True, b"Hello", b"Hello\n"),
        (True, b"Hello\n", b"Hello\n"),
        (True, b"", b""),
        (False, b"Hello", b"Hello"),  # piped: the function's bytes, exactly
    ],
)
def test_invoke_ends_its_output_with_a_newline_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, tty: bool, body: bytes, shown: bytes
) -> None:
    out = Stdout(tty)
    monkeypatch.setattr("sys.stdout", out)
    write_body(body)
    assert out.written() == shown


def test_prune_keeps_what_functions_or_containers_use() -> None:
    from faas.cli.prune import plan

    verdicts = plan(
        [("faas/function:b", "sha:b"), ("faas/function:a", "sha:a"), ("faas/function:c", "sha:c")],
        {"faas/function:a": ["vote", "hello"]},
        {"sha:c"},
    )
    assert [(v.tag, v.kept_by) for v in verdicts] == [
        ("faas/function:a", "used by hello, vote"),
        ("faas/function:b", ""),
        ("faas/function:c", "a container was created from it"),
    ]


@pytest.mark.parametrize(
    ("containers", "scale_min", "generic", "verdict"),
    [
        ({"ready": 1}, 1, None, True),
        ({}, 1, None, None),  # scale.min's container still starting
        ({}, 0, {"eligible": True, "spares": 1}, True),
        ({}, 0, {"eligible": True, "spares": 0}, None),
        ({}, 0, {"eligible": False, "reason": "being read from its image"}, None),
        ({}, 0, {"eligible": False, "reason": "it has dependencies"}, False),
        ({}, 0, None, False),
    ],
)
def test_deploy_waits_only_for_what_the_manifest_allows(
    containers: dict[str, int], scale_min: int, generic: object, verdict: bool | None
) -> None:
    from faas.cli.readiness import servable

    record = {"containers": containers, "config": {"scale": {"min": scale_min}}, "generic": generic}
    assert servable(record) is verdict

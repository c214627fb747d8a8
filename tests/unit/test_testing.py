"""faas.testing: a handler called in-process with the runtime's own Event and Context."""

from __future__ import annotations

from pathlib import Path

import pytest

from faas import testing
from faas.runtime import Context, Event

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


def write_function(folder: Path, manifest: str, code: str) -> Path:
    folder.mkdir()
    (folder / "faas.yaml").write_text(manifest)
    (folder / "handler.py").write_text(code)
    return folder


def test_call_goes_through_the_runtime_coercion_as_in_a_container() -> None:
    hello = testing.load(FUNCTIONS / "hello")
    response = testing.call(hello, "POST", "/", body="Ada")
    assert response.status == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text() == "Hello, Ada!\n"
    assert "x-faas-handler-ms" not in response.headers


def test_event_and_context_are_the_runtimes_own_classes() -> None:
    event = testing.event("POST", "/p", query="a=1&a=2", headers={"X-Thing": "v"}, json={"k": [1]})
    assert isinstance(event, Event)
    assert event.query == {"a": "2"} and event.query_list == {"a": ["1", "2"]}
    assert event.headers["x-thing"] == event.headers["X-Thing"] == "v"
    assert event.headers["content-type"] == "application/json"
    assert event.json() == {"k": [1]}
    context = testing.context("fn", "c-1", cold=True, timeout_ms=1000)
    assert isinstance(context, Context)
    assert (context.function_name, context.call_id, context.cold) == ("fn", "c-1", True)
    assert 0 < context.remaining_ms() <= 1000
    assert testing.context().remaining_ms() == float("inf")


def test_an_exception_is_a_500_handler_error_and_a_bad_return_a_bad_return(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = (
        "def handle(event, context):\n"
        "    if event.path == '/raise':\n"
        "        raise ValueError('nope')\n"
        "    return object()\n"
    )
    handle = testing.load(write_function(tmp_path / "f", "name: f\n", code))
    raised = testing.call(handle, path="/raise")
    assert raised.status == 500
    assert raised.json() == {"error": {"code": "handler_error", "message": "ValueError: nope"}}
    assert raised.headers["x-faas-function-error"] == "Unhandled"
    assert "Traceback" in capsys.readouterr().err
    bad = testing.call(handle)
    assert (bad.status, bad.json()["error"]["code"]) == (500, "bad_return")


def test_load_gives_a_fresh_module_each_time_and_its_own_modules_import(tmp_path: Path) -> None:
    folder = write_function(
        tmp_path / "g",
        "name: g\n",
        "from helper import VALUE\nSTATE = []\n\n"
        "def handle(event, context):\n"
        "    STATE.append(1)\n"
        "    return {'n': len(STATE), 'v': VALUE}\n",
    )
    (folder / "helper.py").write_text("VALUE = 'from helper'\n")
    first = testing.load(folder)
    assert testing.call(first).json() == {"n": 1, "v": "from helper"}
    assert testing.call(first).json() == {"n": 2, "v": "from helper"}
    assert testing.call(testing.load(folder)).json() == {"n": 1, "v": "from helper"}


def test_a_lambda_contract_function_is_loaded_through_the_lambda_adapter(tmp_path: Path) -> None:
    code = "def handle(event, context):\n    return {'got': event, 'id': context.aws_request_id}\n"
    handle = testing.load(write_function(tmp_path / "l", "name: l\ncontract: lambda\n", code))
    response = testing.call(handle, "POST", json={"a": 1}, ctx=testing.context("l", "req-1"))
    assert response.status == 200
    assert response.json() == {"got": {"a": 1}, "id": "req-1"}


def test_a_node_function_is_pointed_at_node_test(tmp_path: Path) -> None:
    folder = tmp_path / "n"
    folder.mkdir()
    (folder / "faas.yaml").write_text("name: n\nlang: node\n")
    (folder / "handler.js").write_text("exports.handle = () => 'hi';\n")
    with pytest.raises(ValueError, match="node --test"):
        testing.load(folder)

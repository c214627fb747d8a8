"""The python3-http adapter (faas/runtime/openfaas_http.py): OpenFaaS's template's event,
context and answers, through faas's own response rules."""

from __future__ import annotations

import json
from typing import Any

import pytest

from faas.runtime import loading
from faas.runtime.adapter import Context, Event, coerce_response
from faas.runtime.openfaas_http import HTML, adapt, to_faas


def answer(result: Any) -> tuple[int, dict[str, str], bytes]:
    status, headers, body = coerce_response(to_faas(result))
    return status, {k.lower(): v for k, v in headers}, body


def test_event_and_context_are_the_templates() -> None:
    seen: dict[str, Any] = {}

    def handle(event: Any, context: Any) -> Any:
        seen.update(
            body=event.body,
            method=event.method,
            path=event.path,
            query=event.query.get("a"),
            header=event.headers.get("X-Thing"),
            hostname=context.hostname,
        )
        return {"statusCode": 200, "body": "ok"}

    event = Event("PUT", "/p", {"a": ["1", "2"]}, {"x-thing": "t"}, b"raw")
    result = adapt(handle)(event, Context("f"))
    assert seen == {
        "body": b"raw",
        "method": "PUT",
        "path": "/p",
        "query": "2",
        "header": "t",
        "hostname": seen["hostname"],
    }
    assert seen["hostname"]
    assert coerce_response(result)[0] == 200


@pytest.mark.parametrize(
    ("result", "status", "content_type", "body"),
    [
        (None, 200, HTML, b""),
        ("hi", 200, HTML, b"hi"),
        (b"\x00b", 200, HTML, b"\x00b"),
        ({"body": "x"}, 200, HTML, b"x"),
        ({"statusCode": 201}, 201, HTML, b""),
        ({"statusCode": 202, "body": {"a": 1}}, 202, "application/json", b'{"a": 1}'),
        ({"body": 5}, 200, HTML, b"5"),  # str(body), as the template does
        (
            {"body": b"\x01", "headers": {"Content-Type": "application/octet-stream"}},
            200,
            "application/octet-stream",
            b"\x01",
        ),
        (("made", 418), 418, HTML, b"made"),
        (("made", {"X-A": "1"}), 200, HTML, b"made"),
        (({"k": "v"}, 400, {"X-A": "1"}), 400, "application/json", b'{"k":"v"}'),
        ([1, 2], 200, "application/json", b"[1,2]"),
    ],
)
def test_answers_as_the_template_gave_them(
    result: Any, status: int, content_type: str, body: bytes
) -> None:
    got_status, headers, got_body = answer(result)
    assert (got_status, got_body) == (status, body)
    assert headers["content-type"] == content_type


def test_headers_pass_and_bad_values_are_faas_errors() -> None:
    _, headers, _ = answer({"statusCode": 200, "body": "x", "headers": {"X-Kind": "k"}})
    assert headers["x-kind"] == "k"
    status, _, body = answer({"statusCode": 99, "body": "x"})
    assert status == 500 and json.loads(body)["error"]["code"] == "bad_return"
    status, _, _ = answer(object())
    assert status == 500


def test_loading_adapts_only_with_faas_lang(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "oflang_handler.py").write_text("def handle(event, context):\n    return None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plain = loading.load_handler("oflang_handler.handle")
    assert plain(Event(), Context()) is None
    monkeypatch.setenv("FAAS_LANG", "python3-http")
    adapted = loading.load_handler("oflang_handler.handle")
    assert adapted(Event(), Context())["statusCode"] == 200


def test_code_in_a_function_folder_is_a_package(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As OpenFaaS's template imports `function.handler`: relative imports work."""
    folder = tmp_path / "function"
    folder.mkdir()
    (folder / "greeting.py").write_text("TEXT = 'from a sibling module'\n")
    (folder / "handler.py").write_text(
        "from .greeting import TEXT\n\ndef handle(event, context):\n    return TEXT\n"
    )
    monkeypatch.chdir(folder)
    monkeypatch.setattr("sys.path", [str(folder), *__import__("sys").path])
    monkeypatch.setenv("FAAS_LANG", "python3-http")
    handler = loading.load_handler("handler.handle")
    assert coerce_response(handler(Event(), Context()))[2] == b"from a sibling module"

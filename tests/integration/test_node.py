"""Node.js functions (`lang: node`) on real Docker: the same contract as Python handlers through
sync calls, async calls and a stream trigger; init failures with the function's own message."""

from __future__ import annotations

import json
from collections.abc import Callable

import redis

from faas import keys
from tests.conftest import FIXTURES, Gateway, run_containers, wait_until
from tests.integration.test_queue import db, finished, queue

__all__ = ["db"]  # the fixture, re-used

NODE_ECHO = FIXTURES / "node-echo"
Deploy = Callable[[Gateway, object], dict[str, object]]


def logs(gateway: Gateway, name: str) -> list[str]:
    with gateway.client() as client:
        return list(client.logs(name)["lines"])


def test_a_node_function_answers_sync_calls_as_a_python_one_would(
    gateway: Gateway, deploy_folder: Deploy
) -> None:
    deploy_folder(gateway, NODE_ECHO)
    response = gateway.http.post(
        "/function/node-echo/a/b%20c?x=1&x=2&y=z", content=b"hi", headers={"X-Custom": "yes"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-faas-start"] == "cold"
    seen = response.json()
    assert (seen["method"], seen["path"], seen["body"]) == ("POST", "/a/b c", "hi")
    assert seen["query"] == {"x": "2", "y": "z"}  # the last value wins; queryList has all
    assert seen["queryList"] == {"x": ["1", "2"], "y": ["z"]}
    assert seen["headers"]["x-custom"] == "yes"
    assert not any(name.startswith("x-faas-") for name in seen["headers"])
    assert seen["call_id"] == response.headers["x-call-id"]
    assert (seen["function"], seen["cold"]) == ("node-echo", True)
    assert 0 < seen["remaining"] <= 30_000  # the manifest's default timeout, counting down

    again = gateway.http.get("/function/node-echo/?text=you")
    assert again.headers["x-faas-start"] == "warm"
    assert (again.status_code, again.text) == (200, "hello you")
    assert again.headers["content-type"] == "text/plain; charset=utf-8"

    shaped = gateway.http.get("/function/node-echo?status=201")
    assert (shaped.status_code, shaped.text, shaped.headers["x-echo"]) == (201, "shaped", "yes")

    # Output during a call is tagged with its call id.
    call_id = again.headers["x-call-id"]
    assert any(line.endswith(f"[{call_id}] echo GET /") for line in logs(gateway, "node-echo"))


def test_node_errors_are_500s_marked_as_the_functions_and_the_container_survives(
    gateway: Gateway, deploy_folder: Deploy
) -> None:
    deploy_folder(gateway, NODE_ECHO)
    thrown = gateway.http.get("/function/node-echo?fail=1")
    assert thrown.status_code == 500
    assert thrown.json() == {"error": {"code": "handler_error", "message": "Error: asked to fail"}}
    assert thrown.headers["x-faas-function-error"] == "Unhandled"
    bad = gateway.http.get("/function/node-echo?bad=1")
    assert bad.status_code == 500
    assert bad.json()["error"]["code"] == "bad_return"
    assert "BigInt" in bad.json()["error"]["message"]
    assert bad.headers["x-faas-function-error"] == "BadReturn"
    assert gateway.http.get("/function/node-echo?text=ok").headers["x-faas-start"] == "warm"
    stack = logs(gateway, "node-echo")
    call_id = thrown.headers["x-call-id"]
    assert any(f"[{call_id}] Error: asked to fail" in line for line in stack)
    assert any(f"[{call_id}]     at " in line for line in stack)  # the stack trace, tagged


def test_an_es_module_handler_is_loaded_with_import(
    gateway: Gateway, deploy_folder: Deploy
) -> None:
    deploy_folder(gateway, FIXTURES / "node-esm")
    response = gateway.http.get("/function/node-esm")
    assert response.status_code == 200, response.text
    assert response.json() == {"esm": True, "platform": "linux", "cold": True}


def test_a_node_syntax_error_is_502_with_its_message_and_no_container_is_left(
    gateway: Gateway, deploy_folder: Deploy
) -> None:
    deploy_folder(gateway, FIXTURES / "node-broken")
    response = gateway.http.post("/function/node-broken")
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "init_failed"
    assert "Runtime.UserCodeSyntaxError: Syntax error in module 'handler'" in error["message"]
    wait_until(lambda: not run_containers({keys.LABEL_FUNCTION: "node-broken"}), 15)


def test_a_node_function_runs_async_calls_and_stream_triggers(
    gateway: Gateway, deploy_folder: Deploy, db: redis.Redis
) -> None:
    deploy_folder(gateway, NODE_ECHO)
    call_id = queue(gateway, "node-echo", "/async?x=1", content=b"later")
    record = finished(gateway, call_id)
    assert record["status"] == "succeeded", record
    seen = json.loads(record["result"]["body"])
    assert (seen["path"], seen["query"], seen["body"]) == ("/async", {"x": "1"}, "later")
    assert seen["call_id"] == call_id

    group = keys.trigger_group("node-echo")
    wait_until(lambda: group.encode() in _groups(db), 15)
    ids = [db.xadd(STREAM, {"n": str(n)}).decode() for n in range(3)]
    wanted = {f"got {entry} " for entry in ids}

    def delivered() -> bool:
        lines = logs(gateway, "node-echo")
        return all(any(want in line for line in lines) for want in wanted)

    wait_until(delivered, 30, 0.1)
    wait_until(lambda: db.xpending(STREAM, group)["pending"] == 0, 15, 0.05)  # all succeeded


STREAM = "test-node-votes"


def _groups(db: redis.Redis) -> list[bytes]:
    try:
        return [g["name"] for g in db.xinfo_groups(STREAM)]
    except redis.ResponseError:  # no such stream yet
        return []

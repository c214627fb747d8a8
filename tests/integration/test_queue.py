"""Async calls through real gateways on real Docker and Redis: enqueue, status, retries, dead
letters, idempotency, callbacks and the CLI."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis

from faas import keys
from tests.conftest import FIXTURES, Gateway, RedisServer, wait_until
from tests.integration.test_cli import faas

ECHO = FIXTURES / "echo"
FINAL = ("succeeded", "failed", "dead")
FAST_RETRIES = {"FAAS_ASYNC_RETRY_BASE": "20ms", "FAAS_ASYNC_MAX_ATTEMPTS": "3"}

Deploy = Callable[[Gateway, Path], dict[str, object]]


def queue(gateway: Gateway, name: str, path: str = "", **kwargs: Any) -> str:
    response = gateway.http.post(f"/async-function/{name}{path}", **kwargs)
    assert response.status_code == 202, response.text
    call_id = response.json()["call_id"]
    assert response.headers["x-call-id"] == call_id
    return str(call_id)


def call(gateway: Gateway, call_id: str) -> dict[str, Any]:
    response = gateway.http.get(f"/system/calls/{call_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def finished(gateway: Gateway, call_id: str, timeout: float = 30.0) -> dict[str, Any]:
    records: list[dict[str, Any]] = []

    def done() -> bool:
        records.append(call(gateway, call_id))
        return records[-1]["status"] in FINAL

    wait_until(done, timeout, 0.05)
    return records[-1]


@pytest.fixture
def db(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


def settled(db: redis.Redis) -> None:
    """Nothing left behind: no entry in the stream, none pending, no retry waiting."""
    assert db.xlen(keys.CALLS) == 0
    assert db.xpending(keys.CALLS, keys.CALLS_GROUP)["pending"] == 0
    assert db.zcard(keys.CALLS_DELAYED) == 0


def test_an_async_call_is_queued_run_and_recorded(
    gateway: Gateway, deploy: Deploy, db: redis.Redis
) -> None:
    deploy(gateway, ECHO)
    call_id = queue(gateway, "echo", "/json?x=1", json={"a": [1, 2]})
    record = finished(gateway, call_id)
    assert record["status"] == "succeeded", record
    assert (record["function"], record["kind"], record["attempts"]) == ("echo", "async", 1), record
    assert record["start"] == "cold"
    assert record["result"]["status"] == 200
    assert json.loads(record["result"]["body"]) == {"a": [1, 2]}
    assert record["created_at"] <= record["started_at"] <= record["finished_at"]
    assert {"queued_ms", "total", "handler"} <= record["timings"].keys()
    settled(db)


def test_method_path_query_and_headers_reach_the_handler(gateway: Gateway, deploy: Deploy) -> None:
    deploy(gateway, ECHO)
    call_id = queue(
        gateway, "echo", "/a/b%20c", params={"q": "v"}, headers={"X-Custom": "yes"}, content=b"hi"
    )
    seen = json.loads(finished(gateway, call_id)["result"]["body"])
    assert (seen["method"], seen["path"], seen["query"]) == ("POST", "/a/b c", {"q": "v"})
    assert seen["headers"]["x-custom"] == "yes"
    assert seen["call_id"] == call_id


def test_unknown_functions_are_404_and_never_queued(gateway: Gateway, db: redis.Redis) -> None:
    for path in ("/async-function/nosuch", "/async-function/Bad_Name", "/system/calls/nope"):
        response = gateway.http.post(path) if "async" in path else gateway.http.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    assert db.xlen(keys.CALLS) == 0


def test_body_over_the_limit_is_413(make_gateway: Callable[..., Gateway], deploy: Deploy) -> None:
    gateway = make_gateway(FAAS_MAX_BODY="1Ki")
    deploy(gateway, ECHO)
    response = gateway.http.post("/async-function/echo", content=b"x" * 1025)
    assert response.status_code == 413
    assert "FAAS_MAX_BODY" in response.json()["error"]["message"]


def test_idempotency_key(gateway: Gateway, deploy: Deploy, db: redis.Redis) -> None:
    deploy(gateway, ECHO)
    headers = {"Idempotency-Key": "order-42"}
    first = gateway.http.post("/async-function/echo/json", json={"n": 1}, headers=headers)
    again = gateway.http.post("/async-function/echo/json", json={"n": 1}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = gateway.http.post("/async-function/echo/json", json={"n": 2}, headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_conflict"
    record = finished(gateway, first.json()["call_id"])
    assert (record["executions"], record["idempotency_key"]) == (1, "order-42")
    assert db.xinfo_stream(keys.CALLS)["entries-added"] == 1
    bad = gateway.http.post("/async-function/echo", headers={"Idempotency-Key": "x" * 300})
    assert bad.status_code == 400


def test_a_function_that_always_fails_gets_the_configured_attempts_then_a_dead_letter(
    make_gateway: Callable[..., Gateway], deploy: Deploy, db: redis.Redis
) -> None:
    gateway = make_gateway(**FAST_RETRIES)
    deploy(gateway, ECHO)
    call_id = queue(gateway, "echo", "/raise")
    record = finished(gateway, call_id)
    assert (record["status"], record["attempts"], record["executions"]) == ("dead", 3, 3)
    assert record["dead_letter"]["reason"] == "max_attempts"
    assert "boom from the handler" in record["error"]["message"]
    (letter,) = gateway.http.get("/system/dead-letters", params={"function": "echo"}).json()[
        "dead_letters"
    ]
    assert (letter["call_id"], letter["reason"], letter["attempts"]) == (call_id, "max_attempts", 3)
    assert letter["id"] == record["dead_letter"]["id"]
    shown = gateway.http.get(f"/system/dead-letters/{letter['id']}").json()
    assert shown["request"]["path"] == "/raise"
    settled(db)

    redriven = gateway.http.post(f"/system/dead-letters/{letter['id']}/redrive")
    assert (redriven.status_code, redriven.json()["call_id"]) == (202, call_id)
    again = finished(gateway, call_id)
    assert (again["status"], again["attempts"], again["executions"]) == ("dead", 3, 6)
    assert gateway.http.get("/system/dead-letters/0-1").status_code == 404
    assert gateway.http.post("/system/dead-letters/nonsense/redrive").status_code == 404


def test_a_4xx_answer_fails_without_retries(gateway: Gateway, deploy: Deploy) -> None:
    deploy(gateway, ECHO)
    record = finished(gateway, queue(gateway, "echo", "/status"))
    assert (record["status"], record["attempts"], record["executions"]) == ("failed", 1, 1)
    assert (record["result"]["status"], record["result"]["body"]) == (418, "short and stout")


def test_expired_events_are_dead_lettered_and_never_run(
    make_gateway: Callable[..., Gateway], deploy: Deploy, db: redis.Redis
) -> None:
    front = make_gateway(FAAS_ASYNC_WORKERS="0")  # queues, does not consume
    deploy(front, ECHO)
    call_id = queue(front, "echo", "/text")
    time.sleep(1.2)  # the event ages past FAAS_ASYNC_MAX_AGE before any consumer runs
    make_gateway(FAAS_ASYNC_MAX_AGE="1s")
    record = finished(front, call_id)
    assert (record["status"], record["dead_letter"]["reason"]) == ("dead", "expired")
    assert record["executions"] == 0
    assert front.http.get("/system/function/echo").json()["calls"] == 0
    settled(db)


# -- callbacks ---------------------------------------------------------------------------------


class Receiver:
    """A local HTTP server that fails the first `failures` POSTs with 500."""

    def __init__(self, failures: int) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.failures = failures
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = 500 if len(receiver.received) <= receiver.failures else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(failures=2)
    yield server
    server.close()


def test_callbacks_are_retried_and_carry_openfaas_headers(
    make_gateway: Callable[..., Gateway], deploy: Deploy, receiver: Receiver
) -> None:
    gateway = make_gateway(FAAS_CALLBACK_ALLOW_PRIVATE="true")
    deploy(gateway, ECHO)
    url = f"http://127.0.0.1:{receiver.port}/done"
    call_id = queue(gateway, "echo", "/json", json={"v": 1}, headers={"X-Callback-Url": url})
    wait_until(lambda: call(gateway, call_id).get("callback", {}).get("status") == "delivered")
    assert len(receiver.received) == 3  # two 500s, then delivered
    headers, body = receiver.received[-1]
    assert json.loads(body) == {"v": 1}
    assert headers["x-call-id"] == call_id
    assert headers["x-function-name"] == "echo"
    assert headers["x-function-status"] == "200"
    assert float(headers["x-duration-seconds"]) >= 0
    assert headers["x-faas-call-status"] == "succeeded"
    assert call(gateway, call_id)["callback"]["attempts"] == 3


def test_callbacks_to_private_addresses_are_refused(
    gateway: Gateway, deploy: Deploy, receiver: Receiver
) -> None:
    deploy(gateway, ECHO)
    for url in (
        f"http://127.0.0.1:{receiver.port}/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://10.0.0.1/",
        "ftp://example.com/",
    ):
        response = gateway.http.post("/async-function/echo", headers={"X-Callback-Url": url})
        assert response.status_code == 400, url
    # A name is resolved when the callback is due: localhost is loopback, so refused then.
    by_name = f"http://localhost:{receiver.port}/"
    call_id = queue(gateway, "echo", "/text", headers={"X-Callback-Url": by_name})
    wait_until(lambda: call(gateway, call_id).get("callback", {}).get("status") == "refused")
    assert "FAAS_CALLBACK_ALLOW_PRIVATE" in call(gateway, call_id)["callback"]["error"]
    assert receiver.received == []


# -- the CLI -----------------------------------------------------------------------------------


def test_cli_async_wait_and_dead_letters(
    make_gateway: Callable[..., Gateway], deploy: Deploy
) -> None:
    gateway = make_gateway(**FAST_RETRIES)
    deploy(gateway, ECHO)
    env = gateway.cli_env()  # its URL and its home, where the CLI finds the credentials
    queued = faas("invoke", "echo", "--async", "--path", "text", env=env)
    assert queued.returncode == 0, queued.stderr
    call_id = queued.stdout.strip()
    assert finished(gateway, call_id)["status"] == "succeeded"

    waited = faas(
        "invoke", "echo", "--async", "--wait", "--path", "json", "-d", '{"w": 1}', env=env
    )
    assert waited.returncode == 0, waited.stderr
    assert json.loads(waited.stdout) == {"w": 1}
    assert "succeeded" in waited.stderr

    failed = faas("invoke", "echo", "--async", "--wait", "--path", "raise", env=env)
    assert failed.returncode == 1
    assert "dead" in failed.stderr and "max_attempts" in failed.stderr

    listed = faas("dead-letters", "list", env=env)
    assert listed.returncode == 0 and "max_attempts" in listed.stdout
    letter_id, dead_call = listed.stdout.splitlines()[1].split()[:2]
    shown = faas("dead-letters", "show", letter_id, env=env)
    assert shown.returncode == 0 and '"reason": "max_attempts"' in shown.stdout
    whole = json.loads(shown.stdout)["error"]["message"].strip().splitlines()[0]
    assert listed.stdout.splitlines()[1].rstrip().endswith(whole.rstrip())  # never cut
    as_json = faas("dead-letters", "list", "-o", "json", env=env)
    assert json.loads(as_json.stdout)[0]["id"] == letter_id
    redriven = faas("dead-letters", "redrive", letter_id, env=env)
    assert redriven.returncode == 0, redriven.stderr
    assert dead_call in redriven.stdout
    missing = faas("dead-letters", "show", "0-1", env=env)
    assert missing.returncode == 1 and "no dead letter" in missing.stderr

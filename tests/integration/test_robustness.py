"""Bad input and bad data against a real gateway (real Docker, real Redis): every bad request
is a 4xx naming the field, and nothing written to the queue's stream stops a consumer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from faas import keys
from faas.build.images import BuiltImage
from tests.conftest import FIXTURES, Gateway, RedisServer, wait_until
from tests.integration.test_cli import faas, write_function

ECHO = FIXTURES / "echo"
Build = Callable[[Path], tuple[dict[str, object], BuiltImage]]
Register = Callable[..., dict[str, object]]


@pytest.fixture
def db(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


def _error(response: Any, status: int = 400) -> str:
    assert response.status_code == status, response.text
    message: str = response.json()["error"]["message"]
    return message


def test_registration_refuses_bad_manifests_and_images(gateway: Gateway, build: Build) -> None:
    manifest, built = build(ECHO)

    def register(body: object | None = None, **overrides: object) -> str:
        payload = body or {"manifest": {**manifest, **overrides}, "image": built.tag}
        return _error(gateway.http.post("/system/functions", json=payload))

    assert register(name="echo\n").startswith("name: ")
    assert register(name="ec\x00ho").startswith("name: ")
    assert register(environment={"A": "x\x00y"}).startswith("environment.A: ")
    assert register(body={"manifest": manifest, "image": "Not An Image!"}).startswith("image: ")
    assert register(body={"manifest": manifest, "image": "x" * 300}).startswith("image: ")
    # More than the machine has: every start would fail; the message gives the host's figure.
    assert "more than this host has" in register(memory="1000Gi")
    assert register(memory="1000Gi").startswith("memory: ")
    assert register(cpus=64).startswith("cpus: ")
    # Python's JSON parser reads these; they are not JSON, and inf is no duration.
    raw = b'{"manifest": {"name": "echo", "timeout": NaN}, "image": "x"}'
    assert "not valid JSON" in _error(gateway.http.post("/system/functions", content=raw))
    huge = b'{"manifest": {"name": "echo", "timeout": 1e999}, "image": "%s"}' % built.tag.encode()
    assert _error(gateway.http.post("/system/functions", content=huge)).startswith("timeout: ")


def test_registration_refuses_what_could_never_start_or_run(
    make_gateway: Callable[..., Gateway], build: Build
) -> None:
    gateway = make_gateway(FAAS_MEMORY_BUDGET="256Mi")
    manifest, built = build(ECHO)

    def register(**overrides: object) -> str:
        payload = {"manifest": {**manifest, **overrides}, "image": built.tag}
        return _error(gateway.http.post("/system/functions", json=payload))

    # Within the host but beyond the budget: every call would be a 503, async retried for hours.
    assert register(memory="512Mi").startswith("memory: ")
    assert "FAAS_MEMORY_BUDGET" in register(memory="512Mi")
    for key in ("timeout", "keep_alive"):
        for value in ("nan", "inf", "-inf", "1e999s", "NaNs"):
            assert register(**{key: value}).startswith(f"{key}: "), (key, value)
    for value in ("nan", "inf", "1e999Mi"):
        assert register(memory=value).startswith("memory: "), value
    assert "Traceback" not in gateway.log.read_text()


@pytest.mark.parametrize("name", ["ec%0Aho", "ec%00ho", "echo%0A", "%1B%5B31m", "e%09cho"])
def test_names_with_control_characters_in_paths_are_refused(gateway: Gateway, name: str) -> None:
    for method, path in (
        ("GET", f"/system/function/{name}"),
        ("DELETE", f"/system/function/{name}"),
        ("GET", f"/system/logs/{name}"),
        ("POST", f"/function/{name}"),
        ("POST", f"/async-function/{name}"),
    ):
        answer = gateway.http.request(method, path)
        assert answer.status_code in (400, 404), (method, path, answer.text)
        assert "error" in answer.json()
    assert "Traceback" not in gateway.log.read_text()


def test_deeply_nested_json_is_a_bad_request(gateway: Gateway, register: Register) -> None:
    register(gateway, ECHO)
    nested = b"[" * 100_000 + b"]" * 100_000
    for path in ("/system/functions", "/system/function/echo/pool"):
        assert "nested too deeply" in _error(gateway.http.post(path, content=nested))
    assert "Traceback" not in gateway.log.read_text()


@pytest.mark.parametrize(
    "query",
    [
        *("tail=-1", "tail=" + "9" * 25, "tail=²"),
        *("since=nan", "since=inf", "since=1e300", "since=-5"),
        *("before=nan", "before=-inf", "before=0", "before=1e300", "before=yesterday"),
        "before=2026-13-45T99:99:99.000000000Z",
    ],
)
def test_log_queries_out_of_range(gateway: Gateway, register: Register, query: str) -> None:
    register(gateway, ECHO)
    key = query.split("=")[0]
    assert _error(gateway.http.get(f"/system/logs/echo?{query}")).startswith(f"{key} must be")


def test_log_since_small_values_mean_everything(gateway: Gateway, register: Register) -> None:
    register(gateway, ECHO)
    gateway.http.post("/function/echo", content=b"x").raise_for_status()  # one live container
    response = gateway.http.get("/system/logs/echo?since=2.3e-169")  # found by the fuzz run
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("query", ["before=x", "before=" + "9" * 30, "before=1-x", "limit=²"])
def test_dead_letter_queries_out_of_range(gateway: Gateway, query: str) -> None:
    key = query.split("=")[0]
    assert _error(gateway.http.get(f"/system/dead-letters?{query}")).startswith(f"{key} must be")


def test_idempotency_keys_are_scoped_per_function(gateway: Gateway, register: Register) -> None:
    register(gateway, ECHO)
    register(gateway, ECHO, name="echo-two")
    headers = {"Idempotency-Key": "order-42"}
    first = gateway.http.post("/async-function/echo", content=b"x", headers=headers)
    other = gateway.http.post("/async-function/echo-two", content=b"x", headers=headers)
    assert first.status_code == other.status_code == 202, other.text
    assert first.json()["call_id"] != other.json()["call_id"]
    assert "idempotent-replayed" not in other.headers


def test_callbacks_to_nat64_and_6to4_forms_of_private_addresses_are_refused(
    gateway: Gateway, register: Register
) -> None:
    register(gateway, ECHO)
    for host in ("[64:ff9b::7f00:1]", "[2002:7f00:1::1]", "[::127.0.0.1]"):
        response = gateway.http.post(
            "/async-function/echo", headers={"X-Callback-Url": f"http://{host}:9/hook"}
        )
        assert "X-Callback-Url" in _error(response)


def test_invoke_with_a_non_ascii_header_is_one_line_naming_the_flag(gateway: Gateway) -> None:
    done = faas("--gateway", gateway.url, "invoke", "echo", "-H", "X-Name: café")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "Error: -H 'X-Name: café': header values must be printable ASCII "
        "(percent-encode or base64 other text)"
    ]


def test_a_malformed_stream_entry_is_dead_lettered_and_calls_go_on(
    gateway: Gateway, register: Register, db: redis.Redis
) -> None:
    register(gateway, ECHO)
    db.xadd(keys.CALLS, {"foo": "bar"})
    db.xadd(keys.CALLS, {"m": b"not json\nbody", "c": "x"})
    call_id = gateway.http.post("/async-function/echo", content=b"after").json()["call_id"]

    def finished() -> bool:
        status = gateway.http.get(f"/system/calls/{call_id}").json()["status"]
        return bool(status == "succeeded")

    wait_until(finished, 30, 0.1)
    letters = gateway.http.get("/system/dead-letters").json()["dead_letters"]
    assert sorted(x["reason"] for x in letters) == ["malformed", "malformed"]
    one = gateway.http.get(f"/system/dead-letters/{letters[-1]['id']}").json()
    assert one["raw"] == '{"foo": "bar"}'
    redrive = gateway.http.post(f"/system/dead-letters/{one['id']}/redrive")
    assert "cannot be redriven" in _error(redrive)
    assert gateway.http.post("/system/dead-letters/redrive").json() == {"redriven": []}
    assert db.xlen(keys.CALLS) == 0
    health = gateway.http.get("/healthz")
    assert health.status_code == 200, health.text
    log = gateway.log.read_text()
    assert "is not a faas call" in log and "Traceback" not in log


def test_deploy_with_a_non_finite_duration_is_one_line(gateway: Gateway, tmp_path: Path) -> None:
    folder = write_function(tmp_path / "fn", "inf", "def handle(event, context):\n    return 1\n")
    manifest = folder / "faas.yaml"
    manifest.write_text(manifest.read_text() + "timeout: .inf\n")
    done = faas("--gateway", gateway.url, "deploy", str(folder))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()  # one line, no traceback
    assert line.startswith("Error: ") and line.endswith(
        "timeout: must be a finite duration, got inf"
    )


def test_a_corrupt_call_record_is_reported_not_a_500(gateway: Gateway, db: redis.Redis) -> None:
    call_id = "0123abcd-0000-0000-0000-000000000000"
    db.hset(keys.call_record(call_id), mapping={"attempts": "x", "timings": "{"})
    response = gateway.http.get(f"/system/calls/{call_id}")
    assert response.status_code == 200, response.text
    assert response.json()["error"]["code"] == "corrupt_record"

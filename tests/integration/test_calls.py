"""Deploy and call functions through a real gateway, on real Docker and real Redis."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, Gateway, run_containers, wait_until

ECHO = FIXTURES / "echo"

Deploy = Callable[[Gateway, Path], dict[str, object]]


def timing(header: str) -> dict[str, float]:
    out = {}
    for entry in header.split(","):
        name, _, dur = entry.strip().partition(";dur=")
        out[name] = float(dur)
    return out


def test_hello_is_cold_then_warm(gateway: Gateway, deploy: Deploy) -> None:
    record = deploy(gateway, Path(__file__).parents[2] / "functions" / "hello")
    assert record["url"] == f"{gateway.url}/function/hello"

    first = gateway.http.post("/function/hello", content=b"world")
    second = gateway.http.post("/function/hello", content=b"world")

    assert first.status_code == second.status_code == 200
    assert first.text == second.text == "Hello, world!\n"
    assert first.headers["x-faas-start"] == "cold"
    assert second.headers["x-faas-start"] == "warm"
    assert first.headers["x-call-id"] != second.headers["x-call-id"]
    cold, warm = timing(first.headers["server-timing"]), timing(second.headers["server-timing"])
    assert {"create", "start", "ready", "handler", "total"} <= cold.keys()
    assert set(warm) == {"handler", "total"}
    assert cold["total"] >= cold["create"] + cold["start"] + cold["ready"]


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_method_path_query_headers_and_binary_body_reach_the_handler(
    gateway: Gateway, deploy: Deploy, method: str
) -> None:
    deploy(gateway, ECHO)
    body = bytes(range(256)) * 4
    response = gateway.http.request(
        method,
        "/function/echo/a/b%20c/",
        params={"x": "1", "y": "two words"},
        headers={"X-Custom-Header": "Value", "Content-Type": "application/octet-stream"},
        content=body,
    )
    assert response.status_code == 200, response.text
    seen = response.json()
    assert seen["method"] == method
    assert seen["path"] == "/a/b c/"
    assert seen["query"] == {"x": "1", "y": "two words"}
    assert seen["headers"]["x-custom-header"] == "Value"
    assert seen["headers"]["X-CUSTOM-HEADER".lower()] == "Value"
    assert base64.b64decode(seen["body"]) == body
    assert seen["call_id"] == response.headers["x-call-id"]
    assert seen["function"] == "echo"
    assert seen["greeting"] == "hi"
    assert 0 < seen["remaining_ms"] <= 10_000
    assert seen["uid"] != 0


def test_return_values_are_coerced(gateway: Gateway, deploy: Deploy) -> None:
    deploy(gateway, ECHO)
    http = gateway.http
    assert http.post("/function/echo/none").status_code == 204
    text = http.post("/function/echo/text")
    assert (text.status_code, text.text) == (200, "plain text")
    assert text.headers["content-type"].startswith("text/plain")
    raw = http.post("/function/echo/bytes", content=b"\x00\xff")
    assert (raw.content, raw.headers["content-type"]) == (b"\x00\xff", "application/octet-stream")
    data = http.post("/function/echo/json", json={"a": [1, 2]})
    assert data.json() == {"a": [1, 2]}
    assert data.headers["content-type"] == "application/json"
    teapot = http.post("/function/echo/status")
    assert (teapot.status_code, teapot.text, teapot.headers["x-teapot"]) == (
        418,
        "short and stout",
        "yes",
    )


def test_first_call_is_cold_in_the_handler_too(gateway: Gateway, deploy: Deploy) -> None:
    deploy(gateway, ECHO)
    first = gateway.http.post("/function/echo").json()
    second = gateway.http.post("/function/echo").json()
    assert (first["cold"], second["cold"]) == (True, False)


def test_handler_exception_is_500_with_the_error_and_a_tagged_traceback(
    gateway: Gateway, deploy: Deploy
) -> None:
    deploy(gateway, ECHO)
    response = gateway.http.post("/function/echo/raise")
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "handler_error", "message": "RuntimeError: boom from the handler"}
    }
    assert response.headers["x-faas-function-error"] == "Unhandled"
    call_id = response.headers["x-call-id"]
    # The container survives a handler exception and serves the next call warm.
    assert gateway.http.post("/function/echo/text").headers["x-faas-start"] == "warm"
    with gateway.client() as client:
        lines = client.logs("echo")["lines"]
    tagged = [line for line in lines if f"[{call_id}]" in line]
    assert any("RuntimeError: boom from the handler" in line for line in tagged)
    assert any("Traceback" in line for line in tagged)


def test_print_output_is_tagged_with_the_call_id(gateway: Gateway, deploy: Deploy) -> None:
    deploy(gateway, ECHO)
    call_id = gateway.http.post("/function/echo/print").headers["x-call-id"]
    with gateway.client() as client:
        lines = client.logs("echo")["lines"]
    assert any(line.endswith(f"[{call_id}] line from the handler") for line in lines)


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        (
            "broken-import",
            "Runtime.ImportModuleError: Unable to import module 'handler': "
            "No module named 'module_that_does_not_exist'",
        ),
        ("bad-handler", "Runtime.HandlerNotFound"),
    ],
)
def test_init_failure_is_502_with_the_functions_message(
    gateway: Gateway, deploy: Deploy, docker_backend: object, folder: str, expected: str
) -> None:
    deploy(gateway, FIXTURES / folder)
    response = gateway.http.post(f"/function/{folder}")
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "init_failed"
    assert expected in error["message"]
    assert f"function {folder!r}" in error["message"]
    assert "x-call-id" in response.headers


def test_failed_container_is_removed(gateway: Gateway, deploy: Deploy) -> None:

    deploy(gateway, FIXTURES / "broken-import")
    assert gateway.http.post("/function/broken-import").status_code == 502
    wait_until(lambda: not run_containers({"faas.function": "broken-import"}), 15)


def test_unknown_and_invalid_function_names_are_404(gateway: Gateway) -> None:
    for path in (
        "/function/nosuch",
        "/function/Not_Valid",
        "/function/" + "a" * 64,
        "/system/function/nosuch",
        "/system/function/Bad.Name",
    ):
        response = (
            gateway.http.post(path) if path.startswith("/function") else gateway.http.get(path)
        )
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("manifest", "field"),
    [
        ({"name": "Bad_Name"}, "name"),
        ({"name": "a" * 64}, "name"),
        ({}, "name"),
        ({"name": "ok", "timeout": "soon"}, "timeout"),
        ({"name": "ok", "memory": "lots"}, "memory"),
        ({"name": "ok", "scale": {"min": 3, "max": 1}}, "scale.min"),
        ({"name": "ok", "scale": {"max": 0}}, "scale.max"),
        ({"name": "ok", "colour": "blue"}, "colour"),
        ({"name": "ok", "handler": "no-dots"}, "handler"),
        ({"name": "ok", "environment": {"FAAS_X": "1"}}, "environment.FAAS_X"),
        ({"name": "ok", "network": "yes"}, "network"),
        ("not a mapping", ""),
    ],
)
def test_bad_registrations_are_400_naming_the_field(
    gateway: Gateway,
    build: Callable[[Path], tuple[dict[str, object], object]],
    manifest: object,
    field: str,
) -> None:
    _, built = build(ECHO)
    response = gateway.http.post(
        "/system/functions",
        json={"manifest": manifest, "image": built.tag},  # type: ignore[attr-defined]
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_manifest"
    assert error["message"].startswith(f"{field}: " if field else "")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"manifest": {"name": "x"}}).encode(),
        json.dumps({"manifest": {"name": "x"}, "image": "faas/none:0"}).encode(),
    ],
)
def test_malformed_registration_bodies_are_400(gateway: Gateway, body: bytes) -> None:
    response = gateway.http.post("/system/functions", content=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


def test_a_bad_update_keeps_the_registered_function(gateway: Gateway, deploy: Deploy) -> None:
    deploy(gateway, ECHO)
    bad = gateway.http.post(
        "/system/functions", json={"manifest": {"name": "echo", "cpus": 0}, "image": "x"}
    )
    assert bad.status_code == 400
    assert gateway.http.post("/function/echo/text").text == "plain text"


def test_body_over_the_limit_is_413(make_gateway: Callable[..., Gateway], deploy: Deploy) -> None:
    gateway = make_gateway(FAAS_MAX_BODY="1Ki")
    deploy(gateway, ECHO)
    assert gateway.http.post("/function/echo/bytes", content=b"x" * 1024).status_code == 200
    response = gateway.http.post("/function/echo/bytes", content=b"x" * 1025)
    assert response.status_code == 413
    assert "FAAS_MAX_BODY" in response.json()["error"]["message"]


def test_remove_unregisters_and_removes_containers(gateway: Gateway, deploy: Deploy) -> None:

    deploy(gateway, ECHO)
    assert gateway.http.post("/function/echo").status_code == 200
    assert run_containers({"faas.function": "echo"})
    assert gateway.http.delete("/system/function/echo").json() == {"removed": "echo"}
    assert gateway.http.post("/function/echo").status_code == 404
    assert not run_containers({"faas.function": "echo"})


def test_a_restarted_gateway_still_knows_every_function(
    make_gateway: Callable[..., Gateway], deploy: Deploy
) -> None:
    first = make_gateway()
    deploy(first, ECHO)
    assert first.http.post("/function/echo/text").status_code == 200
    first.stop()

    second = make_gateway()
    names = [f["name"] for f in second.http.get("/system/functions").json()]
    assert names == ["echo"]
    response = second.http.post("/function/echo/text")
    assert response.status_code == 200, response.text
    assert response.headers["x-faas-start"] == "cold"


def test_a_crashed_gateways_containers_are_reclaimed_by_the_next(
    make_gateway: Callable[..., Gateway], deploy: Deploy
) -> None:
    import signal

    first = make_gateway()
    deploy(first, ECHO)
    assert first.http.post("/function/echo").status_code == 200
    first.stop(signal.SIGKILL)  # no shutdown: its container stays behind
    leftovers = run_containers({"faas.function": "echo"})
    assert len(leftovers) == 1

    make_gateway()  # reclaims them once the killed one's heartbeat expires (10 s)
    wait_until(lambda: not run_containers({"faas.function": "echo"}), 40, 0.5)


def test_function_containers_are_hardened(gateway: Gateway, deploy: Deploy) -> None:
    import docker

    deploy(gateway, ECHO)
    assert gateway.http.post("/function/echo").status_code == 200
    (found,) = run_containers({"faas.function": "echo"})
    info = docker.from_env().api.inspect_container(found.id)
    host = info["HostConfig"]
    assert info["Config"]["User"] == "10001:10001"
    assert info["Config"]["Labels"]["faas.managed"] == "true"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["PidsLimit"] == 128
    assert host["Memory"] == host["MemorySwap"] == 64 * 2**20
    assert host["NanoCpus"] == 500_000_000
    assert host["NetworkMode"] == "none"
    assert "/tmp" in host["Tmpfs"]
    assert host["LogConfig"] == {
        "Type": "json-file",
        "Config": {"max-size": "10m", "max-file": "3"},
    }
    mounts = " ".join(host.get("Binds") or [])
    assert "docker.sock" not in mounts


def test_a_gateway_deploys_faas_deploy_folders_at_start(
    make_gateway: Callable[..., Gateway], base_image: str, tmp_path: Path
) -> None:
    """What compose uses: no CLI, the gateway builds and registers the folders itself."""
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "faas.yaml").write_text("name: Broken_Name\n")
    gateway = make_gateway(FAAS_DEPLOY=f"{ECHO},{broken}", FAAS_BASE_IMAGE=base_image)
    assert [f["name"] for f in gateway.http.get("/system/functions").json()] == ["echo"]
    assert gateway.http.post("/function/echo/text").text == "plain text"
    assert "Broken_Name" in gateway.log.read_text()  # reported, not fatal

"""OpenFaaS's gateway API over the fake engine and a real Redis, with the bodies faas-cli sends
(faas-cli's proxy package: deploy.go, delete.go, scale.go, logs.go, describe.go, list.go)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from faas import keys
from tests.unit.fake_gateway import NO_DEPS, FakeGateway, Stack, run, until

HTTP_FIXTURE = Path(__file__).parent.parent / "fixtures" / "openfaas" / "hello-http"
IMAGE = "faas/function:openfaastest"
FOREIGN = "ghcr.io/openfaas/alpine:latest"


def deployment(service: str = "hello", **fields: Any) -> dict[str, Any]:
    """What faas-cli's `deploy --image IMAGE --name NAME` sends (types.FunctionDeployment)."""
    body: dict[str, Any] = {
        "service": service,
        "image": IMAGE,
        "labels": {},
        "annotations": {faas_lang(): "python3-http"},
    }
    body.update(fields)
    return body


def faas_lang() -> str:
    return "faas.lang"


def add_images(stack: Stack) -> None:
    labels = {**NO_DEPS, keys.LABEL_CODE_HASH: "0123456789ab"}
    stack.engine.add_image(IMAGE, HTTP_FIXTURE, labels=labels)
    stack.engine.add_image(FOREIGN, HTTP_FIXTURE, labels={})


async def deploy(gw: FakeGateway, method: str = "POST", **fields: Any) -> Any:
    return await gw.http.request(method, "/system/functions", json=deployment(**fields))


def test_deploy_list_describe_call_and_remove_as_faas_cli_does(stack: Stack) -> None:
    add_images(stack)

    async def scenario() -> None:
        async with stack.gateway() as gw:
            # faas-cli tries PUT first (an update) and POSTs when the function is unknown.
            assert (await deploy(gw, "PUT")).status_code == 404
            created = await deploy(gw, envVars={"MODE": "fast"}, secrets=[])
            assert created.status_code == 202, created.text
            assert (await deploy(gw, "PUT")).status_code == 200

            listed = (await gw.http.get("/system/functions")).json()
            (item,) = listed
            # OpenFaaS's FunctionStatus and faas's record in one object.
            assert item["name"] == "hello" and item["namespace"] == "openfaas-fn"
            assert item["image"] == IMAGE and item["config"]["lang"] == "python3-http"
            assert item["url"].endswith("/function/hello")
            assert item["createdAt"].endswith("Z") and "T" in item["createdAt"]
            assert "limits" not in item  # none asked (faas's defaults apply): none shown
            assert "envVars" not in item and item["envProcess"] == ""  # the PUT set none
            described = await gw.http.get(
                "/system/function/hello.openfaas-fn",
                params={"namespace": "openfaas-fn", "usage": "1"},
            )
            assert described.status_code == 200 and described.json()["name"] == "hello"

            called = await gw.http.post("/function/hello.openfaas-fn/x?name=cli", content=b"abc")
            assert called.status_code == 200, called.text
            assert called.text.startswith("Hello, cli! 3 bytes")
            assert called.headers["content-type"].startswith("text/html")
            assert int(called.headers["x-start-time"]) > 1_700_000_000 * 10**9
            as_json = await gw.http.get("/function/hello/json")
            assert as_json.status_code == 201 and as_json.json()["method"] == "GET"
            assert as_json.headers["x-kind"] == "json"
            assert (await gw.http.get("/function/hello/none")).status_code == 200
            status = (await gw.http.get("/system/function/hello")).json()
            assert status["invocationCount"] == 3.0 and status["availableReplicas"] >= 1

            gone = await gw.http.request(
                "DELETE", "/system/functions", json={"functionName": "hello", "namespace": ""}
            )
            assert gone.status_code == 200
            again = await gw.http.request(
                "DELETE", "/system/functions", json={"functionName": "hello"}
            )
            assert again.status_code == 404
            assert (await gw.http.get("/function/hello")).status_code == 404

    run(scenario)


def test_faas_shape_still_registers_on_the_same_route(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            assert (await gw.register("echo"))["name"] == "echo"
            assert (await gw.describe("echo"))["namespace"] == "openfaas-fn"
            assert (await gw.call("echo", "/x")).status_code == 200

    run(scenario)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"service": "Bad_Name"}, "service"),
        ({"image": ""}, "image"),
        ({"image": "nothere/at-all:1"}, "image"),
        ({"envVars": {"FAAS_X": "1"}}, "envVars.FAAS_X"),
        ({"envVars": ["A=1"]}, "envVars"),
        ({"limits": {"memory": "lots"}}, "limits.memory"),
        ({"limits": {"cpu": "fast"}}, "limits.cpu"),
        ({"labels": {"com.openfaas.scale.max": "x"}}, "labels.com.openfaas.scale.max"),
        ({"labels": {"com.openfaas.scale.zero": "maybe"}}, "labels.com.openfaas.scale.zero"),
        ({"secrets": ["missing-secret"]}, "secrets[0]"),
        ({"namespace": "other"}, "namespace"),
    ],
)
def test_bad_deployments_are_400_naming_the_field(
    stack: Stack, fields: dict[str, Any], field: str
) -> None:
    add_images(stack)

    async def scenario() -> None:
        async with stack.gateway() as gw:
            response = await deploy(gw, **fields)
            assert response.status_code == 400, response.text
            assert response.json()["error"]["message"].startswith(f"{field}: "), response.text

    run(scenario)


def test_scale_labels_and_scale_function(stack: Stack) -> None:
    add_images(stack)

    async def scenario() -> None:
        async with stack.gateway() as gw:
            labels = {"com.openfaas.scale.min": "1", "com.openfaas.scale.max": "4"}
            assert (await deploy(gw, labels=labels)).status_code == 202
            config = (await gw.describe("hello"))["config"]
            assert config["scale"] == {"min": 1, "max": 4}
            await gw.until_counts("hello", {"ready": 1})
            (first,) = await gw.container_ids("hello")
            # faas-cli scale sends serviceName; OpenFaaS's docs show service: both are taken.
            for body in (
                {"serviceName": "hello", "replicas": 2},
                {"service": "hello", "replicas": 2},
            ):
                scaled = await gw.http.post("/system/scale-function/hello", json=body)
                assert scaled.status_code == 202, scaled.text
            assert (await gw.describe("hello"))["config"]["scale"] == {"min": 2, "max": 4}
            await gw.until_counts("hello", {"ready": 2})
            assert first in await gw.container_ids("hello")  # scaling keeps warm containers
            big = await gw.http.post(
                "/system/scale-function/hello.openfaas-fn",
                json={"serviceName": "hello", "replicas": 6},
            )
            assert big.status_code == 202
            assert (await gw.describe("hello"))["config"]["scale"] == {"min": 6, "max": 6}
            zero = await gw.http.post("/system/scale-function/hello", json={"replicas": 0})
            assert zero.status_code == 202
            assert (await gw.describe("hello"))["config"]["scale"]["min"] == 0
            await gw.until_counts("hello", {})
            for body, field in (
                ({"serviceName": "other", "replicas": 1}, "serviceName"),
                ({"replicas": -1}, "replicas"),
                ({"replicas": "2"}, "replicas"),
            ):
                bad = await gw.http.post("/system/scale-function/hello", json=body)
                assert bad.status_code == 400 and bad.json()["error"]["message"].startswith(field)
            missing = await gw.http.post("/system/scale-function/nope", json={"replicas": 1})
            assert missing.status_code == 404

    run(scenario)


def test_zero_label_and_faas_settings_kept_on_update(stack: Stack) -> None:
    add_images(stack)

    async def scenario() -> None:
        async with stack.gateway() as gw:
            await gw.register("echo", image=IMAGE, timeout="7s", concurrency=3)
            body = {"labels": {"com.openfaas.scale.zero": "false"}, "annotations": {}}
            updated = await deploy(gw, "PUT", service="echo", **body)
            assert updated.status_code == 200, updated.text
            config = updated.json()["config"]
            # What OpenFaaS cannot say is kept; the same code keeps its handler and lang.
            assert config["timeout"] == "7s" and config["concurrency"] == 3
            assert config["scale"]["min"] == 1 and config.get("lang", "python") == "python"

    run(scenario)


def test_foreign_images_become_http_image_functions(stack: Stack) -> None:
    add_images(stack)

    async def scenario() -> None:
        async with stack.gateway() as gw:
            labels = {"com.openfaas.scale.min": "2"}
            created = await deploy(gw, service="alpine", image=FOREIGN, labels=labels)
            assert created.status_code == 202, created.text
            body = created.json()
            assert body["config"]["contract"] == "http" and body["config"]["image"] == FOREIGN
            assert body["contract"] == "http" and body["port"] == 8080 and body["relaxed"] == []
            assert body["config"]["scale"]["min"] == 2  # kept: the pool starts them
            assert body["readOnlyRootFilesystem"] is True  # faas's default when not given
            writable = await deploy(
                gw, "PUT", service="alpine", image=FOREIGN, readOnlyRootFilesystem=False
            )
            assert writable.status_code == 200, writable.text
            assert writable.json()["readOnlyRootFilesystem"] is False
            assert "writable root filesystem" in writable.json()["relaxed"][0]
            bad = await deploy(gw, service="alpine", image=FOREIGN, readOnlyRootFilesystem="no")
            assert bad.status_code == 400
            assert bad.json()["error"]["message"].startswith("readOnlyRootFilesystem")
            # Back to a faas-built image: on faas's runtime again, nothing of the image kept.
            back = await deploy(gw, "PUT", service="alpine", image=IMAGE)
            assert back.status_code == 200, back.text
            assert "contract" not in back.json()["config"] and back.json()["readOnlyRootFilesystem"]

    run(scenario)


def test_info_namespaces_and_metrics_names(stack: Stack) -> None:
    add_images(stack)

    async def scenario() -> None:
        async with stack.gateway() as gw:
            info = (await gw.http.get("/system/info")).json()
            assert info["provider"]["provider"] == "faas"
            assert info["provider"]["orchestration"] == "docker"
            assert info["version"]["release"] and info["arch"]
            assert (await gw.http.get("/system/namespaces")).json() == ["openfaas-fn"]
            assert (await deploy(gw)).status_code == 202
            assert (await gw.http.get("/function/hello")).status_code == 200
            text = (await gw.http.get("/metrics")).text
            assert 'gateway_function_invocation_total{code="200",function_name="hello"} 1.0' in text
            assert 'gateway_functions_seconds_count{code="200",function_name="hello"} 1.0' in text
            assert 'gateway_service_count{function_name="hello"}' in text
            assert 'faas_calls_total{code="200",function="hello"} 1.0' in text

    run(scenario)


def test_logs_as_ndjson_in_openfaas_message_shape(stack: Stack) -> None:
    add_images(stack)

    async def scenario() -> None:
        async with stack.gateway() as gw:
            assert (await deploy(gw)).status_code == 202
            assert (await gw.http.post("/function/hello/first")).status_code == 200

            async def lines() -> list[dict[str, Any]]:
                params = {"name": "hello.openfaas-fn", "tail": "50", "follow": "false"}
                response = await gw.http.get("/system/logs", params=params)
                assert response.status_code == 200, response.text
                assert response.headers["content-type"].startswith("application/x-ndjson")
                found = [json.loads(line) for line in response.text.splitlines()]
                return found if any("POST /first" in m["text"] for m in found) else []

            messages = await until(lines, what="the call's log line")
            message = next(m for m in messages if "POST /first" in m["text"])
            assert set(message) == {"name", "namespace", "instance", "timestamp", "text"}
            assert message["name"] == "hello" and message["namespace"] == "openfaas-fn"
            assert message["timestamp"].endswith("Z") and message["instance"]
            tail = await gw.http.get("/system/logs", params={"name": "hello", "tail": "1"})
            assert len(tail.text.splitlines()) == 1
            for params, field in (
                ({"name": "hello", "tail": "x"}, "tail"),
                ({"name": "hello", "since": "yesterday"}, "since"),
                ({"name": "hello", "follow": "maybe"}, "follow"),
                ({}, "name"),
            ):
                bad = await gw.http.get("/system/logs", params=params)
                assert bad.status_code == 400 and bad.json()["error"]["message"].startswith(field)
            missing = await gw.http.get("/system/logs", params={"name": "nope"})
            assert missing.status_code == 404

    run(scenario)


def test_suffix_is_no_way_around_an_api_key(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            await gw.register("echo", auth="api-key")
            for path in ("/function/echo.openfaas-fn", "/async-function/echo.openfaas-fn"):
                assert (await gw.http.post(path)).status_code == 401
            assert (await gw.http.post("/function/echo.other-ns")).status_code == 404

    run(scenario)


def test_python3_http_runs_on_a_generic_spare_too(stack: Stack, tmp_path: Path) -> None:
    """Without requirements a python3-http function may be served by a pre-started generic
    runtime: the code arrives with its first call, and the adapter must still apply."""
    folder = tmp_path / "hello-http"
    folder.mkdir()
    (folder / "handler.py").write_text((HTTP_FIXTURE / "handler.py").read_text())
    (folder / "faas.yaml").write_text("name: hello-http\nlang: python3-http\n")

    async def scenario() -> None:
        async with stack.gateway(generic_pool=1) as gw:
            await gw.register(folder)
            await until(lambda: _spares(gw), what="a spare started after the deploy")
            answer = await gw.call("hello-http", "/x?name=spare")
            assert answer.status_code == 200, answer.text
            assert answer.headers["x-faas-start"] == "prewarm"
            assert answer.text.startswith("Hello, spare!")
            assert answer.headers["content-type"].startswith("text/html")

    run(scenario)


async def _spares(gw: FakeGateway) -> int:
    return int((await gw.describe("hello-http"))["generic"]["spares"])

"""What OpenFaaS's provider certifier (openfaas/certifier) checks, with the bodies its faas-cli
`proxy` client sends (types.FunctionDeployment, `omitempty` fields left out), over the fake
engine: a FunctionStatus that reads back as it was deployed, envProcess as the watchdog's
`fprocess`, limits as asked, and a deploy that starts a replica without a call."""

from __future__ import annotations

from typing import Any

from faas import keys
from tests.unit.fake_gateway import FakeGateway, Stack, run, until
from tests.unit.test_openfaas_api import HTTP_FIXTURE, add_images
from tests.unit.test_openfaas_api import IMAGE as FAAS_IMAGE

IMAGE = "functions/alpine:latest"


def certifier_deployment(service: str, **fields: Any) -> dict[str, Any]:
    """deploy_test.go's FunctionDeployment as faas-cli's proxy.deploy marshals it."""
    body: dict[str, Any] = {
        "service": service,
        "image": IMAGE,
        "namespace": "openfaas-fn",
        "envProcess": "sha512sum",
        "labels": {},
        "annotations": {},
    }
    body.update(fields)
    return body


def add_image(stack: Stack) -> None:
    stack.engine.add_image(IMAGE, HTTP_FIXTURE, labels={})


async def status(gw: FakeGateway, name: str) -> dict[str, Any]:
    response = await gw.http.get(
        f"/system/function/{name}.openfaas-fn", params={"namespace": "openfaas-fn"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_status_reads_back_as_deployed(stack: Stack) -> None:
    add_image(stack)

    async def scenario() -> None:
        async with stack.gateway() as gw:
            limited = certifier_deployment(
                "memory-limit", envProcess="env", limits={"memory": "5Mi", "cpu": "100m"}
            )
            created = await gw.http.post("/system/functions", json=limited)
            assert created.status_code == 202, created.text
            labelled = certifier_deployment(
                "env-test-labels", labels={"upstream_uri": "example.com", "canary_build": "true"}
            )
            assert (await gw.http.post("/system/functions", json=labelled)).status_code == 202

            listed = await gw.http.get("/system/functions", params={"namespace": "openfaas-fn"})
            by_name = {item["name"]: item for item in listed.json()}
            item = by_name["memory-limit"]
            assert item["envProcess"] == "env" and item["image"] == IMAGE
            # Go's decoder tells absent from empty: never-set maps are left out.
            assert "envVars" not in item and "requests" not in item
            assert item["limits"] == {"memory": "5Mi", "cpu": "100m"}  # as asked
            assert item["annotations"] == {}  # where the asked limits live is not shown
            assert item["labels"]["faas_function"] == "memory-limit"
            assert item["readOnlyRootFilesystem"] is True  # faas's hardening default
            # Below faas's floor (Docker refuses under 6 MB): it runs at the floor.
            assert item["config"]["memory"] == "16Mi" and item["config"]["cpus"] == 0.1
            assert item["config"]["environment"] == {"fprocess": "****"}
            other = by_name["env-test-labels"]
            assert "limits" not in other and other["envProcess"] == "sha512sum"
            assert other["labels"]["upstream_uri"] == "example.com"
            assert other["labels"]["faas_function"] == "env-test-labels"

            # envVars come back masked, without the fprocess they carry.
            env = certifier_deployment("env-test", envVars={"custom_env": "custom_env_value"})
            assert (await gw.http.put("/system/functions", json=env)).status_code == 404
            assert (await gw.http.post("/system/functions", json=env)).status_code == 202
            shown = await status(gw, "env-test")
            assert shown["envVars"] == {"custom_env": "****"}
            assert shown["envProcess"] == "sha512sum"
            # An update without limits keeps the function's (as faas's other settings): they
            # are shown as they run, as they are no longer faas's defaults.
            plain = certifier_deployment("memory-limit", envProcess="cat")
            assert (await gw.http.put("/system/functions", json=plain)).status_code == 200
            again = await status(gw, "memory-limit")
            assert again["envProcess"] == "cat"
            assert again["limits"] == {"memory": "16Mi", "cpu": "100m"}

            bad = await gw.http.post(
                "/system/functions", json=certifier_deployment("x", envProcess=["env"])
            )
            assert bad.status_code == 400
            assert bad.json()["error"]["message"].startswith("envProcess: "), bad.text
            nul = await gw.http.post(
                "/system/functions", json=certifier_deployment("x", envProcess="env\0")
            )
            assert nul.status_code == 400
            assert nul.json()["error"]["message"].startswith("envProcess: "), nul.text

    run(scenario)


def test_a_deploy_starts_a_replica_and_replicas_count_running_ones(stack: Stack) -> None:
    add_images(stack)  # the fake engine runs faas's runtime only: a faas-built image

    async def scenario() -> None:
        async with stack.gateway() as gw:
            body = certifier_deployment(
                "test-scale-from-zero",
                image=FAAS_IMAGE,
                annotations={"faas.lang": "python3-http"},
            )
            assert (await gw.http.post("/system/functions", json=body)).status_code == 202

            async def available() -> bool:
                return bool((await status(gw, "test-scale-from-zero"))["availableReplicas"] >= 1)

            await until(available, what="a replica without any call")
            assert (await status(gw, "test-scale-from-zero"))["replicas"] == 1
            assert (await gw.describe("test-scale-from-zero"))["config"]["scale"]["min"] == 0
            # Paused (scaled down, a resume away): available, no longer a running replica.
            await gw.pool("test-scale-from-zero", "pause")
            paused = await status(gw, "test-scale-from-zero")
            assert paused["replicas"] == 0 and paused["availableReplicas"] == 1
            # scale-function to 0, as the certifier does before its call from zero.
            zero = await gw.http.post(
                "/system/scale-function/test-scale-from-zero",
                json={
                    "serviceName": "test-scale-from-zero",
                    "namespace": "openfaas-fn",
                    "replicas": 0,
                },
            )
            assert zero.status_code == 202
            assert (await status(gw, "test-scale-from-zero"))["replicas"] == 0
            called = await gw.http.post("/function/test-scale-from-zero.openfaas-fn")
            assert called.status_code == 200, called.text

            two = certifier_deployment(
                "test-min-scale", image=FAAS_IMAGE, labels={"com.openfaas.scale.min": "2"}
            )
            assert (await gw.http.post("/system/functions", json=two)).status_code == 202
            assert (await status(gw, "test-min-scale"))["replicas"] == 2  # at once

    run(scenario)


def test_writable_root_by_default_when_the_gateway_says_so(stack: Stack) -> None:
    add_image(stack)

    async def scenario() -> None:
        async with stack.gateway(openfaas_writable_root=True) as gw:
            body = certifier_deployment("stronghash")
            created = await gw.http.post("/system/functions", json=body)
            assert created.status_code == 202, created.text
            assert created.json()["readOnlyRootFilesystem"] is False
            assert "writable root filesystem" in created.json()["relaxed"][0]
            asked = certifier_deployment("stronghash", readOnlyRootFilesystem=True)
            updated = await gw.http.put("/system/functions", json=asked)
            assert updated.json()["readOnlyRootFilesystem"] is True

    run(scenario)


def test_faas_image_labels_are_not_foreign(stack: Stack) -> None:
    """A faas-built image keeps running on faas's runtime: envProcess is only an env var."""
    labels = {keys.LABEL_CODE_HASH: "0123456789ab", keys.LABEL_BASE_IMAGE: "faas-python"}
    stack.engine.add_image("faas/function:x", HTTP_FIXTURE, labels=labels)

    async def scenario() -> None:
        async with stack.gateway() as gw:
            body = certifier_deployment("native", image="faas/function:x", envProcess="env")
            created = await gw.http.post("/system/functions", json=body)
            assert created.status_code == 202, created.text
            assert "contract" not in created.json()["config"]
            assert created.json()["envProcess"] == "env"

    run(scenario)

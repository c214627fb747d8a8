"""What OpenFaaS's provider certifier (openfaas/certifier) checks, against real Docker and Redis,
with the requests its faas-cli `proxy` client sends: a `functions/alpine`-style image (the
classic watchdog running `fprocess`, tests/fixtures/images/classic_watchdog) deployed through
the OpenFaaS API, called with every verb, its logs, secrets, limits and scaling.

The certifier itself (Go) is not part of this project; see README, OpenFaaS users."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import Gateway, run_containers, wait_until
from tests.integration.test_openfaas import cli_client, status


def deployment(service: str, image: str, **fields: Any) -> dict[str, Any]:
    """The certifier's FunctionDeployment as faas-cli's proxy.deploy marshals it."""
    body: dict[str, Any] = {
        "service": service,
        "image": image,
        "namespace": "openfaas-fn",
        "envProcess": "env",
        "labels": {},
        "annotations": {},
    }
    body.update(fields)
    return body


def available(gateway: Gateway, name: str) -> bool:
    return bool(status(gateway, name)["availableReplicas"] >= 1)


def test_a_watchdog_image_deploys_answers_every_verb_and_logs(
    gateway: Gateway,
    user_image: Callable[[str], str],
) -> None:
    cli = cli_client(gateway)
    image = user_image("classic_watchdog")
    env = deployment("env-test", image, envVars={"custom_env": "custom_env_value"})
    created = cli.post("/system/functions", json=env)
    assert created.status_code == 202, created.text
    # As OpenFaaS's providers do, the deploy starts a replica: available before any call.
    wait_until(lambda: available(gateway, "env-test"), 60)
    shown = status(gateway, "env-test")
    assert shown["envProcess"] == "env" and shown["envVars"] == {"custom_env": "****"}
    assert shown["labels"]["faas_function"] == "env-test" and "limits" not in shown

    plain = httpx.Client(base_url=gateway.url, timeout=60, trust_env=False)  # calls: no auth
    for verb in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        answer = plain.request(verb, "/function/env-test.openfaas-fn?testing=1")
        assert answer.status_code == 200, answer.text
        assert f"Http_Method={verb}" in answer.text and "Http_Query=testing=1" in answer.text
        assert "custom_env=custom_env_value" in answer.text
        assert answer.headers["x-call-id"] and int(answer.headers["x-start-time"]) > 0

    logger = deployment("test-logger", image, envProcess="cat")
    assert cli.post("/system/functions", json=logger).status_code == 202
    answer = plain.post("/function/test-logger.openfaas-fn", content=b"openfaas-fn")
    assert answer.status_code == 200 and answer.text == "openfaas-fn"

    def watchdog_lines() -> list[str]:
        logs = cli.get(
            "/system/logs",
            params={"name": "test-logger", "namespace": "openfaas-fn", "follow": "false"},
        )
        assert logs.status_code == 200, logs.text
        messages = [json.loads(line) for line in logs.text.splitlines()]
        assert all(m["name"] == "test-logger" for m in messages)
        return [m["text"].lstrip("0123456789/: ") for m in messages]

    def logged() -> bool:
        lines = watchdog_lines()
        return any(t.startswith("Forking fprocess") for t in lines) and any(
            t.startswith("Wrote 11 Bytes") for t in lines
        )

    wait_until(logged, 30)

    # 5Mi is under Docker's floor: deployed at faas's (16Mi), shown as asked.
    limited = deployment("memory-limit", image, limits={"memory": "5Mi", "cpu": "100m"})
    assert cli.post("/system/functions", json=limited).status_code == 202
    shown = status(gateway, "memory-limit")
    assert shown["limits"] == {"memory": "5Mi", "cpu": "100m"}
    assert shown["config"]["memory"] == "16Mi"

    for name in ("env-test", "test-logger", "memory-limit"):
        removed = cli.request("DELETE", "/system/functions", json={"functionName": name})
        assert removed.status_code == 200
    wait_until(lambda: not run_containers({"faas.function": "env-test"}), 30)
    cli.close()
    plain.close()


def test_secrets_reach_the_watchdog_and_an_update_redeploys_them(
    gateway: Gateway,
    user_image: Callable[[str], str],
) -> None:
    cli = cli_client(gateway)
    image = user_image("classic_watchdog")
    secret = {"name": "secret-bytes", "rawValue": "dGhpcy1pcy10aGUtUkFXLXNlY3JldC12YWx1ZQ=="}
    assert cli.post("/system/secrets", json=secret).status_code == 201
    reader = deployment(
        "secret-bytes",
        image,
        envProcess="cat /var/openfaas/secrets/secret-bytes",
        secrets=["secret-bytes"],
    )
    assert cli.post("/system/functions", json=reader).status_code == 202
    call = "/function/secret-bytes.openfaas-fn"
    assert cli.post(call).text == "this-is-the-RAW-secret-value"

    new = {"name": "secret-bytes", "rawValue": "dGhpcy1pcy10aGUtTkVXLVJBVy1zZWNyZXQtdmFsdWU="}
    assert cli.put("/system/secrets", json=new).status_code == 200
    reader["annotations"] = {"secret-hash": "something to convince orchestrators"}
    assert cli.put("/system/functions", json=reader).status_code == 200
    wait_until(lambda: cli.post(call).text == "this-is-the-NEW-RAW-secret-value", 60)

    # scale-function to 0, then a call brings it back (the certifier's scale from zero, which
    # first waits for the function to be available, so no start is under way).
    def settled() -> bool:
        shown = status(gateway, "secret-bytes")
        return bool(shown["availableReplicas"] >= 1 and not shown["containers"].get("creating"))

    wait_until(settled, 60)
    zero = cli.post(
        "/system/scale-function/secret-bytes",
        json={"serviceName": "secret-bytes", "namespace": "openfaas-fn", "replicas": 0},
    )
    assert zero.status_code == 202 and status(gateway, "secret-bytes")["replicas"] == 0
    assert cli.post(call).status_code == 200

    gone = cli.request("DELETE", "/system/functions", json={"functionName": "secret-bytes"})
    assert gone.status_code == 200
    assert (
        cli.request("DELETE", "/system/secrets", json={"name": "secret-bytes"}).status_code == 200
    )
    wait_until(lambda: not run_containers({"faas.function": "secret-bytes"}), 30)
    cli.close()


def test_an_idle_keep_alive_connection_still_takes_a_post(gateway: Gateway) -> None:
    """Go's clients (faas-cli, the certifier) keep idle connections 90 s and do not resend a
    POST that meets a closing connection: the certifier's call after its 5 s pause got EOF
    while the gateway closed idle connections after uvicorn's default 5 s."""
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
    connection.request("GET", "/healthz")
    assert connection.getresponse().read()
    time.sleep(6)  # the idle time is what is tested: past uvicorn's default
    connection.request("POST", "/function/no-such-function", body=b"x")
    answer = connection.getresponse()
    assert answer.status == 404 and answer.read()
    connection.close()

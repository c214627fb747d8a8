"""Lambda images on real Docker: an image built on the Lambda Runtime API (`awslambdaric` as its
entrypoint, the handler as CMD, as AWS's base images) runs unchanged with
`contract: lambda-image`, through /function/ (API Gateway events) and boto3's Invoke."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import docker
import httpx
import pytest

from faas import keys
from tests.conftest import Gateway, need, run_containers, wait_until
from tests.integration.image_fixtures import IMAGES

boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402

NAME = "ric"


@pytest.fixture(scope="session")
def ric_image(base_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The local base image plus awslambdaric (wheels fetched on the host: the build has no
    route to the registry) and tests/fixtures/images/lambda_ric/app.py."""
    context = tmp_path_factory.mktemp("lambda-ric") / "context"
    shutil.copytree(IMAGES / "lambda_ric", context)
    # The base image's Python (Debian bookworm: 3.11); awslambdaric ships manylinux wheels.
    pip = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--no-deps"]
    target = ["--python-version", "3.11", "--platform", "manylinux2014_x86_64"]
    wanted = ["awslambdaric", "simplejson", "snapshot-restore-py"]
    download = subprocess.run(
        [*pip, *target, "-d", str(context / "wheels"), *wanted],
        capture_output=True,
        text=True,
    )
    need(download.returncode == 0, f"cannot download awslambdaric: {download.stderr[-400:]}")
    client = docker.from_env()
    tag = f"faas-test-lambda-ric:{uuid.uuid4().hex[:8]}"
    client.images.build(
        path=str(context),
        tag=tag,
        buildargs={"BASE": base_image},
        labels={keys.LABEL_MANAGED: "true"},
        rm=True,
    )
    yield tag
    client.images.remove(tag, force=True)
    client.close()


def register_image(gateway: Gateway, image: str, **manifest: object) -> httpx.Response:
    manifest = {"name": NAME, "contract": "lambda-image", "image": image, **manifest}
    return gateway.http.post("/system/functions", json={"manifest": manifest, "image": image})


@pytest.fixture
def client(gateway: Gateway, ric_image: str) -> Any:
    response = register_image(gateway, ric_image, timeout="2s", memory="96Mi")
    assert response.status_code in (200, 201), response.text
    return lambda_client(gateway)


def lambda_client(gateway: Gateway) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=gateway.url,
        region_name="us-east-1",
        aws_access_key_id="admin",
        aws_secret_access_key=gateway.password or "x",
        config=Config(retries={"max_attempts": 0}, read_timeout=30),
    )


def payload(answer: dict[str, Any]) -> Any:
    return json.loads(answer["Payload"].read())


def test_http_calls_are_api_gateway_events_cold_then_warm(gateway: Gateway, client: Any) -> None:
    first = gateway.http.post(f"/function/{NAME}/orders/7", content=b'{"a": 1}')
    assert first.status_code == 201, first.text
    assert first.headers["x-from"] == "ric"
    assert first.json() == {"path": "/orders/7", "calls": 1, "body": '{"a": 1}'}
    assert first.headers["x-faas-start"] == "cold"
    timing = first.headers["server-timing"]
    assert "create;dur=" in timing and "ready;dur=" in timing and "handler;dur=" in timing

    second = gateway.http.get(f"/function/{NAME}/again")
    assert second.headers["x-faas-start"] == "warm"
    assert second.json()["calls"] == 2  # the same runtime process, its module state kept

    (container,) = run_containers({keys.LABEL_FUNCTION: NAME})
    attrs = docker.from_env().api.inspect_container(container.id)
    assert attrs["HostConfig"]["NetworkMode"] == "none"  # the Runtime API is the container's own
    assert attrs["Config"]["User"] == "10001:10001" and attrs["HostConfig"]["ReadonlyRootfs"]


def test_a_paused_lambda_image_resumes_with_its_state(
    make_gateway: Callable[..., Gateway], ric_image: str
) -> None:
    gateway = make_gateway(FAAS_PAUSE_AFTER="300ms")
    assert register_image(gateway, ric_image).status_code in (200, 201)
    assert gateway.http.post(f"/function/{NAME}").headers["x-faas-start"] == "cold"

    def paused() -> bool:
        return bool(gateway.http.get(f"/system/function/{NAME}").json()["containers"]["paused"])

    wait_until(paused, 10, 0.05)
    resumed = gateway.http.post(f"/function/{NAME}")
    assert resumed.headers["x-faas-start"] == "paused"
    assert resumed.json()["calls"] == 2  # the runtime's long poll survived the freeze


def test_boto3_request_response_context_environment_and_tail(client: Any) -> None:
    answer = client.invoke(FunctionName=NAME, Payload=json.dumps({"n": 1}), LogType="Tail")
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    result = payload(answer)
    assert result["event"] == {"n": 1}
    assert result["request_id"] == answer["ResponseMetadata"]["RequestId"]
    assert result["function_name"] == NAME
    assert result["arn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{NAME}"
    assert 0 < result["remaining_ms"] <= 2000
    assert result["env"] == {
        "AWS_LAMBDA_FUNCTION_NAME": NAME,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "96",
        "AWS_REGION": "us-east-1",
        "_HANDLER": "app.handler",
    }
    log = base64.b64decode(answer["LogResult"]).decode()
    assert "START RequestId: " + result["request_id"] in log
    assert "REPORT RequestId: " + result["request_id"] in log

    printed = client.invoke(FunctionName=NAME, Payload=b'{"print": "marker-9"}', LogType="Tail")
    assert payload(printed)["calls"] == 2  # warm
    assert "marker-9" in base64.b64decode(printed["LogResult"]).decode()


def test_large_events_and_answers_cross_the_runtime_api(client: Any) -> None:
    big = "x" * (2 * 1024 * 1024)  # 2 MB each way over the Runtime API
    answer = client.invoke(FunctionName=NAME, Payload=json.dumps({"big": big}))
    assert "FunctionError" not in answer
    assert payload(answer)["event"]["big"] == big


def test_unhandled_error_and_timeout_in_lambdas_shape(client: Any) -> None:
    failed = client.invoke(FunctionName=NAME, Payload=json.dumps({"fail": "boom"}))
    assert failed["StatusCode"] == 200 and failed["FunctionError"] == "Unhandled"
    error = payload(failed)
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "asked to fail: boom"
    assert any("app.py" in frame for frame in error["stackTrace"])
    # The runtime survives its handler's exception: the next call is warm.
    assert payload(client.invoke(FunctionName=NAME, Payload=b"{}"))["calls"] == 2

    slow = client.invoke(FunctionName=NAME, Payload=json.dumps({"sleep": 10}))
    assert slow["FunctionError"] == "Unhandled"
    assert payload(slow)["errorType"] == "Sandbox.Timedout"
    # The timed-out container was discarded: a new one answers.
    assert payload(client.invoke(FunctionName=NAME, Payload=b"{}"))["calls"] == 1


def test_a_runtime_dying_mid_call_is_an_exit_error(client: Any) -> None:
    died = client.invoke(FunctionName=NAME, Payload=json.dumps({"exit": 3}))
    assert died["FunctionError"] == "Unhandled"
    error = payload(died)
    assert error["errorType"] == "Runtime.ExitError" and "exited with 3" in error["errorMessage"]
    assert payload(client.invoke(FunctionName=NAME, Payload=b"{}"))["calls"] == 1  # a new one


def test_event_invocation_runs_once_through_the_queue(gateway: Gateway, client: Any) -> None:
    answer = client.invoke(FunctionName=NAME, InvocationType="Event", Payload=b'{"print": "ev-3"}')
    assert answer["StatusCode"] == 202
    call_id = answer["ResponseMetadata"]["RequestId"]

    def state() -> str:
        return str(gateway.http.get(f"/system/calls/{call_id}").json().get("status"))

    wait_until(lambda: state() == "succeeded", 30, 0.1)
    lines = gateway.http.get(f"/system/logs/{NAME}").json()["lines"]
    assert sum("ev-3" in line for line in lines) == 1


def test_an_init_error_is_reported_at_the_first_call(gateway: Gateway, ric_image: str) -> None:
    response = register_image(gateway, ric_image, environment={"FAIL_INIT": "1"})
    assert response.status_code in (200, 201), response.text
    answer = gateway.http.post(f"/function/{NAME}", content=b"{}")
    assert answer.status_code == 502
    message = answer.json()["error"]["message"]
    assert "RuntimeError" in message and "configured to fail at init" in message, message
    wait_until(lambda: not run_containers({keys.LABEL_FUNCTION: NAME}), 10, 0.1)


def test_removing_the_function_leaves_no_container(gateway: Gateway, client: Any) -> None:
    assert payload(client.invoke(FunctionName=NAME, Payload=b"{}"))["calls"] == 1
    assert run_containers({keys.LABEL_FUNCTION: NAME})
    client.delete_function(FunctionName=NAME)
    wait_until(lambda: not run_containers({keys.LABEL_FUNCTION: NAME}), 10, 0.1)


def test_a_lambda_image_keeps_one_event_at_a_time(gateway: Gateway, ric_image: str) -> None:
    response = register_image(gateway, ric_image, concurrency=4)
    assert response.status_code == 400
    assert "concurrency" in response.text


def test_with_network_true_it_joins_the_functions_network(gateway: Gateway, ric_image: str) -> None:
    assert register_image(gateway, ric_image, network=True).status_code in (200, 201)
    assert gateway.http.post(f"/function/{NAME}/x").status_code == 201
    (container,) = run_containers({keys.LABEL_FUNCTION: NAME})
    mode = docker.from_env().api.inspect_container(container.id)["HostConfig"]["NetworkMode"]
    assert mode not in ("none", "default", "bridge", "host")  # faas's own functions' network


def test_create_function_with_an_image_package(gateway: Gateway, ric_image: str) -> None:
    client = lambda_client(gateway)
    role = "arn:aws:iam::000000000000:role/x"
    created = client.create_function(
        FunctionName="from-image", PackageType="Image", Code={"ImageUri": ric_image},
        Role=role, MemorySize=128, Timeout=3,
    )  # fmt: skip
    assert created["PackageType"] == "Image" and created["MemorySize"] == 128
    result = payload(client.invoke(FunctionName="from-image", Payload=b'{"k": 2}'))
    assert result["event"] == {"k": 2} and result["function_name"] == "from-image"
    assert client.get_function(FunctionName="from-image")["Code"]["ImageUri"] == ric_image
    client.update_function_code(FunctionName="from-image", ImageUri=ric_image)
    with pytest.raises(client.exceptions.InvalidParameterValueException) as caught:
        client.create_function(
            FunctionName="missing-image", PackageType="Image", Role=role,
            Code={"ImageUri": "faas-test-no-such-image:1"},
        )  # fmt: skip
    assert "not a local image" in caught.value.response["Error"]["Message"]
    client.delete_function(FunctionName="from-image")
    wait_until(lambda: not run_containers({keys.LABEL_FUNCTION: "from-image"}), 10, 0.1)

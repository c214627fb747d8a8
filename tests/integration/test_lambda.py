"""Lambda handlers on real Docker: the Invoke API through boto3 and the aws CLI, API Gateway
v1/v2 events through /function/, and the error and limit cases."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from faas.credentials import basic_authorization
from tests.conftest import FIXTURES, Gateway, wait_until

boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402

Register = Callable[..., dict[str, object]]
ECHO = FIXTURES / "lambda-echo"


def lambda_client(gateway: Gateway, secret: str | None = None) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=gateway.url,
        region_name="us-east-1",
        aws_access_key_id="admin",
        aws_secret_access_key=secret or gateway.password or "x",
        config=Config(retries={"max_attempts": 0}, read_timeout=30),
    )


@pytest.fixture
def client(gateway: Gateway, register: Register) -> Any:
    register(gateway, ECHO)
    return lambda_client(gateway)


def test_request_response_gives_the_result_context_and_lambda_environment(
    gateway: Gateway, client: Any
) -> None:
    answer = client.invoke(FunctionName="lambda-echo", Payload=json.dumps({"n": 1}))
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert answer["ExecutedVersion"] == "$LATEST"
    result = json.loads(answer["Payload"].read())
    assert result["event"] == {"n": 1}
    context = result["context"]
    assert context["function_name"] == "lambda-echo"
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"].endswith(":function:lambda-echo")
    assert context["memory_limit_in_mb"] == "64"
    assert context["log_group_name"] == "/aws/lambda/lambda-echo"
    assert 0 < context["remaining_ms"] <= 2000
    assert context["aws_request_id"] == answer["ResponseMetadata"]["RequestId"]
    env = result["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "lambda-echo"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "64"
    assert env["_HANDLER"] == "app.lambda_handler"
    assert env["AWS_REGION"] == "us-east-1" and env["LAMBDA_TASK_ROOT"]

    # Names as ARNs, with the one qualifier faas has.
    arn = "arn:aws:lambda:us-east-1:000000000000:function:lambda-echo"
    answer = client.invoke(FunctionName=arn, Qualifier="$LATEST", Payload=b"{}")
    assert json.loads(answer["Payload"].read())["context"]["invoked_function_arn"] == (
        arn + ":$LATEST"
    )


def test_tail_returns_this_calls_log_lines(client: Any) -> None:
    answer = client.invoke(
        FunctionName="lambda-echo", LogType="Tail", Payload=json.dumps({"print": "marker-42"})
    )
    log = base64.b64decode(answer["LogResult"]).decode()
    request_id = answer["ResponseMetadata"]["RequestId"]
    assert "marker-42" in log
    assert f"START RequestId: {request_id}" in log and f"REPORT RequestId: {request_id}" in log
    other = client.invoke(FunctionName="lambda-echo", LogType="Tail", Payload=b"{}")
    assert "marker-42" not in base64.b64decode(other["LogResult"]).decode()


def test_an_unhandled_error_is_a_200_with_lambdas_error_shape(client: Any) -> None:
    answer = client.invoke(FunctionName="lambda-echo", Payload=json.dumps({"fail": "boom"}))
    assert answer["StatusCode"] == 200 and answer["FunctionError"] == "Unhandled"
    error = json.loads(answer["Payload"].read())
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "boom"
    assert any("lambda_handler" in frame for frame in error["stackTrace"])


def test_a_timeout_is_an_unhandled_error(client: Any) -> None:
    answer = client.invoke(FunctionName="lambda-echo", Payload=json.dumps({"sleep": 5}))
    assert answer["FunctionError"] == "Unhandled"
    assert json.loads(answer["Payload"].read())["errorType"] == "Sandbox.Timedout"


def test_dry_run_not_found_and_too_large(client: Any) -> None:
    assert client.invoke(FunctionName="lambda-echo", InvocationType="DryRun")["StatusCode"] == 204
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="no-such-function", Payload=b"{}")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="lambda-echo", Qualifier="7", Payload=b"{}")
    with pytest.raises(client.exceptions.ClientError) as caught:
        client.invoke(FunctionName="lambda-echo", Payload=json.dumps({"x": "a" * 7_000_000}))
    error = caught.value.response
    assert error["Error"]["Code"] == "RequestEntityTooLargeException"  # AWS's own name for it
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 413
    with pytest.raises(client.exceptions.InvalidRequestContentException):
        client.invoke(FunctionName="lambda-echo", Payload=b"not json")


def test_event_runs_once_through_the_durable_queue(gateway: Gateway, client: Any) -> None:
    answer = client.invoke(
        FunctionName="lambda-echo", InvocationType="Event", Payload=json.dumps({"print": "evt-7"})
    )
    assert answer["StatusCode"] == 202
    call_id = answer["ResponseMetadata"]["RequestId"]

    def state() -> str:
        return str(gateway.http.get(f"/system/calls/{call_id}").json().get("status"))

    wait_until(lambda: state() == "succeeded", 30, 0.1)
    lines = gateway.http.get("/system/logs/lambda-echo").json()["lines"]
    assert sum("evt-7" in line for line in lines) == 1
    # The deprecated InvokeAsync takes the same path.
    assert client.invoke_async(FunctionName="lambda-echo", InvokeArgs=b"{}")["Status"] == 202


def test_invoke_keeps_the_functions_api_keys(gateway: Gateway, register: Register) -> None:
    register(gateway, ECHO, auth="api-key")
    client = lambda_client(gateway)
    with pytest.raises(client.exceptions.ClientError) as caught:
        client.invoke(FunctionName="lambda-echo", Payload=b"{}")
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"


def test_control_plane_operations_need_the_admin_signature(gateway: Gateway, client: Any) -> None:
    names = [f["FunctionName"] for f in client.list_functions()["Functions"]]
    assert names == ["lambda-echo"]
    config = client.get_function(FunctionName="lambda-echo")["Configuration"]
    assert (config["MemorySize"], config["Timeout"], config["Handler"]) == (
        64,
        2,
        "app.lambda_handler",
    )
    assert client.get_function_configuration(FunctionName="lambda-echo")["State"] == "Active"
    forged = lambda_client(gateway, secret="wrong")
    with pytest.raises(forged.exceptions.ClientError) as caught:
        forged.list_functions()
    assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"
    anonymous = httpx.get(f"{gateway.url}/2015-03-31/functions/", trust_env=False)
    assert anonymous.status_code == 403
    assert anonymous.headers["x-amzn-errortype"] == "UnrecognizedClientException"
    basic = {"Authorization": basic_authorization(gateway.password or "")}
    listed = httpx.get(f"{gateway.url}/2015-03-31/functions/", headers=basic, trust_env=False)
    assert [f["FunctionName"] for f in listed.json()["Functions"]] == ["lambda-echo"]
    # Invoke is a function call, open like /function/: any signature goes.
    assert forged.invoke(FunctionName="lambda-echo", Payload=b"{}")["StatusCode"] == 200
    client.delete_function(FunctionName="lambda-echo")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function(FunctionName="lambda-echo")


def test_aws_cli_invoke_with_endpoint_url(gateway: Gateway, client: Any, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    env = {
        "AWS_ACCESS_KEY_ID": "admin",
        "AWS_SECRET_ACCESS_KEY": gateway.password or "x",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PATH": str(Path(sys.executable).parent),
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        [str(Path(sys.executable).parent / "aws"), "lambda", "invoke", "--endpoint-url",
         gateway.url, "--function-name", "lambda-echo", "--payload", '{"cli": true}', str(out)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["StatusCode"] == 200
    assert json.loads(out.read_text())["event"] == {"cli": True}


def test_api_gateway_v2_event_and_proxy_response(gateway: Gateway, client: Any) -> None:
    response = gateway.http.post(
        "/function/lambda-echo/users/42?tag=a&tag=b",
        content=b'{"k": 1}',
        headers={"Content-Type": "application/json", "Cookie": "a=1; b=2"},
    )
    assert response.status_code == 201, response.text
    assert response.headers["x-lambda"] == "yes"
    assert response.headers.get_list("x-multi") == ["a", "b"]
    assert response.headers.get_list("set-cookie") == ["session=abc; Path=/", "theme=dark"]
    event = response.json()["event"]
    assert event["version"] == "2.0" and event["rawPath"] == "/users/42"
    assert event["rawQueryString"] == "tag=a&tag=b"
    assert event["queryStringParameters"] == {"tag": "a,b"}
    assert event["pathParameters"] == {"proxy": "users/42"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["body"] == '{"k": 1}' and event["isBase64Encoded"] is False
    binary = gateway.http.post(
        "/function/lambda-echo/binary", content=b"\x00\xff",
        headers={"Content-Type": "application/octet-stream"},
    )  # fmt: skip
    assert binary.content == b"\x89PNG\x00\xff"
    assert binary.headers["content-type"] == "image/png"


def test_api_gateway_v1_event(gateway: Gateway, register: Register) -> None:
    register(gateway, ECHO, **{"lambda": {"event": "apigateway-v1"}})
    response = gateway.http.put(
        "/function/lambda-echo/items?x=1&x=2",
        content=b"\x00\x01binary",
        headers={"Content-Type": "application/octet-stream", "X-Twice": "one"},
    )
    assert response.status_code == 201, response.text
    event = response.json()["event"]
    assert event["httpMethod"] == "PUT" and event["path"] == "/items"
    assert event["resource"] == "/{proxy+}"
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]}
    assert event["queryStringParameters"] == {"x": "2"}
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\x01binary"
    assert event["headers"]["x-twice"] == "one"


def test_create_update_and_delete_function_from_a_zip(gateway: Gateway) -> None:
    client = lambda_client(gateway)

    def zipped(greeting: str) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            code = (
                f"def handler(event, context):\n    return {{'greeting': {greeting!r}, **event}}\n"
            )
            archive.writestr("lambda_function.py", code)
        return buffer.getvalue()

    created = client.create_function(
        FunctionName="zipped", Runtime="python3.11", Role="arn:aws:iam::000000000000:role/x",
        Handler="lambda_function.handler", Code={"ZipFile": zipped("hi")}, MemorySize=128,
        Timeout=3, Environment={"Variables": {"MODE": "test"}},
    )  # fmt: skip
    assert (created["FunctionName"], created["MemorySize"], created["Timeout"]) == (
        "zipped",
        128,
        3,
    )
    answer = client.invoke(FunctionName="zipped", Payload=b'{"n": 1}')
    assert json.loads(answer["Payload"].read()) == {"greeting": "hi", "n": 1}
    with pytest.raises(client.exceptions.ResourceConflictException):
        client.create_function(
            FunctionName="zipped", Runtime="python3.11", Role="r",
            Handler="lambda_function.handler", Code={"ZipFile": zipped("x")},
        )  # fmt: skip
    client.update_function_code(FunctionName="zipped", ZipFile=zipped("hello"))
    answer = client.invoke(FunctionName="zipped", Payload=b"{}")
    assert json.loads(answer["Payload"].read()) == {"greeting": "hello"}
    # An unsafe archive is refused before anything is written.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../escape.py", "x = 1\n")
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.update_function_code(FunctionName="zipped", ZipFile=buffer.getvalue())
    client.delete_function(FunctionName="zipped")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="zipped", Payload=b"{}")


def test_a_lambda_function_on_the_generic_runtime(
    make_gateway: Callable[..., Gateway], register: Register
) -> None:
    gateway = make_gateway(FAAS_GENERIC_POOL="1")
    register(gateway, ECHO)

    def spares() -> int:
        return int(gateway.http.get("/system/function/lambda-echo").json()["generic"]["spares"])

    wait_until(lambda: spares() == 1, 60, 0.05)
    answer = lambda_client(gateway).invoke(FunctionName="lambda-echo", Payload=b'{"g": 1}')
    result = json.loads(answer["Payload"].read())
    assert result["event"] == {"g": 1}
    assert result["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "lambda-echo"  # set before the import
    assert result["env"]["LAMBDA_TASK_ROOT"] == "/opt/faas/function"
    calls = gateway.http.get("/system/function/lambda-echo").json()
    assert calls.get("starts", {}).get("prewarm", 0) == 1, calls

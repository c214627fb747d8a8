"""Lambda images without Docker: the manifest, the container config, and the Runtime API shim
run as a local process in front of a minimal Runtime API client (what awslambdaric does)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from faas.contracts.lambda_image import SHIM_ENTRYPOINT, SHIM_SOURCE
from faas.engines.base import ContainerConfig
from faas.errors import ManifestError
from faas.manifest.spec import parse_manifest
from faas.pool.lambda_images import lambda_image_config

# A Runtime API client in a few lines: init (or fail it), then next -> response/error forever.
CLIENT = r"""
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/"
def post(path, body, headers={}):
    request = urllib.request.Request(api + path, data=body, headers=headers, method="POST")
    return urllib.request.urlopen(request).status
if os.environ.get("FAIL_INIT"):
    error = {"errorMessage": "no module app", "errorType": "Runtime.ImportModuleError"}
    post("init/error", json.dumps(error).encode(), {"Lambda-Runtime-Function-Error-Type": "x"})
    raise SystemExit(1)
while True:
    with urllib.request.urlopen(api + "invocation/next") as answer:
        headers = {k.lower(): v for k, v in answer.headers.items()}
        event = json.loads(answer.read())
    request_id = headers["lambda-runtime-aws-request-id"]
    print("handling", request_id, flush=True)
    if event.get("fail"):
        error = {"errorMessage": "bad", "errorType": "ValueError", "stackTrace": []}
        post(f"invocation/{request_id}/error", json.dumps(error).encode())
        continue
    answer = {"event": event, "headers": headers, "env": dict(os.environ)}
    status = post(f"invocation/{request_id}/response", json.dumps(answer).encode())
    assert status == 202
"""


def test_the_manifest_names_a_lambda_image() -> None:
    spec = parse_manifest({"name": "ric", "contract": "lambda-image", "image": "ric:1"})
    assert spec.contract == "lambda-image" and not spec.on_runtime
    assert spec.lambda_options is not None and spec.lambda_options.event == "apigateway-v2"
    with pytest.raises(ManifestError) as caught:
        parse_manifest({"name": "ric", "contract": "lambda-image", "concurrency": 2})
    assert caught.value.field == "concurrency"


def test_the_container_runs_the_shim_in_front_of_the_images_command() -> None:
    cfg = ContainerConfig(image="ric:1", name="x", labels={}, environment={"A": "1"}, memory=2**27)
    placed = lambda_image_config(cfg, (["python3", "-m", "awslambdaric"], ["app.handler"]))
    assert placed.entrypoint == SHIM_ENTRYPOINT and placed.command == ()
    env = placed.environment
    assert json.loads(env["FAAS_LAMBDA_COMMAND"]) == [
        "python3",
        "-m",
        "awslambdaric",
        "app.handler",
    ]
    assert env["FAAS_LAMBDA_HANDLER"] == "app.handler" and env["FAAS_MEMORY_MB"] == "128"
    assert env["A"] == "1"


def start_shim(folder: Path, **env: str) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "FAAS_SOCKET": str(folder / "runtime.sock"),
        "FAAS_FUNCTION_NAME": "ric",
        "FAAS_LAMBDA_COMMAND": json.dumps([sys.executable, "-S", "-c", CLIENT]),
        "FAAS_LAMBDA_HANDLER": "app.handler",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", SHIM_SOURCE],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def call(path: Path, body: bytes, call_id: str) -> tuple[int, dict[str, str], bytes]:
    with socket.socket(socket.AF_UNIX) as conn:
        conn.connect(str(path))
        conn.sendall(
            b"POST /call HTTP/1.1\r\nx-call-id: " + call_id.encode() + b"\r\n"
            b"x-faas-timeout-ms: 5000\r\nlambda-runtime-client-context: e30=\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
        while len(rest) < int(headers["content-length"]):
            rest += conn.recv(65536)
        return int(lines[0].split()[1]), headers, rest


def wait_listening(path: Path, shim: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and shim.poll() is None:
        with socket.socket(socket.AF_UNIX) as probe:
            try:
                probe.connect(str(path))
                return
            except OSError:
                time.sleep(0.01)
    raise AssertionError("the shim never accepted calls")


@pytest.fixture
def folder() -> Iterator[Path]:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="rapi-", dir="/tmp") as name:
        yield Path(name)


def test_the_shim_bridges_calls_to_the_runtime_api(folder: Path) -> None:
    shim = start_shim(folder)
    try:
        wait_listening(folder / "runtime.sock", shim)
        status, headers, body = call(folder / "runtime.sock", b'{"n": 1}', "call-1")
        assert status == 200 and float(headers["x-faas-handler-ms"]) >= 0
        answer = json.loads(body)
        assert answer["event"] == {"n": 1}
        seen = answer["headers"]
        assert seen["lambda-runtime-aws-request-id"] == "call-1"
        assert seen["lambda-runtime-invoked-function-arn"].endswith(":function:ric")
        assert seen["lambda-runtime-trace-id"].startswith("Root=1-")
        assert seen["lambda-runtime-client-context"] == "e30="
        deadline = int(seen["lambda-runtime-deadline-ms"])
        assert 0 < deadline - time.time() * 1000 <= 5000
        env = answer["env"]
        assert env["AWS_LAMBDA_FUNCTION_NAME"] == "ric" and env["_HANDLER"] == "app.handler"
        assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
        assert "FAAS_SOCKET" not in env and "FAAS_LAMBDA_COMMAND" not in env

        status, headers, body = call(folder / "runtime.sock", b'{"fail": 1}', "call-2")
        assert status == 500 and headers["x-faas-function-error"] == "Unhandled"
        assert json.loads(body)["errorType"] == "ValueError"
    finally:
        shim.kill()
        out, _ = shim.communicate()
    assert b"[call-1] START RequestId: call-1" in out
    assert b"[call-1] handling call-1" in out  # the runtime's own output, tagged
    assert b"[call-2] REPORT RequestId: call-2" in out


def test_an_init_error_is_the_line_faas_looks_for(folder: Path) -> None:
    shim = start_shim(folder, FAIL_INIT="1")
    _, err = shim.communicate(timeout=20)
    assert shim.returncode == 5
    last = json.loads(err.decode().strip().splitlines()[-1])
    assert last == {
        "faas_init_error": {"code": "Runtime.ImportModuleError", "message": "no module app"}
    }

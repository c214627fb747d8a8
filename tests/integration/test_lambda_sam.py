"""A SAM template with the seeds' three Lambda patterns (API handler, SQS batch handler with
partial failures, scheduled job) deployed by `faas deploy template.yaml`, then called through
HTTP, boto3, `faas invoke --event` and its triggers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from tests.conftest import REPO, Gateway, wait_until
from tests.integration.test_queue import FAST_RETRIES, db

__all__ = ["db"]  # the fixture, re-used
boto3 = pytest.importorskip("boto3")

TEMPLATE = Path(__file__).parents[1] / "fixtures" / "sam" / "template.yaml"


def faas(
    gateway: Gateway, *args: str, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "faas", *args],
        cwd=REPO, env={**os.environ, **gateway.cli_env()}, input=input,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_a_sam_template_deploys_and_answers(
    make_gateway: Callable[..., Gateway], db: redis.Redis, tmp_path: Path
) -> None:
    gateway = make_gateway(**FAST_RETRIES)
    done = faas(gateway, "deploy", "-q", str(TEMPLATE))
    assert done.returncode == 0, done.stderr
    assert "deployed api-function" in done.stdout and "/function/api-function/hello" in done.stdout
    # What faas does not do is said, not silently dropped.
    assert "OrdersQueue: AWS::SQS::Queue resources are not deployed" in done.stderr
    assert "OrdersFunction.Policies: not used by faas" in done.stderr
    assert "ApiFunction.Environment.TABLE" in done.stderr  # a !Sub it cannot resolve

    # The API handler through plain HTTP (an HTTP API v2 event) ...
    response = gateway.http.get("/function/api-function/hello", params={"name": "sam"})
    assert response.status_code == 200, response.text
    assert response.json()["message"] == "hello, sam"  # !Ref to a parameter's Default
    assert response.json()["stage"] == "local"  # from Globals
    # ... and through boto3, with a generated event.
    generated = faas(gateway, "event", "generate", "apigateway", "--path", "/hello?name=boto")
    assert generated.returncode == 0, generated.stderr
    client = boto3.client(
        "lambda", endpoint_url=gateway.url, region_name="us-east-1",
        aws_access_key_id="admin", aws_secret_access_key=gateway.password or "x",
    )  # fmt: skip
    answer = client.invoke(FunctionName="api-function", Payload=generated.stdout)
    assert json.loads(json.loads(answer["Payload"].read())["body"])["message"] == "hello, boto"

    # The SQS batch handler: `faas invoke --event` with a generated SQS event ...
    event = faas(gateway, "event", "generate", "sqs", "--body", '{"id": 1, "bad": "yes"}').stdout
    (tmp_path / "sqs.json").write_text(event)
    invoked = faas(gateway, "invoke", "orders-function", "--event", str(tmp_path / "sqs.json"))
    assert invoked.returncode == 0, invoked.stderr
    message_id = json.loads(event)["Records"][0]["messageId"]
    assert json.loads(invoked.stdout) == {"batchItemFailures": [{"itemIdentifier": message_id}]}
    # ... and its queue: only the failed message is retried, then dead-lettered.
    ids = [db.xadd("sam-orders", {"id": str(n), "bad": "yes" if n == 1 else "no"}).decode()
           for n in range(3)]  # fmt: skip

    def dead() -> list[dict[str, object]]:
        letters = gateway.http.get("/system/dead-letters", params={"function": "orders-function"})
        return list(letters.json()["dead_letters"])

    wait_until(lambda: len(dead()) == 1, 60, 0.2)
    assert dead()[0]["source"] == {"stream": "sam-orders", "entry": ids[1]}
    lines = gateway.http.get("/system/logs/orders-function").json()["lines"]
    seen = [line.split("order ", 1)[1].split()[0] for line in lines if "order " in line]
    assert seen.count(ids[0]) == 1 and seen.count(ids[2]) == 1 and seen.count(ids[1]) == 3

    # The scheduled job gets EventBridge's scheduled event.
    def ticks() -> list[str]:
        lines = gateway.http.get("/system/logs/nightly-function").json()["lines"]
        return [line for line in lines if "tick Scheduled Event aws.events" in line]

    wait_until(lambda: len(ticks()) >= 2, 60, 0.2)

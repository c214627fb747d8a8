"""Task images (`contract: task`): one container per call, arguments in, stdout out, exit code
the status; sync and through the async queue; never a container left behind."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from tests.conftest import Gateway, run_containers, wait_until


def deploy_task(gateway: Gateway, user_image: Callable[[str], str], **manifest: object) -> None:
    image = user_image("task_echo")
    body = {"manifest": {"name": "vote", "image": image, "contract": "task", **manifest}}
    response = gateway.http.post("/system/functions", json={**body, "image": image})
    assert response.status_code in (200, 201), response.text


def containers() -> list[Any]:
    return run_containers({"faas.function": "vote"})


def test_arguments_in_stdout_out_and_nothing_left(
    gateway: Gateway, user_image: Callable[[str], str]
) -> None:
    deploy_task(gateway, user_image)
    ran = gateway.http.post("/function/vote", json=["voter-7", "yes", 3])
    assert ran.status_code == 200, ran.text
    assert ran.json() == {"args": ["voter-7", "yes", "3"]}
    assert ran.headers["x-faas-start"] == "cold" and "create;dur=" in ran.headers["server-timing"]
    by_query = gateway.http.get("/function/vote?arg=a&arg=b")
    assert by_query.json() == {"args": ["a", "b"]}
    bad = gateway.http.post("/function/vote", json={"voter": 7})
    assert bad.status_code == 400 and "body" in bad.text
    wait_until(lambda: containers() == [], 10, 0.02)  # removed right after each answer


def test_exit_codes_timeouts_and_oom(gateway: Gateway, user_image: Callable[[str], str]) -> None:
    deploy_task(gateway, user_image, timeout="1s", memory="48Mi")
    failed = gateway.http.post("/function/vote", json=["exit", "3"])
    assert failed.status_code == 502
    error = failed.json()["error"]
    assert error["code"] == "task_failed" and error["exit_code"] == 3
    assert "failing with 3" in error["stderr"]
    slow = gateway.http.post("/function/vote", json=["sleep", "30"])
    assert slow.status_code == 504, slow.text
    oom = gateway.http.post("/function/vote", json=["oom"])
    assert oom.status_code == 502 and oom.json()["error"]["code"] == "oom", oom.text
    wait_until(lambda: containers() == [], 10, 0.02)


def test_scale_max_bounds_concurrent_runs(
    make_gateway: Callable[..., Gateway], user_image: Callable[[str], str]
) -> None:
    gateway = make_gateway(FAAS_QUEUE_TIMEOUT="300ms")
    deploy_task(gateway, user_image, scale={"max": 1}, timeout="20s")
    statuses: list[int] = []
    first = threading.Thread(
        target=lambda: statuses.append(
            gateway.http.post("/function/vote", json=["sleep", "3"]).status_code
        )
    )
    first.start()
    wait_until(lambda: len(containers()) == 1, 20, 0.02)
    (running,) = containers()
    assert running.labels["faas.role"] == "task" and running.labels["faas.managed"] == "true"
    assert running.labels["faas.gateway"] == gateway.id and running.labels["faas.stack"]
    over = gateway.http.post("/function/vote", json=["x"])
    first.join()
    assert over.status_code == 429, over.text
    assert statuses == [200]
    wait_until(lambda: containers() == [], 10, 0.05)


def test_async_calls_go_through_the_queue(
    gateway: Gateway, user_image: Callable[[str], str]
) -> None:
    deploy_task(gateway, user_image)
    queued = gateway.http.post("/async-function/vote", json=["voter-9", "no"])
    assert queued.status_code == 202, queued.text
    call_id = queued.json()["call_id"]
    records: list[dict[str, Any]] = []

    def done() -> bool:
        response = gateway.http.get(f"/system/calls/{call_id}")
        records.append(response.json())
        return records[-1]["status"] in ("succeeded", "failed", "dead")

    wait_until(done, 60, 0.05)
    assert records[-1]["status"] == "succeeded", records[-1]
    assert json.loads(records[-1]["result"]["body"]) == {"args": ["voter-9", "no"]}
    wait_until(lambda: containers() == [], 10, 0.02)

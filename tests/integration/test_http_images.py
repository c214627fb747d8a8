"""HTTP images (`contract: http`): any image serving HTTP on a port, behind faas's whole pool."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker
import httpx

from tests.conftest import Gateway, run_containers, wait_until
from tests.integration.image_fixtures import IMAGES


def register_image(gateway: Gateway, image: str, **manifest: object) -> httpx.Response:
    body = {"manifest": {"name": "echo", "image": image, **manifest}, "image": image}
    return gateway.http.post("/system/functions", json=body)


def deploy_echo(gateway: Gateway, user_image: Callable[[str], str], **manifest: object) -> str:
    image = user_image("http_echo")
    response = register_image(gateway, image, **manifest)
    assert response.status_code in (200, 201), response.text
    return image


def containers() -> list[Any]:
    return run_containers({"faas.function": "echo"})


def start_kind(response: httpx.Response) -> str:
    assert response.status_code < 500, response.text
    return response.headers["x-faas-start"]


def test_cold_then_warm_over_one_kept_alive_container(
    gateway: Gateway, user_image: Callable[[str], str]
) -> None:
    deploy_echo(gateway, user_image, environment={"GREETING": "hi"})
    cold = gateway.http.post("/function/echo/some/path?x=1", content=b"payload")
    assert start_kind(cold) == "cold"
    assert "ready;dur=" in cold.headers["server-timing"]
    echo = cold.json()
    assert echo["path"] == "/some/path" and echo["query"] == "x=1"
    assert echo["body"] == "payload" and echo["method"] == "POST"
    assert echo["call_id"] == cold.headers["x-call-id"]
    assert echo["env"] == "hi"
    # Hardening stays on: faas's uid (not the image's USER 4242), read-only root filesystem.
    assert echo["uid"] == 10001 and echo["writable_root"] is False
    warm = gateway.http.get("/function/echo/")
    assert start_kind(warm) == "warm" and warm.json()["pid"] == echo["pid"]
    assert len(containers()) == 1
    (container,) = containers()
    config = docker.from_env().api.inspect_container(container.id)["HostConfig"]
    assert config["ReadonlyRootfs"] is True and config["CapDrop"] == ["ALL"]
    # Answers that are not Content-Length framed come through whole.
    assert gateway.http.get("/function/echo/chunked").text == "hello chunked world"
    assert gateway.http.get("/function/echo/close").text == "until close"
    assert start_kind(gateway.http.get("/function/echo/")) == "warm"


def test_relaxations_are_opt_in_and_described(
    gateway: Gateway, user_image: Callable[[str], str]
) -> None:
    deploy_echo(gateway, user_image, readonly_root_filesystem=False, image_user=True)
    echo = gateway.http.get("/function/echo/").json()
    assert echo["uid"] == 4242 and echo["writable_root"] is True
    described = gateway.http.get("/system/function/echo").json()
    assert described["contract"] == "http"
    assert any("writable root" in item for item in described["relaxed"])
    assert any("image's own user" in item for item in described["relaxed"])


def test_bad_manifests_and_missing_images_are_4xx_naming_the_field(
    gateway: Gateway, user_image: Callable[[str], str]
) -> None:
    image = user_image("http_echo")
    bad = register_image(gateway, image, port=70000)
    assert bad.status_code == 400 and "port" in bad.text
    bad = register_image(gateway, image, contract="soap")
    assert bad.status_code == 400 and "contract" in bad.text
    missing = register_image(gateway, "faas-test-nowhere:nope")
    assert missing.status_code == 400
    assert "image" in missing.text and "faas-test-nowhere:nope" in missing.text


def test_paused_container_resumes(
    make_gateway: Callable[..., Gateway], user_image: Callable[[str], str]
) -> None:
    gateway = make_gateway(FAAS_PAUSE_AFTER="300ms")
    deploy_echo(gateway, user_image)
    assert start_kind(gateway.http.get("/function/echo/")) == "cold"
    wait_until(
        lambda: gateway.http.get("/system/function/echo").json()["containers"]["paused"] == 1,
        10,
        0.05,
    )
    assert start_kind(gateway.http.get("/function/echo/")) == "paused"
    assert start_kind(gateway.http.get("/function/echo/")) == "warm"


def test_scale_max_gives_429_over_it(
    make_gateway: Callable[..., Gateway], user_image: Callable[[str], str]
) -> None:
    gateway = make_gateway(FAAS_QUEUE_TIMEOUT="300ms")
    deploy_echo(gateway, user_image, scale={"max": 1}, timeout="10s")
    statuses: list[int] = []

    def slow() -> None:
        statuses.append(gateway.http.get("/function/echo/sleep?s=2").status_code)

    first = threading.Thread(target=slow)
    first.start()
    wait_until(lambda: len(containers()) == 1, 20, 0.05)
    wait_until(
        lambda: gateway.http.get("/system/function/echo").json()["containers"]["busy"] == 1,
        20,
        0.05,
    )
    over = gateway.http.get("/function/echo/")
    first.join()
    assert over.status_code == 429, over.text
    assert statuses == [200]
    assert len(containers()) == 1


def test_crash_timeout_and_oom_are_explained_and_leave_nothing(
    gateway: Gateway, user_image: Callable[[str], str]
) -> None:
    deploy_echo(gateway, user_image, timeout="1s", memory="48Mi")
    crash = gateway.http.get("/function/echo/crash")
    assert crash.status_code == 502 and "exit code 3" in crash.text, crash.text
    assert start_kind(gateway.http.get("/function/echo/")) == "cold"  # a fresh one
    slow = gateway.http.get("/function/echo/sleep?s=5")
    assert slow.status_code == 504, slow.text
    oom = gateway.http.get("/function/echo/oom")
    assert oom.status_code == 502 and "out of memory" in oom.text, oom.text
    wait_until(lambda: not containers(), 20, 0.1)
    assert gateway.http.delete("/system/function/echo").status_code == 200


def test_faas_deploy_builds_a_folder_dockerfile_and_uses_local_images(
    gateway: Gateway, user_image: Callable[[str], str], tmp_path: Path, base_image: str
) -> None:
    folder = tmp_path / "web"
    shutil.copytree(IMAGES / "http_echo", folder)
    dockerfile = folder / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("faas-python:bookworm", base_image))
    (folder / "faas.yaml").write_text("name: echo\ncontract: http\nport: 8080\n")
    env = {**os.environ, **gateway.cli_env()}
    cli = [sys.executable, "-m", "faas"]
    done = subprocess.run([*cli, "deploy", str(folder)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    record = gateway.http.get("/system/function/echo").json()
    image = docker.from_env().images.get(record["image"])
    assert record["image"].startswith("faas/function:")
    assert image.labels["faas.managed"] == "true" and image.labels["faas.code-hash"]
    assert gateway.http.get("/function/echo/x").json()["path"] == "/x"
    described = subprocess.run([*cli, "describe", "echo"], env=env, capture_output=True, text=True)
    assert "contract:     http (port 8080)" in described.stdout, described.stderr
    assert "relaxed:      nothing" in described.stdout
    # Async calls go through the queue like any call.
    queued = gateway.http.post("/async-function/echo/queued", content=b"later")
    assert queued.status_code == 202, queued.text
    call_id = queued.json()["call_id"]
    records: list[dict[str, Any]] = []

    def done() -> bool:
        records.append(gateway.http.get(f"/system/calls/{call_id}").json())
        return records[-1]["status"] in ("succeeded", "failed", "dead")

    wait_until(done, 60, 0.05)
    assert records[-1]["status"] == "succeeded", records[-1]
    assert json.loads(records[-1]["result"]["body"])["body"] == "later"
    # `image:` names an existing local image; a missing one is a one-line error naming it.
    (folder / "faas.yaml").write_text(f"name: echo\nimage: {user_image('http_echo')}\n")
    done = subprocess.run([*cli, "deploy", str(folder)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert gateway.http.get("/system/function/echo").json()["image"] == user_image("http_echo")
    (folder / "faas.yaml").write_text("name: echo\nimage: faas-test-nowhere:1\n")
    done = subprocess.run([*cli, "deploy", str(folder)], env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "faas-test-nowhere:1" in done.stderr
    assert "image" in done.stderr and "Traceback" not in done.stderr

"""`faas new` templates end to end: each one's own unit test passes, it deploys with `faas deploy`
and answers through the gateway; `faas run` calls a folder once with no gateway at all."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from faas import keys
from faas.engines.docker import DockerBackend
from tests.conftest import Gateway

FAAS = str(Path(sys.executable).with_name("faas"))
HELLO_ADA = {"message": "Hello, Ada!"}


def faas(
    env: dict[str, str], *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FAAS, *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def images(base_image: str, node_base_image: str) -> dict[str, str]:
    return {"FAAS_BASE_IMAGE": base_image, "FAAS_NODE_BASE_IMAGE": node_base_image}


def own_test(folder: Path, lang: str, node_base_image: str) -> subprocess.CompletedProcess[str]:
    """The template's unit test: pytest here; `node --test` in the Node base image (CI has no
    Node.js of its own), the folder mounted read-only."""
    if lang != "node":
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=120)
    mount = f"{folder}:/fn:ro"
    command = ["docker", "run", "--rm", "--network", "none", "-v", mount, "-w", "/fn"]
    command += [node_base_image, "node", "--test"]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("lang", ["python", "python-lambda", "node", "dockerfile"])
def test_every_template_passes_its_own_test_deploys_and_answers(
    gateway: Gateway, images: dict[str, str], tmp_path: Path, lang: str
) -> None:
    env = {**gateway.cli_env(), **images}
    name = f"tpl-{lang}"
    created = faas(env, "new", name, "--lang", lang, "--dir", str(tmp_path))
    assert created.returncode == 0, created.stderr
    folder = tmp_path / name
    tested = own_test(folder, lang, images["FAAS_NODE_BASE_IMAGE"])
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "pass" in tested.stdout  # "2 passed" (pytest) or "# pass 2" (node --test)

    deployed = faas(env, "deploy", "-q", str(folder))
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    response = gateway.http.post(f"/function/{name}/hi", json={"name": "Ada"})
    assert response.status_code == 200, response.text
    if lang == "dockerfile":
        assert response.json()["message"] == f"Hello from {name}"
        assert (response.json()["method"], response.json()["path"]) == ("POST", "/hi")
    elif lang == "python-lambda":  # the handler got the API Gateway proxy event the gateway made
        assert response.json() == {"message": "Hello, world!"}
    else:
        assert response.json() == HELLO_ADA


@pytest.mark.parametrize("lang", ["python", "node"])
def test_faas_run_calls_a_folder_once_without_a_gateway_and_leaves_nothing(
    images: dict[str, str], tmp_path: Path, lang: str
) -> None:
    # No gateway and no Redis: a FAAS_GATEWAY nobody listens on proves neither is asked.
    env = {**images, "FAAS_HOME": str(tmp_path / "home"), "FAAS_GATEWAY": "http://127.0.0.1:9"}
    name = f"run-{lang}-{uuid.uuid4().hex[:6]}"
    assert faas(env, "new", name, "--lang", lang, "--dir", str(tmp_path)).returncode == 0
    result = faas(env, "run", str(tmp_path / name), "-d", '{"name": "Ada"}')
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.replace(" ", "") == '{"message":"Hello,Ada!"}\n'
    assert "greeting Ada" in result.stderr  # its log follows, tagged with the call id
    assert "] greeting Ada" in result.stderr
    assert DockerBackend().list_managed({keys.LABEL_FUNCTION: name}) == []


def test_faas_run_reports_an_init_failure_with_the_functions_message(
    images: dict[str, str], tmp_path: Path
) -> None:
    env = {**images, "FAAS_HOME": str(tmp_path / "home")}
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "faas.yaml").write_text("name: broken-run\nlang: node\n")
    (folder / "handler.js").write_text("exports.nothere = () => 1;\n")
    result = faas(env, "run", "-q", str(folder))
    assert result.returncode == 1
    assert "Runtime.HandlerNotFound: Handler 'handle' missing on module 'handler'" in result.stderr
    assert DockerBackend().list_managed({keys.LABEL_FUNCTION: "broken-run"}) == []

"""Deploy fails fast: a function that cannot load is not deployed, with its own message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from faas.engines.docker import DockerBackend
from tests.conftest import Gateway, free_port
from tests.integration.test_cli import faas, write_function

OK = "def handle(event, context):\n    return 'ok'\n"


@pytest.mark.parametrize(
    ("body", "manifest", "message"),
    [
        (
            "def handle(event, context)\n    return 1\n",
            "",
            "Syntax error in module 'handler': expected ':' "
            "(/opt/faas/function/handler.py, line 1)",
        ),
        (OK, "handler: handler.hadle\n", "Handler 'hadle' missing on module 'handler'"),
        (
            "import no_such_library\n" + OK,
            "",
            "Unable to import module 'handler': No module named 'no_such_library'",
        ),
        ("raise RuntimeError('config missing')\n" + OK, "", "RuntimeError: config missing"),
    ],
    ids=["syntax", "handler-name", "missing-module", "raises"],
)
def test_each_broken_function_fails_its_deploy_with_its_own_message(
    gateway: Gateway,
    tmp_path: Path,
    base_image: str,
    docker_backend: DockerBackend,
    body: str,
    manifest: str,
    message: str,
) -> None:
    folder = write_function(tmp_path / "broken", "broken", body)
    with (folder / "faas.yaml").open("a") as file:
        file.write(manifest)
    env = {**gateway.cli_env(), "FAAS_BASE_IMAGE": base_image}
    result = faas("deploy", str(folder), env=env)
    assert result.returncode == 1, result.stdout
    assert message in result.stderr
    assert "Traceback" not in result.stderr.split(message)[0]  # the message comes first
    assert "deployed" not in result.stdout
    with gateway.client() as client:
        assert all(r["name"] != "broken" for r in client.functions())
    assert not docker_backend.list_managed({"faas.role": "check", "faas.function": "broken"})


def test_a_missing_dependency_fails_the_deploy(
    gateway: Gateway, tmp_path: Path, base_image: str
) -> None:
    """requirements.txt installs nothing the handler needs: its import fails at deploy."""
    folder = write_function(tmp_path / "nodep", "nodep", "import yaml\n" + OK)
    (folder / "requirements.txt").write_text("\n")  # a deps stage, but no PyYAML in it
    env = {**gateway.cli_env(), "FAAS_BASE_IMAGE": base_image}
    result = faas("deploy", str(folder), env=env)
    assert result.returncode == 1
    assert "No module named 'yaml'" in result.stderr


def test_a_good_function_deploys_quietly_and_verbose_shows_the_log(
    gateway: Gateway, tmp_path: Path, base_image: str
) -> None:
    folder = write_function(tmp_path / "fine", "fine", OK)
    env = {**gateway.cli_env(), "FAAS_BASE_IMAGE": base_image}
    quiet = faas("deploy", str(folder), env=env)
    assert quiet.returncode == 0, quiet.stderr
    assert len(quiet.stdout.splitlines()) == 1 and quiet.stdout.startswith("deployed fine (")
    assert "Step" not in quiet.stdout + quiet.stderr
    loud = faas("deploy", "-v", str(folder), env=env)
    assert "up to date" in loud.stdout and "importing handler.handle" in loud.stdout


def test_cpus_beyond_the_host_are_refused_naming_the_field(
    gateway: Gateway, tmp_path: Path, base_image: str
) -> None:
    folder = write_function(tmp_path / "greedy", "greedy", OK)
    with (folder / "faas.yaml").open("a") as file:
        file.write("cpus: 64\n")
    env = {**gateway.cli_env(), "FAAS_BASE_IMAGE": base_image}
    result = faas("deploy", str(folder), env=env)
    assert result.returncode == 1
    assert "cpus" in result.stderr and "more than this host has" in result.stderr
    response = gateway.http.post(
        "/system/functions",
        json={"manifest": {"name": "greedy", "cpus": 64}, "image": "x", "code_hash": "y"},
    )
    assert response.status_code == 400
    assert "cpus" in response.json()["error"]["message"]


def test_a_stopped_gateway_is_said_before_building(tmp_path: Path) -> None:
    folder = write_function(tmp_path / "early", "early", OK)
    env = {"FAAS_GATEWAY": f"http://127.0.0.1:{free_port()}", "FAAS_BASE_IMAGE": "no-such:image"}
    result = faas("deploy", "-v", str(folder), env=env)
    assert result.returncode == 1
    assert "does not answer" in result.stderr
    assert "building" not in result.stdout  # nothing was built


def test_deploy_returns_once_a_generic_runtime_can_serve_a_new_shape(
    make_gateway: Callable[..., Gateway], tmp_path: Path, base_image: str
) -> None:
    """A dependency-free function with a memory/CPU shape no other function has: the first
    call after `faas deploy` is served by a generic runtime, not a cold start."""
    gateway = make_gateway(FAAS_GENERIC_POOL="1", FAAS_BASE_IMAGE=base_image)
    folder = write_function(tmp_path / "shaped", "shaped", OK)
    with (folder / "faas.yaml").open("a") as file:
        file.write("cpus: 0.37\n")  # a shape of its own
    env = {**gateway.cli_env(), "FAAS_BASE_IMAGE": base_image}
    assert faas("deploy", str(folder), env=env).returncode == 0
    first = gateway.http.post("/function/shaped")
    assert first.status_code == 200, first.text
    assert first.headers["x-faas-start"] == "prewarm"

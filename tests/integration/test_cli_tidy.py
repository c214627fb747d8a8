"""`-o json`, `faas remove` naming what happens to the image, and `faas prune`."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from faas.engines.docker import DockerBackend
from tests.conftest import Gateway
from tests.integration.test_cli import faas, write_function


def unique_function(tmp_path: Path, name: str) -> Path:
    """Code no other test builds: its image is this test's alone (images are shared by
    content across every stack on this Docker)."""
    marker = uuid.uuid4().hex
    body = f"MARK = {marker!r}\n\ndef handle(event, context):\n    return MARK\n"
    return write_function(tmp_path / name, name, body)


def test_list_describe_and_status_speak_json(
    gateway: Gateway, tmp_path: Path, base_image: str
) -> None:
    env = {**gateway.cli_env(), "FAAS_BASE_IMAGE": base_image}
    assert faas("deploy", str(unique_function(tmp_path, "js")), env=env).returncode == 0
    listed = json.loads(faas("list", "-o", "json", env=env).stdout)
    assert [r["name"] for r in listed] == ["js"]
    described = json.loads(faas("describe", "js", "-o", "json", env=env).stdout)
    assert described["config"]["memory"] == "64Mi" and described["url"].endswith("/function/js")
    status = faas("status", "-o", "json", env=env)
    assert status.returncode == 0
    assert json.loads(status.stdout)["gateway_ok"] is True


def test_remove_names_the_image_and_prune_removes_only_unused_ones(
    gateway: Gateway, tmp_path: Path, base_image: str, docker_backend: DockerBackend
) -> None:
    env = {**gateway.cli_env(), "FAAS_BASE_IMAGE": base_image}
    images = {}
    for name in ("keep", "drop"):
        deployed = faas("deploy", str(unique_function(tmp_path, name)), env=env)
        assert deployed.returncode == 0, deployed.stderr
        images[name] = json.loads(faas("describe", name, "-o", "json", env=env).stdout)["image"]

    removed = faas("remove", "drop", env=env)
    assert removed.returncode == 0
    assert f"its image {images['drop']} is kept (`faas prune` removes it)" in removed.stdout

    dry = faas("prune", "--dry-run", images["keep"], images["drop"], env=env)
    assert f"would remove  {images['drop']}" in dry.stdout
    assert docker_backend.image_exists(images["drop"])

    pruned = faas("prune", images["keep"], images["drop"], env=env)
    assert pruned.returncode == 0, pruned.stderr
    assert f"kept     {images['keep']}  (used by keep)" in pruned.stdout
    assert f"removed  {images['drop']}" in pruned.stdout
    assert "removed 1 image(s); kept 1" in pruned.stdout
    assert not docker_backend.image_exists(images["drop"])
    assert docker_backend.image_exists(images["keep"])
    assert faas("invoke", "keep", env=env).returncode == 0

"""Function and generic runtime images on real Docker: labels, and code read back out of them."""

from __future__ import annotations

import io
import tarfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from faas import keys
from faas.build.code_bundle import files_from_tar, ineligible_reason
from faas.build.images import RUNTIME_DIR, RUNTIME_PACKAGE, build_runtime_image, runtime_files
from faas.engines.docker import DockerBackend
from tests.conftest import FIXTURES

Build = Callable[[Path], tuple[dict[str, Any], Any]]


@pytest.fixture
def probe_labels(docker_backend: DockerBackend) -> Iterator[dict[str, str]]:
    """Labels unique to this test for read_archive's containers; none may be left behind."""
    labels = {keys.LABEL_MANAGED: "true", keys.LABEL_ROLE: f"test-archive-{uuid.uuid4().hex}"}
    yield labels
    assert docker_backend.list_managed(labels) == []


def test_runtime_image_is_built_once_per_base(
    docker_backend: DockerBackend, base_image: str
) -> None:
    first = build_runtime_image(docker_backend, base_image=base_image)
    again = build_runtime_image(docker_backend, base_image=base_image)
    assert again.tag == first.tag and not again.built
    labels = docker_backend.image_labels(first.tag)
    assert labels is not None and labels[keys.LABEL_ROLE] == keys.ROLE_GENERIC
    assert labels[keys.LABEL_BASE_IMAGE] == docker_backend.image_id(base_image)


def test_runtime_image_has_compiled_runtime_and_no_code_folder(
    docker_backend: DockerBackend, base_image: str, probe_labels: dict[str, str]
) -> None:
    tag = build_runtime_image(docker_backend, base_image=base_image).tag
    archive = docker_backend.read_archive(tag, RUNTIME_DIR, probe_labels)
    assert archive is not None
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        names = set(tar.getnames())
    for source in runtime_files():  # each one copied and compiled (the image is read-only)
        assert f"runtime/{RUNTIME_PACKAGE}/{source.name}" in names
        compiled = f"runtime/{RUNTIME_PACKAGE}/__pycache__/{source.stem}.cpython-"
        assert any(name.startswith(compiled) for name in names), compiled
    # The code folder is a tmpfs created at run time (see faas.builder._FINAL_STAGE).
    assert docker_backend.read_archive(tag, "/opt/faas/function", probe_labels) is None


def test_function_image_code_reads_back_with_its_bytecode(
    docker_backend: DockerBackend, base_image: str, build: Build, probe_labels: dict[str, str]
) -> None:
    _, built = build(FIXTURES / "echo")  # no requirements.txt
    labels = docker_backend.image_labels(built.tag)
    base_id = docker_backend.image_id(base_image)
    assert labels is not None and base_id is not None
    assert labels[keys.LABEL_DEPS] == "false" and labels[keys.LABEL_BASE_IMAGE] == base_id
    assert ineligible_reason(labels, base_id) is None

    archive = docker_backend.read_archive(built.tag, "/opt/faas/function", probe_labels)
    assert archive is not None
    paths = [f.path for f in files_from_tar(archive)]
    assert "handler.py" in paths
    assert any(p.startswith("__pycache__/handler.") and p.endswith(".pyc") for p in paths)
    assert docker_backend.read_archive(built.tag, "/opt/faas/deps", probe_labels) is None


def test_missing_image_has_no_labels(docker_backend: DockerBackend) -> None:
    assert docker_backend.image_labels(f"faas/no-such-image:{uuid.uuid4().hex[:12]}") is None

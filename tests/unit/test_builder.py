from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from faas.builder import build_function_image, render_dockerfile
from faas.errors import BuildError


class FakeDocker:
    """Records builds; images 'exist' once built."""

    def __init__(self, base_id: str | None = "sha256:base") -> None:
        self.images: dict[str, str] = {} if base_id is None else {"base:1": base_id}
        self.builds: list[tuple[str, dict[str, bytes]]] = []

    def image_id(self, ref: str) -> str | None:
        return self.images.get(ref)

    def build_image(
        self, context: io.BytesIO, tag: str, labels: dict[str, str], progress: Callable[[str], None]
    ) -> str:
        with tarfile.open(fileobj=context) as tar:
            files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
        self.builds.append((tag, files))
        self.images[tag] = "sha256:" + tag
        progress("built")
        return self.images[tag]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "faas.yaml").write_text("name: f\n")
    (tmp_path / "handler.py").write_text("def handle(e, c):\n    return 1\n")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "util.py").write_text("X = 1\n")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"junk")
    return tmp_path


def test_context_holds_code_runtime_and_dockerfile(folder: Path) -> None:
    docker = FakeDocker()
    built = build_function_image(docker, folder, "f", base_image="base:1")
    assert built.built and built.tag.startswith("faas/f:")
    ((_, files),) = docker.builds
    assert set(files) == {"Dockerfile", "runtime.py", "function/handler.py", "function/lib/util.py"}
    assert b"USER 10001:10001" in files["Dockerfile"]


def test_unchanged_code_is_not_rebuilt_and_manifest_changes_do_not_count(folder: Path) -> None:
    docker = FakeDocker()
    first = build_function_image(docker, folder, "f", base_image="base:1")
    (folder / "faas.yaml").write_text("name: f\ntimeout: 5s\n")
    second = build_function_image(docker, folder, "f", base_image="base:1")
    assert second.tag == first.tag and not second.built
    assert len(docker.builds) == 1


def test_code_or_base_changes_rebuild(folder: Path) -> None:
    docker = FakeDocker()
    first = build_function_image(docker, folder, "f", base_image="base:1")
    (folder / "lib" / "util.py").write_text("X = 2\n")
    second = build_function_image(docker, folder, "f", base_image="base:1")
    docker.images["base:1"] = "sha256:newbase"
    third = build_function_image(docker, folder, "f", base_image="base:1")
    assert len({first.tag, second.tag, third.tag}) == 3


def test_requirements_install_in_a_stage_that_alone_sees_the_ca(
    folder: Path, tmp_path: Path
) -> None:
    (folder / "requirements.txt").write_text("redis\n")
    ca = tmp_path / "ca.pem"
    ca.write_text("CERT")
    docker = FakeDocker()
    build_function_image(docker, folder, "f", base_image="base:1", ca_bundle=str(ca))
    ((_, files),) = docker.builds
    dockerfile = files["Dockerfile"].decode()
    deps, final = dockerfile.split("\nFROM base:1\n")
    assert "AS deps" in deps and "ca.pem" in deps and "pip install" in deps
    assert "ca.pem" not in final and "COPY --from=deps /opt/faas/deps /opt/faas/deps" in final
    assert files["ca.pem"] == b"CERT"


def test_no_requirements_means_no_deps_stage_and_no_ca() -> None:
    dockerfile = render_dockerfile("base:1", has_requirements=False, with_ca=False)
    assert "AS deps" not in dockerfile and "pip" not in dockerfile


def test_missing_ca_file_is_a_clear_error(folder: Path) -> None:
    (folder / "requirements.txt").write_text("redis\n")
    with pytest.raises(BuildError, match="FAAS_BUILD_CA_BUNDLE"):
        build_function_image(
            FakeDocker(), folder, "f", base_image="base:1", ca_bundle="/no/such.pem"
        )


def test_missing_base_image_hints_at_bootstrap(folder: Path) -> None:
    class Failing(FakeDocker):
        def build_image(self, *args: object, **kwargs: object) -> str:
            raise BuildError("pull access denied")

    with pytest.raises(BuildError, match="faas images bootstrap"):
        build_function_image(Failing(base_id=None), folder, "f", base_image="base:1")

from __future__ import annotations

import io
import json
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from faas import keys
from faas.build import images
from faas.build.images import (
    RUNTIME_SOURCE,
    BuiltImage,
    build_function_image,
    build_runtime_image,
    render_dockerfile,
    runtime_command,
    runtime_files,
)
from faas.errors import BuildError

RUNTIME_FILES = {f"runtime/{path.name}" for path in runtime_files()}


class FakeDocker:
    """Records builds; images 'exist' once built."""

    def __init__(self, base_id: str | None = "sha256:base") -> None:
        self.images: dict[str, str] = {} if base_id is None else {"base:1": base_id}
        self.builds: list[tuple[str, dict[str, bytes]]] = []
        self.labels: dict[str, dict[str, str]] = {}

    def image_id(self, ref: str) -> str | None:
        return self.images.get(ref)

    def build_image(
        self, context: io.BytesIO, tag: str, labels: dict[str, str], progress: Callable[[str], None]
    ) -> str:
        with tarfile.open(fileobj=context) as tar:
            files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
        self.builds.append((tag, files))
        self.labels[tag] = labels
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
    assert built.built and built.tag.startswith("faas/function:")
    ((_, files),) = docker.builds
    code = {"function/handler.py", "function/lib/util.py"}
    assert set(files) == {"Dockerfile", *RUNTIME_FILES, *code}
    assert b"USER 10001:10001" in files["Dockerfile"]


def test_unchanged_code_is_not_rebuilt_and_manifest_changes_do_not_count(folder: Path) -> None:
    docker = FakeDocker()
    first = build_function_image(docker, folder, "f", base_image="base:1")
    (folder / "faas.yaml").write_text("name: f\ntimeout: 5s\n")
    second = build_function_image(docker, folder, "f", base_image="base:1")
    assert second.tag == first.tag and not second.built
    assert len(docker.builds) == 1


def test_functions_with_the_same_code_share_one_image(
    folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    docker = FakeDocker()
    first = build_function_image(docker, folder, "f", base_image="base:1")
    copy = tmp_path_factory.mktemp("copy")
    (copy / "faas.yaml").write_text("name: g\n")
    (copy / "handler.py").write_bytes((folder / "handler.py").read_bytes())
    (copy / "lib").mkdir()
    (copy / "lib" / "util.py").write_bytes((folder / "lib" / "util.py").read_bytes())
    second = build_function_image(docker, copy, "g", base_image="base:1")
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


# -- labels for generic runtimes -----------------------------------------------------------


def test_function_image_labels_say_no_deps_and_which_base(folder: Path) -> None:
    docker = FakeDocker()
    built = build_function_image(docker, folder, "f", base_image="base:1")
    assert docker.labels[built.tag] == {
        keys.LABEL_MANAGED: "true",
        keys.LABEL_CODE_HASH: built.code_hash,
        keys.LABEL_DEPS: "false",
        keys.LABEL_BASE_IMAGE: "sha256:base",
    }


def test_function_image_with_requirements_is_labelled_with_deps(folder: Path) -> None:
    (folder / "requirements.txt").write_text("redis\n")
    docker = FakeDocker()
    built = build_function_image(docker, folder, "f", base_image="base:1")
    assert docker.labels[built.tag][keys.LABEL_DEPS] == "true"


def test_unknown_base_image_is_labelled_empty(folder: Path) -> None:
    docker = FakeDocker(base_id=None)
    built = build_function_image(docker, folder, "f", base_image="base:1")
    assert docker.labels[built.tag][keys.LABEL_BASE_IMAGE] == ""


# -- the generic runtime image -------------------------------------------------------------


def test_runtime_image_has_the_runtime_and_no_function_code() -> None:
    docker = FakeDocker()
    built = build_runtime_image(docker, base_image="base:1")
    assert built.built and built.tag == f"faas/runtime:{built.code_hash[:12]}"
    ((tag, files),) = docker.builds
    assert tag == built.tag and set(files) == {"Dockerfile", *RUNTIME_FILES}
    assert files["runtime/main.py"] == (RUNTIME_SOURCE / "main.py").read_bytes()
    assert docker.labels[tag] == {
        keys.LABEL_MANAGED: "true",
        keys.LABEL_ROLE: keys.ROLE_GENERIC,
        keys.LABEL_BASE_IMAGE: "sha256:base",
    }


def test_runtime_dockerfile_is_the_function_final_stage_without_code() -> None:
    docker = FakeDocker()
    build_runtime_image(docker, base_image="base:1")
    ((_, files),) = docker.builds
    runtime = files["Dockerfile"].decode().splitlines()
    function = render_dockerfile("base:1", has_requirements=False, with_ca=False).splitlines()
    copy = "COPY runtime/ /opt/faas/runtime/faas_runtime/"
    assert runtime[0] == "FROM base:1" and copy in runtime and copy in function
    assert not any("function/" in line and "COPY" in line for line in runtime)
    (run,) = [line for line in runtime if line.startswith("RUN ")]
    # No code folder (its tmpfs must create it): only the runtime is compiled.
    assert run == "RUN python3 -m compileall -q /opt/faas/runtime"
    (env,) = [line for line in runtime if line.startswith("ENV ")]
    assert env.split()[1:] == [
        "PYTHONUNBUFFERED=1",
        "PYTHONDONTWRITEBYTECODE=1",
        "HOME=/tmp",
        "FAAS_GENERIC=1",
    ]
    run_as = ["USER 10001:10001", f"CMD {json.dumps(runtime_command())}"]
    assert runtime[-2:] == function[-2:] == run_as
    assert (runtime[-3], function[-3]) == ("WORKDIR /tmp", "WORKDIR /opt/faas/function")


def test_runtime_image_tag_is_stable_and_reused_until_the_base_changes() -> None:
    docker = FakeDocker()
    first = build_runtime_image(docker, base_image="base:1")
    assert build_runtime_image(FakeDocker(), base_image="base:1").tag == first.tag
    progress: list[str] = []
    second = build_runtime_image(docker, base_image="base:1", progress=progress.append)
    assert second == BuiltImage(first.tag, first.code_hash, built=False)
    assert any("up to date" in line for line in progress) and len(docker.builds) == 1
    docker.images["base:1"] = "sha256:newbase"
    third = build_runtime_image(docker, base_image="base:1")
    assert third.built and third.tag != first.tag


def test_any_runtime_file_is_in_the_tags(
    folder: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = build_function_image(FakeDocker(), folder, "f", base_image="base:1").tag
    generic = build_runtime_image(FakeDocker(), base_image="base:1").tag
    copy = tmp_path_factory.mktemp("copy") / "runtime"  # not in `folder`: that is the code
    shutil.copytree(RUNTIME_SOURCE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(images, "RUNTIME_SOURCE", copy)
    assert build_function_image(FakeDocker(), folder, "f", base_image="base:1").tag == before
    with (copy / "pool.py").open("a") as file:  # a module only some functions ever import
        file.write("# changed\n")
    assert build_function_image(FakeDocker(), folder, "f", base_image="base:1").tag != before
    assert build_runtime_image(FakeDocker(), base_image="base:1").tag != generic


def test_runtime_image_never_pulls_a_missing_base() -> None:
    docker = FakeDocker(base_id=None)
    with pytest.raises(BuildError, match=r"not present locally.*faas images bootstrap"):
        build_runtime_image(docker, base_image="base:1")
    assert docker.builds == []

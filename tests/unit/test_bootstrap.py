"""bootstrap_base_image with a fake importer and a fake `mmdebstrap` first on PATH."""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path

import pytest

from faas.build.bootstrap import (
    DEFAULT_TAG,
    IMAGE_CHANGES,
    PACKAGES,
    bootstrap_base_image,
    split_ref,
)
from faas.errors import BuildError, FaasError

FAKE_OK = """#!/bin/sh
# Fake mmdebstrap: record the arguments, print progress, write a tiny tarball to the last one.
printf '%s\\n' "$@" > "$(dirname "$0")/args.txt"
echo "I: fake mmdebstrap starting"
echo "I: downloading packages..."
for target; do :; done
tar -cf "$target" -C "$(dirname "$0")" marker.txt
echo "I: success"
"""

FAKE_FAIL = """#!/bin/sh
echo "I: fake mmdebstrap starting"
echo "E: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease" >&2
echo "E: apt-get update failed"
exit 1
"""

FAKE_NO_OUTPUT_FILE = """#!/bin/sh
echo "I: pretending to work"
"""


class FakeImporter:
    def __init__(self, existing: set[str] | None = None, fail: Exception | None = None) -> None:
        self.existing = set(existing or ())
        self.fail = fail
        self.imports: list[tuple[Path, str, str, list[str]]] = []
        self.members: list[str] = []

    def image_exists(self, ref: str) -> bool:
        return ref in self.existing

    def import_image(self, tarball: Path, repository: str, tag: str, changes: list[str]) -> str:
        self.imports.append((tarball, repository, tag, changes))
        if self.fail is not None:
            raise self.fail
        with tarfile.open(tarball) as tar:
            self.members = tar.getnames()
        self.existing.add(f"{repository}:{tag}")
        return "sha256:0123456789ab"


@pytest.fixture
def scratch_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point tempfile at a private directory so cleanup can be checked."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


def fake_mmdebstrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "marker.txt").write_text("rootfs\n")
    exe = bindir / "mmdebstrap"
    exe.write_text(script)
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    return bindir


def test_existing_image_is_reused_without_running_mmdebstrap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no mmdebstrap at all: must not be needed
    importer = FakeImporter(existing={DEFAULT_TAG})
    lines: list[str] = []
    assert bootstrap_base_image(importer, progress=lines.append) == DEFAULT_TAG
    assert importer.imports == []
    assert any("reusing" in line for line in lines)


def test_builds_imports_and_streams_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scratch_tmp: Path
) -> None:
    bindir = fake_mmdebstrap(tmp_path, monkeypatch, FAKE_OK)
    importer = FakeImporter()
    lines: list[str] = []

    assert bootstrap_base_image(importer, progress=lines.append) == DEFAULT_TAG

    [(tarball, repository, tag, changes)] = importer.imports
    assert (repository, tag) == ("faas-python", "bookworm")
    assert tarball.name == "rootfs.tar"
    assert importer.members == ["marker.txt"]
    assert changes == IMAGE_CHANGES
    assert "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" in changes
    assert "ENV LANG=C.UTF-8" in changes
    assert "ENV PIP_BREAK_SYSTEM_PACKAGES=1" in changes
    assert 'CMD ["python3"]' in changes
    assert "I: downloading packages..." in lines
    assert "I: success" in lines
    args = (bindir / "args.txt").read_text().splitlines()
    assert args == ["--variant=apt", "--include=" + ",".join(PACKAGES), "bookworm", str(tarball)]
    assert "python3-minimal" not in PACKAGES
    assert list(scratch_tmp.iterdir()) == []  # temp dir removed


def test_force_rebuilds_an_existing_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_mmdebstrap(tmp_path, monkeypatch, FAKE_OK)
    importer = FakeImporter(existing={"mine:v1"})
    assert bootstrap_base_image(importer, tag="mine:v1", suite="trixie", force=True) == "mine:v1"
    [(_, repository, tag, _)] = importer.imports
    assert (repository, tag) == ("mine", "v1")
    assert "trixie" in (tmp_path / "bin" / "args.txt").read_text().splitlines()


def test_missing_mmdebstrap_says_how_to_fix_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BuildError) as info:
        bootstrap_base_image(FakeImporter())
    message = str(info.value)
    assert "\n" not in message
    assert "apt-get install -y mmdebstrap" in message
    assert "FAAS_BASE_IMAGE" in message
    assert isinstance(info.value, FaasError)


def test_failing_mmdebstrap_raises_with_its_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scratch_tmp: Path
) -> None:
    fake_mmdebstrap(tmp_path, monkeypatch, FAKE_FAIL)
    importer = FakeImporter()
    lines: list[str] = []
    with pytest.raises(BuildError) as info:
        bootstrap_base_image(importer, progress=lines.append)
    message = str(info.value)
    assert "exit status 1" in message
    assert "E: Failed to fetch" in message  # stderr is captured too
    assert "E: apt-get update failed" in message
    assert "E: apt-get update failed" in lines
    assert importer.imports == []
    assert list(scratch_tmp.iterdir()) == []


def test_mmdebstrap_without_tarball_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_mmdebstrap(tmp_path, monkeypatch, FAKE_NO_OUTPUT_FILE)
    with pytest.raises(BuildError, match=r"rootfs\.tar"):
        bootstrap_base_image(FakeImporter())


def test_temp_dir_removed_when_import_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scratch_tmp: Path
) -> None:
    fake_mmdebstrap(tmp_path, monkeypatch, FAKE_OK)
    importer = FakeImporter(fail=BuildError("docker import failed"))
    with pytest.raises(BuildError, match="docker import failed"):
        bootstrap_base_image(importer)
    assert list(scratch_tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("faas-python:bookworm", ("faas-python", "bookworm")),
        ("faas-python", ("faas-python", "latest")),
        ("localhost:5000/faas-python", ("localhost:5000/faas-python", "latest")),
        ("localhost:5000/faas-python:v2", ("localhost:5000/faas-python", "v2")),
    ],
)
def test_split_ref(ref: str, expected: tuple[str, str]) -> None:
    assert split_ref(ref) == expected

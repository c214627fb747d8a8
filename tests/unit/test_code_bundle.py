from __future__ import annotations

import base64
import io
import json
import tarfile

import pytest

from faas import keys
from faas.build.code_bundle import (
    CodeFile,
    CodeTooLarge,
    files_from_tar,
    ineligible_reason,
    load_request,
)


def _tar(*members: tuple[str, bytes | None], symlink: str | None = None) -> bytes:
    """A tar like Docker's get_archive of /opt/faas/function; data None makes a directory."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
        if symlink is not None:
            info = tarfile.TarInfo(symlink)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
    return buffer.getvalue()


def test_regular_files_without_the_folder_name_sorted_by_path() -> None:
    data = _tar(
        ("function", None),
        ("function/lib", None),
        ("function/lib/util.py", b"X = 1\n"),
        ("function/handler.py", b"def handle(e, c): ...\n"),
        ("function/__pycache__", None),
        ("function/__pycache__/handler.cpython-311.pyc", b"\x00pyc"),
    )
    files = files_from_tar(data)
    assert [f.path for f in files] == [
        "__pycache__/handler.cpython-311.pyc",
        "handler.py",
        "lib/util.py",
    ]
    assert files[1] == CodeFile("handler.py", 0o644, 1_700_000_000, b"def handle(e, c): ...\n")


def test_symlinks_are_skipped() -> None:
    data = _tar(("function/handler.py", b"x"), symlink="function/secret")
    assert [f.path for f in files_from_tar(data)] == ["handler.py"]


@pytest.mark.parametrize("name", ["function/../escape.py", "/function/handler.py"])
def test_unsafe_member_names_are_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="unsafe path"):
        files_from_tar(_tar((name, b"x")))


def test_code_over_the_limit_is_too_large() -> None:
    data = _tar(("function/a.py", b"a" * 60), ("function/b.py", b"b" * 60))
    assert len(files_from_tar(data, limit=120)) == 2
    with pytest.raises(CodeTooLarge):
        files_from_tar(data, limit=119)


def test_load_request_is_one_http_request_with_a_json_body() -> None:
    files = [
        CodeFile("handler.py", 0o644, 1_700_000_000, b"def handle(e, c): ...\n"),
        CodeFile("__pycache__/handler.cpython-311.pyc", 0o644, 1_700_000_001, b"\x00\xffpyc"),
    ]
    raw = load_request(
        function="echo", handler="handler.handle", concurrency=4, env={"A": "1"}, files=files
    )
    head, body = raw.split(b"\r\n\r\n", 1)
    request_line, *header_lines = head.decode("ascii").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    assert request_line == "POST /_/load HTTP/1.1"
    assert headers == {"content-type": "application/json", "content-length": str(len(body))}
    spec = json.loads(body)
    assert {k: spec[k] for k in ("function", "handler", "concurrency", "env")} == {
        "function": "echo",
        "handler": "handler.handle",
        "concurrency": 4,
        "env": {"A": "1"},
    }
    decoded = [
        CodeFile(f["path"], f["mode"], f["mtime"], base64.b64decode(f["data"], validate=True))
        for f in spec["files"]
    ]
    assert decoded == files


LABELS = {keys.LABEL_DEPS: "false", keys.LABEL_BASE_IMAGE: "sha256:base"}


@pytest.mark.parametrize(
    ("labels", "reason"),
    [
        (LABELS, None),
        (None, "image not found"),
        ({keys.LABEL_MANAGED: "true"}, "built before generic runtimes"),
        ({**LABELS, keys.LABEL_DEPS: "true"}, "has its own dependencies (requirements.txt)"),
        ({**LABELS, keys.LABEL_BASE_IMAGE: "sha256:other"}, "built on another base image"),
        ({**LABELS, keys.LABEL_BASE_IMAGE: ""}, "built on another base image"),
    ],
)
def test_ineligible_reason(labels: dict[str, str] | None, reason: str | None) -> None:
    assert ineligible_reason(labels, "sha256:base") == reason

"""A function folder's code as `faas dev` pushes it (`PUT /system/function/{name}/code`), and
the check the gateway makes of what arrives.

The files are those an image build copies (same ignore rules, the manifest left out: it is
applied at registration, not loaded), sent as JSON with base64 data. The gateway turns them into
the `CodeFile`s a generic runtime's load request carries (faas.build.code_bundle).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from pathlib import Path, PurePosixPath
from typing import Any

from faas.build.code_bundle import MAX_CODE_BYTES, CodeFile
from faas.build.images import REQUIREMENTS, _function_files
from faas.errors import BadRequest, PayloadTooLarge

MAX_FILES = 2000


def folder_code(folder: Path) -> list[CodeFile]:
    """The code files of a function folder, as an image build would copy them."""
    files = []
    for path in _function_files(folder):
        rel = path.relative_to(folder).as_posix()
        if rel == REQUIREMENTS:
            continue
        stat = path.stat()
        mode = 0o755 if stat.st_mode & 0o111 else 0o644  # as the image build makes them
        files.append(CodeFile(rel, mode, int(stat.st_mtime), path.read_bytes()))
    return files


def code_hash(files: list[CodeFile]) -> str:
    """What identifies the code: paths, modes and contents (not mtimes)."""
    digest = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.path):
        digest.update(f"{f.path}\0{f.mode}\0{len(f.data)}\0".encode() + f.data)
    return digest.hexdigest()


def to_json(files: list[CodeFile]) -> dict[str, Any]:
    return {
        "code_hash": code_hash(files),
        "files": [
            {"path": f.path, "mode": f.mode, "data": base64.b64encode(f.data).decode("ascii")}
            for f in files
        ],
    }


def from_json(payload: object, now: int) -> tuple[str, list[CodeFile]]:
    """(code hash, files) of a push; BadRequest naming the field, PayloadTooLarge over
    MAX_CODE_BYTES. `now` is the mtime given to every file: newer than any .pyc in the image."""
    if not isinstance(payload, dict) or not isinstance(payload.get("files"), list):
        raise BadRequest('files: the body must be a JSON object {"files": [{"path", "data"}]}')
    items: list[Any] = payload["files"]
    if not items or len(items) > MAX_FILES:
        raise BadRequest(f"files: 1 to {MAX_FILES} files, got {len(items)}")
    files: list[CodeFile] = []
    total = 0
    seen: set[str] = set()
    for index, item in enumerate(items):
        field = f"files[{index}]"
        if not isinstance(item, dict):
            raise BadRequest(f"{field}: must be an object with path and data")
        path = _path(item.get("path"), f"{field}.path")
        if path in seen:
            raise BadRequest(f"{field}.path: {path!r} appears twice")
        seen.add(path)
        mode = item.get("mode", 0o644)
        if isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= 0o777:
            raise BadRequest(f"{field}.mode: permission bits from 0 to 0o777, got {mode!r}")
        data = item.get("data")
        if not isinstance(data, str):
            raise BadRequest(f"{field}.data: must be a base64 string")
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest(f"{field}.data: not valid base64") from None
        total += len(raw)
        if total > MAX_CODE_BYTES:
            raise PayloadTooLarge(f"files: more than {MAX_CODE_BYTES} bytes of code")
        files.append(CodeFile(path, mode, now, raw))
    return code_hash(files), sorted(files, key=lambda f: f.path)


def _path(value: object, field: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 255:
        raise BadRequest(f"{field}: a relative path of 1 to 255 characters")
    pure = PurePosixPath(value)
    if (
        pure.is_absolute()
        or ".." in pure.parts
        or "\0" in value
        or "\\" in value
        or pure.as_posix() != value
    ):
        raise BadRequest(f"{field}: {value!r} must be a plain relative path (a/b.py)")
    return value

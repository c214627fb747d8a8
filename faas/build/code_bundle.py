"""A function's code as a generic runtime container loads it (`POST /_/load`).

The gateway copies /opt/faas/function out of the function's image once (a tar from Docker),
turns it into files here, and sends them with the function's settings in one load request.
The .pyc files compiled at build time travel with their sources: modes and mtimes are kept,
so the runtime's imports find them valid instead of compiling again.
"""

from __future__ import annotations

import base64
import json
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import PurePosixPath

from faas import keys

MAX_CODE_BYTES = 4 * 1024 * 1024


class CodeTooLarge(ValueError):
    """The function's files exceed what a load request may carry."""


@dataclass(frozen=True)
class CodeFile:
    path: str  # relative to the function folder, '/'-separated
    mode: int  # permission bits
    mtime: int
    data: bytes


def files_from_tar(data: bytes, limit: int = MAX_CODE_BYTES) -> list[CodeFile]:
    """The regular files of a `get_archive` tar of the function folder, sorted by path.

    Member names start with the folder's own name (`function/...`); that component is dropped.
    """
    files: list[CodeFile] = []
    total = 0
    with tarfile.open(fileobj=BytesIO(data), mode="r:") as tar:
        for member in tar:
            rel = _relative(member.name)
            # Directories come back implied by the file paths. Symlinks, hard links and device
            # nodes are skipped: the runtime writes plain files only, and a link could point
            # outside the folder.
            if not member.isreg() or rel is None:
                continue
            total += member.size
            if total > limit:
                raise CodeTooLarge(f"function code is over {limit} bytes")
            content = tar.extractfile(member)
            assert content is not None  # a regular member always has content
            files.append(CodeFile(rel, member.mode & 0o7777, int(member.mtime), content.read()))
    return sorted(files, key=lambda f: f.path)


def _relative(name: str) -> str | None:
    """`function/a/b.py` -> `a/b.py`; None for the folder itself; ValueError if unsafe."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise ValueError(f"unsafe path in code archive: {name!r}")
    rest = path.parts[1:]
    return "/".join(rest) if rest else None


def load_request(
    *,
    function: str,
    handler: str,
    concurrency: int,
    env: Mapping[str, str],
    files: Sequence[CodeFile],
) -> bytes:
    """The complete HTTP/1.1 `POST /_/load` request (head and JSON body)."""
    body = json.dumps(
        {
            "function": function,
            "handler": handler,
            "concurrency": concurrency,
            "env": dict(env),
            "files": [
                {
                    "path": f.path,
                    "mode": f.mode,
                    "mtime": f.mtime,
                    "data": base64.b64encode(f.data).decode("ascii"),
                }
                for f in files
            ],
        },
        separators=(",", ":"),
    ).encode()
    head = (
        "POST /_/load HTTP/1.1\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


def ineligible_reason(labels: Mapping[str, str] | None, base_id: str) -> str | None:
    """Why an image with `labels` cannot be served by a generic runtime built on `base_id`.

    None when it can: it has no dependencies of its own and the same base image.
    """
    if labels is None:
        return "image not found"
    if keys.LABEL_DEPS not in labels or keys.LABEL_BASE_IMAGE not in labels:
        return "built before generic runtimes"
    if labels[keys.LABEL_DEPS] != "false":
        return "has its own dependencies (requirements.txt)"
    if not base_id or labels[keys.LABEL_BASE_IMAGE] != base_id:
        return "built on another base image"
    return None

"""The stack's id kept outside Redis too: `$FAAS_HOME/stack-id`.

Containers carry the stack id as a label (`keys.LABEL_STACK`); Redis holds it for every gateway
(`keys.STACK_ID`). Were Redis the only place, a Redis that lost its data (FLUSHALL, a new
volume) would hand out a new id and the running containers would be nobody's for good. With the
file, gateways and `faas down` put the old id back and still find and reclaim them.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from pathlib import Path

_ID = re.compile(r"[0-9a-f]{6,64}")


def stack_id_file(home: Path) -> Path:
    return home / "stack-id"


def read_stack_id(home: Path) -> str:
    """The id last seen by a process using this FAAS_HOME; "" when none (or unreadable)."""
    try:
        text = stack_id_file(home).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return text if _ID.fullmatch(text) else ""


def write_stack_id(home: Path, stack_id: str) -> None:
    """Remember `stack_id` (written aside, then renamed: readers never see half a file)."""
    if read_stack_id(home) == stack_id:
        return
    home.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=home, prefix=".stack-id.")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(stack_id + "\n")
        os.replace(temporary, stack_id_file(home))
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)

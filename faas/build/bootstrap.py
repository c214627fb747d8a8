"""Build a Python base image from Debian packages, without a container registry.

`docker pull python:3.12-slim` needs a registry; an air-gapped machine has none. This module
builds an equivalent image with `mmdebstrap` (a Debian root filesystem with python3, pip and venv,
written as a tarball) and imports the tarball through the Docker backend. The result is used by
setting FAAS_BASE_IMAGE to the returned tag. `faas images bootstrap` is the command that calls it.

Debian's pip refuses to install into the system interpreter (PEP 668), so the image sets
PIP_BREAK_SYSTEM_PACKAGES=1: function builds run `pip install --target`, which it permits.
"""

from __future__ import annotations

import collections
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from faas.errors import BuildError

DEFAULT_TAG = "faas-python:bookworm"

# python3-minimal alone lacks most of the standard library (no http.server).
PACKAGES = ("python3", "python3-pip", "python3-venv", "ca-certificates")

# `lang: node` functions (FAAS_NODE_BASE_IMAGE): Debian's nodejs, nothing from npm.
NODE_TAG = "faas-node:bookworm"
NODE_PACKAGES = ("nodejs", "ca-certificates")
NODE_CHANGES = [
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["node"]',
]

IMAGE_CHANGES = [
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    "ENV PIP_BREAK_SYSTEM_PACKAGES=1",
    'CMD ["python3"]',
]

_OUTPUT_TAIL = 15  # lines of mmdebstrap output quoted in a BuildError

MISSING_MMDEBSTRAP = (
    "mmdebstrap is not installed: run `apt-get install -y mmdebstrap` (as root), "
    "or set FAAS_BASE_IMAGE to an image you can pull"
)


class ImageImporter(Protocol):
    """The part of the Docker backend that bootstrapping needs."""

    def image_exists(self, ref: str) -> bool:
        """Whether an image `ref` (name:tag or id) is present locally."""
        ...

    def import_image(self, tarball: Path, repository: str, tag: str, changes: list[str]) -> str:
        """Import a root-filesystem tarball as `repository:tag` with Dockerfile-style
        `changes`; return the image id."""
        ...


def split_ref(ref: str) -> tuple[str, str]:
    """Split `name[:tag]` into (repository, tag); a registry port is not a tag."""
    repository, sep, tag = ref.rpartition(":")
    if not sep or "/" in tag or not repository:
        return ref, "latest"
    return repository, tag


def mmdebstrap_command(
    suite: str,
    target: Path,
    executable: str = "mmdebstrap",
    packages: tuple[str, ...] = PACKAGES,
) -> list[str]:
    """The mmdebstrap invocation that writes the root filesystem of `suite` to `target`."""
    return [
        executable,
        "--variant=apt",
        "--include=" + ",".join(packages),
        suite,
        str(target),
    ]


def bootstrap_base_image(
    backend: ImageImporter,
    *,
    tag: str = DEFAULT_TAG,
    suite: str = "bookworm",
    force: bool = False,
    progress: Callable[[str], None] = lambda line: None,
    packages: tuple[str, ...] = PACKAGES,
    changes: tuple[str, ...] | list[str] = tuple(IMAGE_CHANGES),
) -> str:
    """Build (or reuse, unless force) the base image; return its tag. `packages` and `changes`
    default to the Python image's (NODE_PACKAGES and NODE_CHANGES make the Node.js one)."""
    if not force and backend.image_exists(tag):
        progress(f"{tag} already exists; reusing it (force to rebuild)")
        return tag
    executable = shutil.which("mmdebstrap")
    if executable is None:
        raise BuildError(MISSING_MMDEBSTRAP)
    repository, image_tag = split_ref(tag)
    with tempfile.TemporaryDirectory(prefix="faas-bootstrap-") as tmp:
        tarball = Path(tmp) / "rootfs.tar"
        command = mmdebstrap_command(suite, tarball, executable, packages)
        progress(f"building a Debian {suite} root filesystem with mmdebstrap")
        _run_streaming(command, progress)
        if not tarball.is_file():
            raise BuildError(f"mmdebstrap exited 0 but wrote no {tarball.name}")
        progress(f"importing the root filesystem as {repository}:{image_tag}")
        image_id = backend.import_image(tarball, repository, image_tag, list(changes))
    progress(f"built {repository}:{image_tag} ({image_id})")
    return f"{repository}:{image_tag}"


def _run_streaming(command: list[str], progress: Callable[[str], None]) -> None:
    """Run `command`, passing each output line to `progress`; BuildError when it fails."""
    tail: collections.deque[str] = collections.deque(maxlen=_OUTPUT_TAIL)
    try:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,  # mmdebstrap reads sources.list from stdin if told to
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
        )
    except OSError as exc:
        raise BuildError(f"cannot run mmdebstrap: {exc}") from exc
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            tail.append(line)
            progress(line)
        returncode = proc.wait()
    finally:
        if proc.poll() is None:  # interrupted (e.g. Ctrl-C): do not leave it running
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    if returncode != 0:
        hint = ""
        if hasattr(os, "geteuid") and os.geteuid() != 0:
            hint = " (mmdebstrap needs root, or unprivileged user namespaces; try it as root)"
        output = "\n".join(tail) or "(no output)"
        raise BuildError(f"mmdebstrap failed with exit status {returncode}{hint}:\n{output}")

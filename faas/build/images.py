"""Function images: a build context from the function folder plus the in-container runtime.

The tag is a hash of everything that goes into the image (code, requirements, runtime, base
image id, Dockerfile, labels), so an unchanged folder is never rebuilt, and functions with the
same code, requirements and base share one image: neither the tag nor the labels name a
function. The manifest is not part of the image: timeouts, limits and environment are applied
when a container is created, so changing them re-registers without a build.

The generic runtime image is the final stage without any function code: its containers load a
function's code on their first call, for functions that need nothing but the base image.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from faas import keys
from faas.errors import BuildError
from faas.manifest.spec import MANIFEST_FILE

RUNTIME_SOURCE = Path(__file__).parent.parent / "runtime"  # the package, copied as it is
RUNTIME_DIR = "/opt/faas/runtime"  # in images: holds only the package, on sys.path at start only
RUNTIME_PACKAGE = "faas_runtime"  # the package's name in images: no handler's module is named so
REQUIREMENTS = "requirements.txt"
IMAGE_REPOSITORY = "faas"
RUNTIME_REPOSITORY = f"{IMAGE_REPOSITORY}/runtime"
FUNCTION_REPOSITORY = f"{IMAGE_REPOSITORY}/function"
_IGNORED_DIRS = {
    "__pycache__",
    ".git",
    ".venv",
    "venv",
    ".mypy_cache",
    ".pytest_cache",
    "node_modules",
}
_IGNORED_SUFFIXES = (".pyc", ".pyo")

# The CA bundle and pip run only in the `deps` stage; the final stage copies the installed
# packages, so the host's CA never ends up in the function image.
_DEPS_STAGE = """\
FROM {base} AS deps
COPY requirements.txt /tmp/requirements.txt
{ca_copy}RUN PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1 {ca_env}\\
    python3 -m pip install --no-cache-dir --target /opt/faas/deps -r /tmp/requirements.txt

"""

# The final stage of both images. A function image copies the function's code and compiles it;
# the generic runtime image (FAAS_GENERIC=1) has no code folder: a tmpfs is mounted there at run
# time and the code arrives with its first call (`POST /_/load`). The folder must not exist in
# the image (nor be its WORKDIR): over an existing directory Docker gives the tmpfs that
# directory's owner and mode (root, 0755) and ignores `mode=`, so the runtime could not write.
# Bytecode is compiled at build time (the root filesystem is read-only at run time): the runtime
# starts from its .pyc files (compiling it at every start cost ~2 MiB of idle RSS), by the
# command of `runtime_command`.
_FINAL_STAGE = """\
FROM {base}
{deps_copy}COPY runtime/ {runtime_dir}/{runtime_package}/
{function_copy}RUN {prepare_function}python3 -m compileall -q {runtime_dir}
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 HOME=/tmp{extra_env}
WORKDIR {workdir}
USER 10001:10001
CMD {command}
"""
_FUNCTION_CODE = {
    "function_copy": "COPY function/ /opt/faas/function/\n",
    "prepare_function": "python3 -m compileall -q /opt/faas/function >/dev/null || true; \\\n    ",
    "extra_env": "",
    "workdir": "/opt/faas/function",
}
_NO_CODE = {
    "function_copy": "",
    "prepare_function": "",
    "extra_env": " FAAS_GENERIC=1",
    "workdir": "/tmp",  # the runtime changes into the code folder once it has loaded
}


def runtime_command(folder: str = RUNTIME_DIR) -> list[str]:
    """How an image starts the runtime whose package is at `folder`/faas_runtime.

    -P keeps the working directory (the function's folder) off sys.path, so the package is only
    found in `folder`, which the runtime then removes: none of its modules can stand in for
    the function's, nor the function's for its. -c rather than -m, whose runpy costs ~5 ms.
    """
    start = f"import sys; sys.path.insert(0, {folder!r}); from {RUNTIME_PACKAGE}.main import main"
    return ["python3", "-s", "-P", "-c", f"{start}; main()"]


def runtime_files() -> list[Path]:
    """The runtime package's source files, all copied into every image."""
    return sorted(RUNTIME_SOURCE.glob("*.py"))


class ImageBuilder(Protocol):
    """The part of the Docker backend the builder needs."""

    def image_id(self, ref: str) -> str | None: ...

    def build_image(
        self, context: io.BytesIO, tag: str, labels: dict[str, str], progress: Callable[[str], None]
    ) -> str: ...


@dataclass(frozen=True)
class BuiltImage:
    tag: str
    code_hash: str
    built: bool  # False when the image already existed


def build_function_image(
    backend: ImageBuilder,
    folder: Path,
    name: str,
    *,
    base_image: str,
    ca_bundle: str = "",
    progress: Callable[[str], None] = lambda line: None,
) -> BuiltImage:
    """Build (or reuse) the image for the code in `folder`; `name` only labels progress lines."""
    base_id = backend.image_id(base_image)
    if base_id is None:
        progress(f"base image {base_image} is not present locally; Docker will try to pull it")
    files = list(_function_files(folder))
    has_requirements = (folder / REQUIREMENTS).is_file()
    ca = Path(ca_bundle) if ca_bundle and has_requirements else None
    if ca is not None and not ca.is_file():
        raise BuildError(f"FAAS_BUILD_CA_BUNDLE: {ca} is not a file")
    dockerfile = render_dockerfile(base_image, has_requirements, ca is not None)
    # What the image says about its contents: a generic runtime on the same base can serve it
    # when it has no dependencies. Hashed, so images built before these labels get them.
    content = {
        keys.LABEL_DEPS: "true" if has_requirements else "false",
        keys.LABEL_BASE_IMAGE: base_id or "",
    }
    code_hash = _hash(dockerfile, base_id or base_image, content, folder, files)
    tag = f"{FUNCTION_REPOSITORY}:{code_hash[:12]}"
    if _up_to_date(backend, tag, progress):
        return BuiltImage(tag, code_hash, built=False)
    progress(f"building {tag} for {name}")
    context = _context(dockerfile, folder, files, ca)
    labels = {keys.LABEL_MANAGED: "true", keys.LABEL_CODE_HASH: code_hash, **content}
    try:
        backend.build_image(context, tag, labels, progress)
    except BuildError as exc:
        if base_id is None:
            raise BuildError(
                f"{exc.message}\nbase image {base_image} is missing and could not be pulled: "
                "run `faas images bootstrap` and set FAAS_BASE_IMAGE to the tag it prints"
            ) from exc
        raise
    return BuiltImage(tag, code_hash, built=True)


def build_runtime_image(
    backend: ImageBuilder,
    *,
    base_image: str,
    progress: Callable[[str], None] = lambda line: None,
) -> BuiltImage:
    """Build (or reuse) the generic runtime image: the base image, the runtime, no code."""
    base_id = backend.image_id(base_image)
    if base_id is None:
        # Never pulled here: the base id must be known, as function images are matched on it.
        raise BuildError(
            f"base image {base_image} is not present locally: run `faas images bootstrap` "
            "and set FAAS_BASE_IMAGE to the tag it prints"
        )
    dockerfile = render_runtime_dockerfile(base_image)
    labels = {
        keys.LABEL_MANAGED: "true",
        keys.LABEL_ROLE: keys.ROLE_GENERIC,
        keys.LABEL_BASE_IMAGE: base_id,
    }
    code_hash = _hash(dockerfile, base_id, labels)
    tag = f"{RUNTIME_REPOSITORY}:{code_hash[:12]}"
    if _up_to_date(backend, tag, progress):
        return BuiltImage(tag, code_hash, built=False)
    backend.build_image(_context(dockerfile), tag, labels, progress)
    return BuiltImage(tag, code_hash, built=True)


def _up_to_date(backend: ImageBuilder, tag: str, progress: Callable[[str], None]) -> bool:
    if backend.image_id(tag) is None:
        return False
    progress(f"{tag} is up to date (code unchanged)")
    return True


def render_dockerfile(base_image: str, has_requirements: bool, with_ca: bool) -> str:
    deps = ""
    if has_requirements:
        deps = _DEPS_STAGE.format(
            base=base_image,
            ca_copy="COPY ca.pem /tmp/ca.pem\n" if with_ca else "",
            ca_env="PIP_CERT=/tmp/ca.pem SSL_CERT_FILE=/tmp/ca.pem " if with_ca else "",
        )
    deps_copy = "COPY --from=deps /opt/faas/deps /opt/faas/deps\n" if has_requirements else ""
    return deps + _final_stage(base_image, deps_copy, _FUNCTION_CODE)


def render_runtime_dockerfile(base_image: str) -> str:
    return _final_stage(base_image, "", _NO_CODE)


def _final_stage(base_image: str, deps_copy: str, code: dict[str, str]) -> str:
    return _FINAL_STAGE.format(
        base=base_image,
        deps_copy=deps_copy,
        runtime_dir=RUNTIME_DIR,
        runtime_package=RUNTIME_PACKAGE,
        command=json.dumps(runtime_command()),
        **code,
    )


def _function_files(folder: Path) -> Iterable[Path]:
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part in _IGNORED_DIRS for part in rel.parts) or path.suffix in _IGNORED_SUFFIXES:
            continue
        if path.is_file() and rel.as_posix() != MANIFEST_FILE:
            yield path


def _hash(
    dockerfile: str,
    base: str,
    labels: dict[str, str],
    folder: Path = Path(),
    files: Iterable[Path] = (),
) -> str:
    digest = hashlib.sha256()
    label_text = json.dumps(labels, sort_keys=True).encode()
    for part in (dockerfile.encode(), base.encode(), label_text, _runtime_bytes()):
        digest.update(len(part).to_bytes(8, "big") + part)
    for path in files:
        data = path.read_bytes()
        rel = path.relative_to(folder).as_posix()
        header = f"{rel}\0{path.stat().st_mode & 0o111}\0{len(data)}\0".encode()
        digest.update(header + data)
    return digest.hexdigest()


def _runtime_bytes() -> bytes:
    """Every runtime file, named: a change to any of them changes the image tags."""
    parts = []
    for path in runtime_files():
        data = path.read_bytes()
        parts.append(f"{path.name}\0{len(data)}\0".encode() + data)
    return b"".join(parts)


def _context(
    dockerfile: str, folder: Path | None = None, files: Iterable[Path] = (), ca: Path | None = None
) -> io.BytesIO:
    """The build context; without `folder`, the generic runtime's (no function code)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        _add_bytes(tar, "Dockerfile", dockerfile.encode())
        for path in runtime_files():
            _add_bytes(tar, f"runtime/{path.name}", path.read_bytes())
        if folder is not None:
            _add_function(tar, folder, files)
        if ca is not None:
            _add_bytes(tar, "ca.pem", ca.read_bytes())
    buffer.seek(0)
    return buffer


def _add_function(tar: tarfile.TarFile, folder: Path, files: Iterable[Path]) -> None:
    for path in files:
        arcname = f"function/{path.relative_to(folder).as_posix()}"
        tar.add(path, arcname=arcname, recursive=False, filter=_readable)
    if (folder / REQUIREMENTS).is_file():
        _add_bytes(tar, REQUIREMENTS, (folder / REQUIREMENTS).read_bytes())


def _readable(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Root-owned and world-readable: the function runs as an unprivileged uid."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o755 if info.mode & 0o111 else 0o644
    return info


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))

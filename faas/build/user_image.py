"""The image of an image function (`contract: http` or `task`, faas.manifest.images).

With `image:` in faas.yaml, that local image is used as it is (never pulled: a missing one is a
ManifestError naming it). Otherwise the folder's own Dockerfile is built with the folder as its
context (faas.yaml left out, as for handler folders), tagged and labelled like every faas
function image (`faas/function:<hash>`, faas.managed, faas.code-hash) and reused while the
folder is unchanged.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from faas import keys
from faas.build.images import FUNCTION_REPOSITORY, BuiltImage, ImageBuilder, _function_files
from faas.errors import ManifestError
from faas.manifest.spec import FunctionSpec

DOCKERFILE = "Dockerfile"


class UserImageBuilder(ImageBuilder, Protocol):
    def image_exists(self, ref: str) -> bool: ...


def build_user_image(
    backend: UserImageBuilder,
    folder: Path,
    spec: FunctionSpec,
    progress: Callable[[str], None] = lambda line: None,
) -> BuiltImage:
    """The image to register for an image function's folder (see the module doc)."""
    if spec.image:
        if not backend.image_exists(spec.image):
            raise ManifestError(
                "image",
                f"{spec.image!r} is not a local image: `docker pull` or `docker build` it first",
            )
        progress(f"using the local image {spec.image}")
        return BuiltImage(spec.image, "", built=False)
    if not (folder / DOCKERFILE).is_file():
        raise ManifestError(
            "contract",
            f"`contract: {spec.contract}` needs `image: repo:tag` in faas.yaml or a "
            f"{DOCKERFILE} in {folder}",
        )
    files = list(_function_files(folder))
    code_hash = _hash(folder, files)
    tag = f"{FUNCTION_REPOSITORY}:{code_hash[:12]}"
    if backend.image_id(tag) is not None:
        progress(f"{tag} is up to date (folder unchanged)")
        return BuiltImage(tag, code_hash, built=False)
    progress(f"building {tag} for {spec.name} from its {DOCKERFILE}")
    labels = {keys.LABEL_MANAGED: "true", keys.LABEL_CODE_HASH: code_hash}
    backend.build_image(_context(folder, files), tag, labels, progress)
    return BuiltImage(tag, code_hash, built=True)


def _hash(folder: Path, files: list[Path]) -> str:
    digest = hashlib.sha256(b"user-image\0")
    for path in files:
        data = path.read_bytes()
        rel = path.relative_to(folder).as_posix()
        digest.update(f"{rel}\0{path.stat().st_mode & 0o111}\0{len(data)}\0".encode() + data)
    return digest.hexdigest()


def _context(folder: Path, files: list[Path]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in files:
            tar.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
    buffer.seek(0)
    return buffer

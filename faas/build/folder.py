"""A function folder built into an image: its manifest validated (errors name the file and the
field), then the image built or reused, then its handler imported once (faas.build.
handler_check). Used by `faas deploy` and by a gateway deploying FAAS_DEPLOY folders at start
(compose)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from faas.build.handler_check import CheckBackend, check_handler
from faas.build.images import BuiltImage, build_function_image
from faas.build.node_image import build_node_image
from faas.build.user_image import UserImageBuilder, build_user_image
from faas.errors import ManifestError
from faas.manifest.openfaas import NODE
from faas.manifest.spec import MANIFEST_FILE, FunctionSpec, load_manifest
from faas.settings import Settings


def read_folder(folder: Path) -> FunctionSpec:
    """The folder's manifest, validated; errors name the file and the field."""
    try:
        return load_manifest(folder)
    except ManifestError as exc:
        if not exc.field:
            raise  # file-level problems already name the file
        raise ManifestError(exc.field, f"{folder / MANIFEST_FILE}: {exc.message}") from None


class FolderBackend(UserImageBuilder, CheckBackend, Protocol):
    """What building and checking a folder needs of the Docker backend."""


def build_folder(
    backend: FolderBackend,
    folder: Path,
    settings: Settings,
    progress: Callable[[str], None] = lambda line: None,
    *,
    check: bool = True,
) -> tuple[FunctionSpec, BuiltImage]:
    """Validate the folder's manifest (errors name the file and the field), build or reuse,
    then (with `check`) import the handler once: a function that cannot load is not deployed."""
    spec = read_folder(folder)
    if not spec.on_runtime:  # an image function: its own Dockerfile, or `image:`
        return spec, build_user_image(backend, folder, spec, progress)
    if spec.lang == NODE:
        base = settings.node_base_image
        built = build_node_image(backend, folder, spec.name, base_image=base, progress=progress)
        return spec, built
    built = build_function_image(
        backend,
        folder,
        spec.name,
        base_image=settings.base_image,
        ca_bundle=settings.build_ca_bundle,
        progress=progress,
    )
    if check:
        progress(f"importing {spec.handler}")
        check_handler(backend, built.tag, spec)
    return spec, built

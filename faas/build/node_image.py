"""Function images for `lang: node`: the function folder plus faas's Node.js runtime
(faas/runtime_node/runtime.js, Node's standard library only) on FAAS_NODE_BASE_IMAGE.

Built and tagged as Python function images are (faas.build.images): the tag is a hash of
everything that goes in, so an unchanged folder is never rebuilt. npm dependencies are not
installed: a package.json may say `"type": "module"`, but one with `dependencies` is refused
at build time rather than failing at the first call.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

from faas import keys
from faas.build.images import (
    FUNCTION_REPOSITORY,
    BuiltImage,
    ImageBuilder,
    _add_bytes,
    _function_files,
    _hash,
    _readable,
    _up_to_date,
)
from faas.errors import BuildError

NODE_RUNTIME = Path(__file__).parent.parent / "runtime_node" / "runtime.js"
NODE_RUNTIME_PATH = "/opt/faas/runtime/runtime.js"
PACKAGE_JSON = "package.json"

# Same layout, user and working directory as a Python function image (faas.pool.hardening).
_DOCKERFILE = """\
FROM {base}
COPY runtime.js {runtime}
COPY function/ /opt/faas/function/
ENV HOME=/tmp NODE_ENV=production
WORKDIR /opt/faas/function
USER 10001:10001
CMD {command}
"""


def node_command() -> list[str]:
    return ["node", NODE_RUNTIME_PATH]


def render_node_dockerfile(base_image: str) -> str:
    return _DOCKERFILE.format(
        base=base_image, runtime=NODE_RUNTIME_PATH, command=json.dumps(node_command())
    )


def check_package_json(folder: Path) -> None:
    """BuildError for npm dependencies, which the image would not have."""
    path = folder / PACKAGE_JSON
    if not path.is_file():
        return
    try:
        package = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BuildError(f"{path} is not valid JSON: {exc}") from None
    wanted = package.get("dependencies") if isinstance(package, dict) else None
    if wanted:
        names = ", ".join(sorted(wanted)) if isinstance(wanted, dict) else str(wanted)
        raise BuildError(
            f"{path}: npm dependencies ({names}) are not supported yet; a Node.js function "
            "may use Node's standard library and its own files only"
        )


def build_node_image(
    backend: ImageBuilder,
    folder: Path,
    name: str,
    *,
    base_image: str,
    progress: Callable[[str], None] = lambda line: None,
) -> BuiltImage:
    """Build (or reuse) the image for the Node.js function in `folder`."""
    check_package_json(folder)
    base_id = backend.image_id(base_image)
    if base_id is None:
        progress(f"base image {base_image} is not present locally; Docker will try to pull it")
    files = list(_function_files(folder))
    dockerfile = render_node_dockerfile(base_image)
    # The labels generic runtimes match on: a Node image never shares the Python base's id
    # (and faas.pool.generic leaves `lang: node` functions alone in any case).
    content = {keys.LABEL_DEPS: "false", keys.LABEL_BASE_IMAGE: base_id or ""}
    runtime = NODE_RUNTIME.read_text(encoding="utf-8")
    code_hash = _hash(dockerfile + runtime, base_id or base_image, content, folder, files)
    tag = f"{FUNCTION_REPOSITORY}:{code_hash[:12]}"
    if _up_to_date(backend, tag, progress):
        return BuiltImage(tag, code_hash, built=False)
    progress(f"building {tag} for {name} (node)")
    labels = {keys.LABEL_MANAGED: "true", keys.LABEL_CODE_HASH: code_hash, **content}
    try:
        backend.build_image(_context(dockerfile, folder, files), tag, labels, progress)
    except BuildError as exc:
        if base_id is None:
            raise BuildError(
                f"{exc.message}\nbase image {base_image} is missing and could not be pulled: "
                "run `faas images bootstrap-node` and set FAAS_NODE_BASE_IMAGE to the tag it prints"
            ) from exc
        raise
    return BuiltImage(tag, code_hash, built=True)


def _context(dockerfile: str, folder: Path, files: list[Path]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        _add_bytes(tar, "Dockerfile", dockerfile.encode())
        _add_bytes(tar, "runtime.js", NODE_RUNTIME.read_bytes())
        for path in files:
            arcname = f"function/{path.relative_to(folder).as_posix()}"
            tar.add(path, arcname=arcname, recursive=False, filter=_readable)
    buffer.seek(0)
    return buffer

"""Before `faas up` starts anything: the base image every function is built on is here.

Missing, it is pulled; the bootstrap tag (faas-python:bookworm, which no registry has) is built
from Debian packages as `faas images bootstrap` does, its progress shown. When neither works,
`faas up` stops before starting Redis or a gateway, with the one command line that fixes it:
the gateway would otherwise come up with generic runtimes off and every deploy would fail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from faas.build.bootstrap import DEFAULT_TAG, ImageImporter, bootstrap_base_image
from faas.errors import FaasError, StackError


class BaseImageBackend(ImageImporter, Protocol):
    def pull_image(self, ref: str, progress: Callable[[str], None]) -> None: ...


def bootstrap_hint(rerun: str) -> str:
    """The one command line that builds the base image without a registry and uses it."""
    return f"export FAAS_BASE_IMAGE=$(faas images bootstrap) && {rerun}"


def ensure_base_image(
    backend: BaseImageBackend,
    base_image: str,
    echo: Callable[[str], None],
    rerun: str = "faas up",
) -> None:
    """Return once `base_image` is present locally; StackError saying what to run if not."""
    if backend.image_exists(base_image):
        return
    if base_image == DEFAULT_TAG:
        echo(f"building the base image {base_image} from Debian packages (a few minutes, once)")
        try:
            bootstrap_base_image(backend, tag=base_image, progress=lambda line: echo(f"  {line}"))
        except FaasError as exc:
            raise StackError(
                f"the base image {base_image} is missing and could not be built: {exc.message}"
            ) from None
        return
    echo(f"pulling the base image {base_image}")
    try:
        backend.pull_image(base_image, lambda line: echo(f"  {line}"))
    except FaasError as exc:
        reason = exc.message.splitlines()[0]
        raise StackError(
            f"the base image {base_image} (FAAS_BASE_IMAGE) is not here and could not be "
            f"pulled: {reason}\nnothing was started. Without a registry, build it from "
            f"Debian packages and use it:\n  {bootstrap_hint(rerun)}"
        ) from None
    if not backend.image_exists(base_image):  # pragma: no cover - Docker said it pulled it
        raise StackError(f"pulling {base_image} left no image: {bootstrap_hint(rerun)}")

"""The Node.js base image and Node function deploys, for tests of `lang: node`.

FAAS_NODE_BASE_IMAGE when it is present locally; otherwise faas-node:bookworm, built once with
mmdebstrap from Debian's nodejs as `faas images bootstrap-node` does (about 90 s; no registry
needed, so CI builds it the same way) and kept for the next runs.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from faas.build.bootstrap import NODE_CHANGES, NODE_PACKAGES, NODE_TAG, bootstrap_base_image
from faas.build.folder import build_folder
from faas.engines.docker import DockerBackend
from faas.errors import BuildError
from faas.settings import Settings


@pytest.fixture(scope="session")
def node_base_image(docker_backend: DockerBackend) -> str:
    wanted = os.environ.get("FAAS_NODE_BASE_IMAGE")
    if wanted and docker_backend.image_exists(wanted):
        return wanted
    try:
        return bootstrap_base_image(
            docker_backend, tag=NODE_TAG, packages=NODE_PACKAGES, changes=NODE_CHANGES
        )
    except BuildError as exc:
        from tests.conftest import need

        need(False, f"cannot build the Node.js base image: {exc.message}")
        raise


@pytest.fixture(scope="session")
def node_settings(node_base_image: str, base_image: str) -> Settings:
    """Settings for builds: the Node base image found above, the Python one of the run."""
    return dataclasses.replace(
        Settings.from_env(), node_base_image=node_base_image, base_image=base_image
    )


@pytest.fixture
def deploy_folder(
    docker_backend: DockerBackend, node_settings: Settings
) -> Callable[..., dict[str, object]]:
    """Build any function folder as `faas deploy` does (Node or Python) and register it."""

    def _deploy(gateway: object, folder: Path) -> dict[str, object]:
        spec, built = build_folder(docker_backend, folder, node_settings)
        with gateway.client() as client:  # type: ignore[attr-defined]
            return dict(client.register(spec.to_manifest(), built.tag, built.code_hash))

    return _deploy

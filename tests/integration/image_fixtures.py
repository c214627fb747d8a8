"""Images an OpenFaaS user would bring, built once per session from tests/fixtures/images."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from faas import keys

IMAGES = Path(__file__).parent.parent / "fixtures" / "images"


@pytest.fixture(scope="session")
def user_image(base_image: str) -> Iterator[Callable[[str], str]]:
    """`user_image("http_echo")`: the tag of that folder's image (built on first use, removed
    at the end of the session)."""
    client = docker.from_env()
    built: dict[str, str] = {}

    def make(folder: str) -> str:
        if folder not in built:
            tag = f"faas-test-{folder.replace('_', '-')}:{uuid.uuid4().hex[:8]}"
            client.images.build(
                path=str(IMAGES / folder),
                tag=tag,
                buildargs={"BASE": base_image},
                labels={keys.LABEL_MANAGED: "true"},
                rm=True,
            )
            built[folder] = tag
        return built[folder]

    yield make
    for tag in built.values():
        client.images.remove(tag, force=True)
    client.close()

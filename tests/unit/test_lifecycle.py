"""Lifecycle over a stub engine: what a failed start leaves behind and how it is reported."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from faas.engines.base import ContainerConfig, ContainerState
from faas.errors import FunctionCrashed, FunctionInitError, ImageMissing
from faas.manifest.spec import parse_manifest
from faas.pool.hardening import Shape
from faas.pool.lifecycle import Lifecycle
from faas.settings import Settings

MISSING = "create container faas-echo-x: image not found (No such image: faas/echo:1); deploy again"


class StubEngine:
    """Creates nothing: the image is gone (`missing`) or the instance exits at once."""

    def __init__(self, missing: bool) -> None:
        self.missing = missing
        self.removed: list[str] = []
        self.networks: list[str] = []

    async def ensure_network(self, name: str) -> str:
        self.networks.append(name)
        return "172.18.0.1"

    async def create(self, config: ContainerConfig) -> str:
        if self.missing:
            raise ImageMissing(MISSING)
        return "c1"

    async def start(self, container_id: str) -> None:
        pass

    async def state(self, container_id: str) -> ContainerState:
        return ContainerState(exists=True, running=False, exit_code=1)

    async def logs(self, container_id: str, **kwargs: object) -> bytes:
        return b"boom\n"

    async def remove(self, container_id: str) -> None:
        self.removed.append(container_id)


def lifecycle(tmp_path: Path, engine: StubEngine) -> Lifecycle:
    settings = Settings(socket_dir=tmp_path, ready_timeout=5.0)
    return Lifecycle(engine, settings, "g1", lambda: "s1")  # type: ignore[arg-type]


SPEC = parse_manifest({"name": "echo", "handler": "main.handle"})


def test_a_call_whose_image_is_gone_gets_the_init_failure_it_always_got(tmp_path: Path) -> None:
    engine = StubEngine(missing=True)
    with pytest.raises(FunctionInitError) as caught:
        asyncio.run(lifecycle(tmp_path, engine).start(SPEC, "faas/echo:1"))
    error = caught.value
    assert (error.status, error.code, error.message) == (502, "init_failed", MISSING)
    assert isinstance(error.__cause__, ImageMissing)
    assert list(tmp_path.iterdir()) == []  # the socket folder went with the failed start


def test_a_generic_start_keeps_image_missing(tmp_path: Path) -> None:
    engine = StubEngine(missing=True)
    with pytest.raises(ImageMissing):
        asyncio.run(lifecycle(tmp_path, engine).start_generic(Shape(128 << 20, 0.5, True), "img"))
    assert engine.networks == ["faas"]  # a function with network joins it


def test_an_instance_that_exits_while_starting_is_removed_and_explained(tmp_path: Path) -> None:
    engine = StubEngine(missing=False)
    with pytest.raises(FunctionCrashed) as caught:
        asyncio.run(lifecycle(tmp_path, engine).start(SPEC, "faas/echo:1"))
    assert "stopped (exit code 1); last log line: 'boom'" in caught.value.message
    assert engine.removed == ["c1"] and list(tmp_path.iterdir()) == []

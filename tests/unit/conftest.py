"""Fixtures of the Docker-free gateway tests (tests/unit/fake_gateway.py)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from faas.engines.fake import FakeEngine
from tests.conftest import RedisServer
from tests.unit.fake_gateway import Stack


@pytest.fixture
def stack(
    fake_engine: FakeEngine,
    redis_server: RedisServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stack]:
    """The fake engine, a flushed Redis and short folders for gateways of one test. Docker is
    out of reach: a gateway that used it would fail the test."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    redis_server.flush()
    sockets = Path(tempfile.mkdtemp(prefix="fg-", dir="/tmp"))  # sun_path is 108 bytes
    yield Stack(fake_engine, redis_server.url, tmp_path, sockets)
    shutil.rmtree(sockets, ignore_errors=True)

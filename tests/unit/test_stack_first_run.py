"""`faas up`'s base-image check and settings drift, without Docker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from faas.errors import DockerError, StackError
from faas.stack import base_image, drift


class Images:
    def __init__(self, present: set[str], pullable: bool) -> None:
        self.present = present
        self.pullable = pullable
        self.pulled: list[str] = []

    def image_exists(self, ref: str) -> bool:
        return ref in self.present

    def import_image(self, tarball: Path, repository: str, tag: str, changes: list[str]) -> str:
        raise AssertionError("not in these tests")

    def pull_image(self, ref: str, progress: Callable[[str], None]) -> None:
        self.pulled.append(ref)
        if not self.pullable:
            raise DockerError("Docker could not pull: no such host")
        progress("Pull complete")
        self.present.add(ref)


def test_a_present_image_is_used_as_it_is() -> None:
    images = Images({"python:3.12-slim"}, pullable=False)
    base_image.ensure_base_image(images, "python:3.12-slim", print)
    assert images.pulled == []


def test_a_missing_image_is_pulled_with_progress() -> None:
    images, said = Images(set(), pullable=True), []
    base_image.ensure_base_image(images, "python:3.12-slim", said.append)
    assert images.pulled == ["python:3.12-slim"]
    assert said == ["pulling the base image python:3.12-slim", "  Pull complete"]


def test_without_a_registry_the_one_command_is_said() -> None:
    with pytest.raises(StackError) as caught:
        base_image.ensure_base_image(Images(set(), False), "python:3.12-slim", print, "faas demo")
    assert "nothing was started" in caught.value.message
    assert caught.value.message.endswith(
        "export FAAS_BASE_IMAGE=$(faas images bootstrap) && faas demo"
    )


def test_the_bootstrap_tag_is_built_not_pulled(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []

    def bootstrap(backend: object, *, tag: str, progress: Callable[[str], None]) -> str:
        progress("building a Debian bookworm root filesystem")
        built.append(tag)
        return tag

    monkeypatch.setattr(base_image, "bootstrap_base_image", bootstrap)
    images, said = Images(set(), pullable=False), []
    base_image.ensure_base_image(images, "faas-python:bookworm", said.append)
    assert built == ["faas-python:bookworm"] and images.pulled == []
    assert said[1] == "  building a Debian bookworm root filesystem"


def test_drift_names_changed_settings_and_keeps_no_value(tmp_path: Path) -> None:
    started = {"FAAS_BASE_IMAGE": "a:1", "FAAS_ADMIN_PASSWORD": "s3cret", "FAAS_PORT": "1"}
    drift.record(tmp_path, started)
    assert "s3cret" not in (tmp_path / drift.SETTINGS_FILE).read_text()
    assert drift.changed(tmp_path, started) == []
    assert drift.changed(tmp_path, {**started, "FAAS_PORT": "2"}) == []  # faas up sets it
    now = {"FAAS_BASE_IMAGE": "b:1", "FAAS_ADMIN_PASSWORD": "s3cret", "FAAS_GENERIC_POOL": "0"}
    assert drift.changed(tmp_path, now) == ["FAAS_BASE_IMAGE", "FAAS_GENERIC_POOL"]
    assert drift.changed(tmp_path / "nowhere", now) == []


def test_something_not_redis_on_its_port_is_said_not_a_traceback() -> None:
    """An HTTP server where FAAS_REDIS_URL points: `faas up`/`status` said so with a traceback."""
    import asyncio
    import http.server
    import threading

    from faas.errors import RedisUnavailable
    from faas.registry.access import platform_client
    from faas.registry.store import Registry
    from faas.settings import Settings

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = Settings(redis_url=f"redis://127.0.0.1:{server.server_address[1]}/0")

    async def ping() -> None:
        client = platform_client(settings)
        try:
            await Registry(client).ping()
        finally:
            await client.aclose()

    try:
        with pytest.raises(RedisUnavailable, match="is not Redis"):
            asyncio.run(ping())
    finally:
        server.shutdown()
        server.server_close()

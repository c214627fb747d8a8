"""The HTTP-image contract against a real stdlib server process (no Docker): readiness, framing
(Content-Length, chunked, until close), keep-alive reuse, and the manifest fields."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from faas.contracts.base import CallRequest, Placement
from faas.contracts.http_image import HttpImageContract
from faas.errors import ManifestError
from faas.manifest.spec import FunctionSpec, parse_manifest
from faas.pool.hardening import FUNCTION_UID, function_container
from faas.settings import Settings

SERVER = Path(__file__).parents[1] / "fixtures" / "images" / "http_echo" / "server.py"
PLACED = Placement(network="faas-functions", environment={}, over_network=True)


@pytest.fixture
def server() -> Iterator[int]:
    """The HTTP image's own server, run as a local process (it listens on 8080: use a copy on a
    free port)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = SERVER.read_text().replace('("0.0.0.0", 8080)', f'("127.0.0.1", {port})')
    process = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.DEVNULL)
    yield port
    process.kill()
    process.wait()


def request(target: bytes, body: bytes = b"", method: str = "POST") -> CallRequest:
    return CallRequest(method, target, b"", [(b"x-faas-secret", b"no"), (b"a", b"1")], body)


async def until_ready(contract: HttpImageContract) -> None:
    for _ in range(500):
        if await contract.ready(PLACED, "127.0.0.1"):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never ready")


def test_ready_calls_and_reuses_one_connection(server: int) -> None:
    asyncio.run(ready_calls_and_reuses_one_connection(server))


async def ready_calls_and_reuses_one_connection(server: int) -> None:
    contract = HttpImageContract(Settings(), server)
    assert not await HttpImageContract(Settings(), 1).ready(PLACED, "127.0.0.1")
    await until_ready(contract)
    endpoint = contract.endpoint(PLACED, "127.0.0.1")
    first = await endpoint.call(request(b"/a/b", b"hi"), "call-1", 5)
    assert first.status == 200
    assert b'"path": "/a/b"' in first.body and b'"call_id": "call-1"' in first.body
    second = await endpoint.call(request(b""), "call-2", 5)
    assert b'"path": "/"' in second.body
    assert len(endpoint.channel._idle) == 1  # kept alive, reused
    chunked = await endpoint.call(request(b"/chunked", method="GET"), "c", 5)
    assert chunked.body == b"hello chunked world"
    assert all(name.lower() != b"transfer-encoding" for name, _ in chunked.headers)
    closed = await endpoint.call(request(b"/close", method="GET"), "c", 5)
    assert closed.body == b"until close"
    head = await endpoint.call(request(b"/", method="HEAD"), "c", 5)
    assert head.status in (200, 501) and head.body == b""
    endpoint.close()


def test_timeout_is_timeout_error(server: int) -> None:
    asyncio.run(timeout_is_timeout_error(server))


async def timeout_is_timeout_error(server: int) -> None:
    contract = HttpImageContract(Settings(), server)
    await until_ready(contract)
    endpoint = contract.endpoint(PLACED, "127.0.0.1")
    with pytest.raises(TimeoutError):
        await endpoint.call(CallRequest("GET", b"/sleep", b"s=2", [], b""), "c", 0.001)
    endpoint.close()


def test_manifest_fields_validate_and_round_trip() -> None:
    spec = parse_manifest({"name": "web", "image": "myimage:1", "port": 3000})
    assert (spec.contract, spec.image, spec.port) == ("http", "myimage:1", 3000)
    assert parse_manifest(spec.to_manifest()) == spec
    assert "contract" not in FunctionSpec(name="x").to_manifest()  # old manifests unchanged
    task = parse_manifest({"name": "vote", "image": "task:1", "contract": "task"})
    assert task.contract == "task"
    for bad, field in [
        ({"port": 0}, "port"),
        ({"contract": "grpc"}, "contract"),
        ({"image": "Bad Image"}, "image"),
        ({"image_user": "yes", "image": "a:1"}, "image_user"),
        ({"readonly_root_filesystem": False}, "readonly_root_filesystem"),  # native: never
        ({"image": "a:1", "contract": "native"}, "image"),
    ]:
        with pytest.raises(ManifestError) as error:
            parse_manifest({"name": "x", **bad})
        assert error.value.field == field


def test_hardening_stays_on_unless_relaxed() -> None:
    spec = parse_manifest({"name": "web", "image": "myimage:1"})
    cfg = function_container(
        spec, "myimage:1", container_name="c", gateway_id="g", placement=PLACED
    )
    assert cfg.read_only and cfg.user == FUNCTION_UID and cfg.cap_drop == ("ALL",)
    assert "FAAS_HANDLER" not in cfg.environment  # not faas's runtime
    relaxed = parse_manifest(
        {"name": "web", "image": "m:1", "readonly_root_filesystem": False, "image_user": True}
    )
    cfg = function_container(relaxed, "m:1", container_name="c", gateway_id="g", placement=PLACED)
    assert not cfg.read_only and cfg.user == ""
    assert cfg.cap_drop == ("ALL",) and cfg.security_opt == ("no-new-privileges",)

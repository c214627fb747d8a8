"""The native contract: where an instance listens, when it is ready, how a call is encoded."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from faas.contracts.base import CallRequest
from faas.contracts.native import (
    SOCKET_NAME,
    NativeContract,
    NativeEndpoint,
    encode_call,
    seal_when_bound,
    tcp_placement,
)
from faas.contracts.transport import Address, ConnectFailed, ConnectionLost, DeliveryFailed
from faas.errors import ConfigError
from faas.manifest.spec import parse_manifest
from faas.pool.hardening import (
    FUNCTION_DIR,
    FUNCTION_UID,
    Shape,
    function_container,
    generic_container,
)
from faas.settings import Settings


def contract(tmp_path: Path, transport: str = "unix") -> NativeContract:
    return NativeContract(Settings(socket_dir=tmp_path, transport=transport))


def test_unix_placement_binds_a_private_socket_folder(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)  # as a home folder often is
    placement = contract(tmp_path).place("abc123", wants_network=False)
    assert placement.network is None and not placement.over_network
    assert placement.host_dir == tmp_path / "abc123"
    assert placement.host_dir.stat().st_mode & 0o777 == 0o777  # the function's uid binds here
    assert tmp_path.stat().st_mode & 0o777 == 0o700  # no other local user gets through
    assert dict(placement.binds) == {str(tmp_path / "abc123"): "/run/faas"}
    assert dict(placement.environment) == {
        "FAAS_SOCKET": f"/run/faas/{SOCKET_NAME}",
        "FAAS_SOCKET_SEALED": "1",
    }


def test_the_socket_folder_is_sealed_once_the_socket_exists_and_reopened_to_release(
    tmp_path: Path,
) -> None:
    native = contract(tmp_path)
    placement = native.place("abc123", wants_network=False)
    assert placement.host_dir is not None
    seal_when_bound(placement.host_dir)
    assert placement.host_dir.stat().st_mode & 0o777 == 0o777  # no socket yet: still open
    (placement.host_dir / SOCKET_NAME).touch()
    seal_when_bound(placement.host_dir)
    assert placement.host_dir.stat().st_mode & 0o777 == 0o500
    native.release(placement)
    assert not placement.host_dir.exists()


def test_unix_placement_joins_the_network_only_when_the_function_wants_it(
    tmp_path: Path,
) -> None:
    assert contract(tmp_path).place("abc123", wants_network=True).network == "faas"


def test_tcp_placement_is_reached_over_the_functions_network(tmp_path: Path) -> None:
    placement = contract(tmp_path, "tcp").place("abc123", wants_network=False)
    assert placement == tcp_placement("faas")
    assert placement.network == "faas" and placement.over_network
    assert dict(placement.environment) == {"FAAS_PORT": "8080"} and not placement.binds
    assert list(tmp_path.iterdir()) == []
    endpoint = contract(tmp_path, "tcp").endpoint(placement, "172.18.0.5")
    assert endpoint.address == Address(host="172.18.0.5", port=8080)


def test_a_socket_path_too_long_for_sun_path_names_the_setting(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 100)
    with pytest.raises(ConfigError, match="FAAS_SOCKET_DIR"):
        contract(deep).place("abc123", wants_network=False)


def test_release_removes_the_socket_folder(tmp_path: Path) -> None:
    native = contract(tmp_path)
    placement = native.place("abc123", wants_network=False)
    assert placement.host_dir is not None and placement.host_dir.is_dir()
    native.release(placement)
    assert not placement.host_dir.exists()


def test_ready_once_the_runtime_accepts_a_connection(tmp_path: Path) -> None:
    native = contract(tmp_path)
    placement = native.place("abc123", wants_network=False)
    assert placement.host_dir is not None

    async def scenario() -> None:
        assert not await native.ready(placement, "")
        server = await asyncio.start_unix_server(
            lambda r, w: w.close(), str(placement.host_dir / SOCKET_NAME)
        )
        async with server:
            assert await native.ready(placement, "")
        endpoint = native.endpoint(placement, "")
        assert endpoint.address == Address(path=str(placement.host_dir / SOCKET_NAME))

    asyncio.run(scenario())


def test_the_hardened_container_listens_where_the_contract_placed_it(tmp_path: Path) -> None:
    spec = parse_manifest({"name": "echo", "handler": "main.handle", "environment": {"A": "1"}})
    placement = contract(tmp_path).place("abc123", wants_network=False)
    cfg = function_container(
        spec,
        "faas/echo:1",
        container_name="faas-echo-abc123",
        gateway_id="g1",
        placement=placement,
        service_env={"FAAS_GATEWAY_URL": "http://gw"},
    )
    assert cfg.environment["FAAS_SOCKET"] == f"/run/faas/{SOCKET_NAME}"
    assert cfg.environment["FAAS_GATEWAY_URL"] == "http://gw"
    assert cfg.environment["A"] == "1" and cfg.environment["FAAS_FUNCTION_NAME"] == "echo"
    assert cfg.binds == placement.binds and cfg.network is None


def test_encode_call_puts_the_call_under_call_without_hop_by_hop_headers() -> None:
    request = CallRequest(
        method="POST",
        target=b"/a%20b",
        query=b"x=1",
        headers=[
            (b"Host", b"gw"),
            (b"Connection", b"keep-alive"),
            (b"Transfer-Encoding", b"chunked"),
            (b"X-Faas-Handler-Ms", b"1"),
            (b"x-call-id", b"forged"),
            (b"Accept", b"*/*"),
        ],
        body=b"hello",
    )
    wire = encode_call(request, "call-1", 2.5)
    assert wire == (
        b"POST /call/a%20b?x=1 HTTP/1.1\r\n"
        b"Accept: */*\r\n"
        b"x-call-id: call-1\r\n"
        b"x-faas-timeout-ms: 2500\r\n"
        b"content-length: 5\r\n\r\nhello"
    )


def test_never_delivered_is_not_maybe_delivered() -> None:
    assert not issubclass(ConnectFailed, ConnectionLost)
    assert not issubclass(ConnectionLost, ConnectFailed)
    assert issubclass(ConnectFailed, DeliveryFailed) and issubclass(ConnectionLost, DeliveryFailed)


def test_an_endpoint_that_nothing_listens_on_fails_to_connect(tmp_path: Path) -> None:
    endpoint = NativeEndpoint(Address(path=str(tmp_path / SOCKET_NAME)))
    request = CallRequest("GET", b"", b"", [], b"")

    async def scenario() -> None:
        with pytest.raises(ConnectFailed):
            await endpoint.call(request, "call-1", 1.0)

    asyncio.run(scenario())


def test_generic_containers_start_as_root_only_to_become_the_functions_user(
    tmp_path: Path,
) -> None:
    placement = contract(tmp_path).place("abc123", wants_network=False)
    shape = Shape(memory=64 * 2**20, cpus=0.5, network=False)
    cfg = generic_container(
        shape, "faas/runtime:1", container_name="g", gateway_id="g1", placement=placement
    )
    assert (cfg.user, cfg.cap_drop, cfg.cap_add) == ("0:0", ("ALL",), ("SETUID", "SETGID"))
    assert "no-new-privileges" in cfg.security_opt and cfg.read_only
    assert cfg.environment["FAAS_RUN_AS"] == FUNCTION_UID
    assert "mode=0755" in cfg.tmpfs[str(FUNCTION_DIR)]  # root's: the function cannot write
    spec = parse_manifest({"name": "echo"})
    own = function_container(spec, "faas/echo:1", container_name="f", gateway_id="g1",
                             placement=placement)  # fmt: skip
    assert (own.user, own.cap_add) == (FUNCTION_UID, ()) and "FAAS_RUN_AS" not in own.environment


def test_dropping_privileges_is_for_good(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root can change its user")
    owned = tmp_path / "code.py"
    owned.write_text("x = 1\n")
    program = (
        "import os\n"
        "from faas.runtime.confine import drop_privileges\n"
        "drop_privileges()\n"
        "print(os.getresuid(), os.getresgid(), os.getgroups())\n"
        "for attempt in (lambda: os.setuid(0), lambda: open(os.environ['OWNED'], 'a'),"
        " lambda: os.chmod(os.environ['OWNED'], 0o666)):\n"
        "    try:\n"
        "        attempt()\n"
        "        print('allowed')\n"
        "    except PermissionError:\n"
        "        print('refused')\n"
    )
    env = {**os.environ, "FAAS_RUN_AS": "65534:65534", "OWNED": str(owned)}
    tmp_path.chmod(0o755)
    done = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n") == [
        "(65534, 65534, 65534) (65534, 65534, 65534) []",
        "refused",
        "refused",
        "refused",
        "",
    ]

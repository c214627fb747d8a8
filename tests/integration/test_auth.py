"""Credentials on a real gateway: the control plane is closed, function calls stay open."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx

from tests.conftest import Gateway

CONTROL_PLANE = [
    ("GET", "/system/functions"),
    ("POST", "/system/functions"),
    ("GET", "/system/function/nosuch"),  # unknown: still 401, never a 404 that tells
    ("DELETE", "/system/function/nosuch"),
    ("POST", "/system/function/nosuch/pool"),
    ("GET", "/system/logs/nosuch"),
    ("GET", "/system/calls/nope"),
    ("GET", "/system/dead-letters"),
    ("POST", "/system/dead-letters/redrive"),
    ("GET", "/metrics"),
]


def test_the_control_plane_needs_credentials(gateway: Gateway) -> None:
    assert gateway.password is not None
    with httpx.Client(base_url=gateway.url, trust_env=False) as anonymous:
        for method, path in CONTROL_PLANE:
            for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer x"}):
                response = anonymous.request(method, path, headers=headers)
                assert response.status_code == 401, (method, path, headers)
                assert response.headers["www-authenticate"] == 'Basic realm="faas"'
                assert response.json()["error"]["code"] == "unauthorized"
        assert anonymous.get("/healthz").json() == {"status": "ok"}  # no ids, no components

        admin = ("admin", gateway.password)
        assert anonymous.get("/system/functions", auth=admin).json() == []
        bearer = {"Authorization": f"Bearer {gateway.password}"}
        assert anonymous.get("/system/function/nosuch", headers=bearer).status_code == 404
        assert anonymous.get("/metrics", headers=bearer).status_code == 200
        assert "gateway" in anonymous.get("/healthz", auth=admin).json()

    # faas-cli without a login sends `Bearer ` (httpx refuses to): function calls stay open.
    assert raw_status(gateway.port, "POST", "/function/nosuch", "Bearer ") == 404
    assert raw_status(gateway.port, "POST", "/async-function/nosuch", "Bearer ") == 404
    assert raw_status(gateway.port, "GET", "/system/functions", "Bearer ") == 401
    assert gateway.password not in gateway.log.read_text()


def raw_status(port: int, method: str, path: str, authorization: str) -> int:
    """The status of one request written byte for byte (`Authorization` exactly as given)."""
    request = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {authorization}\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request.encode())
        status_line = sock.makefile("rb").readline()
    return int(status_line.split()[1])


def test_auth_off_opens_the_control_plane_with_a_warning(
    make_gateway: Callable[..., Gateway],
) -> None:
    gateway = make_gateway(FAAS_AUTH="off")
    assert gateway.password is None
    assert httpx.get(f"{gateway.url}/system/functions", trust_env=False).status_code == 200
    assert "FAAS_AUTH=off" in gateway.log.read_text()
    assert not gateway.settings.password_file.exists()

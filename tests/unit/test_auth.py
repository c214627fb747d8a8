"""The control plane's credential check (gateway.auth) in front of a stand-in Starlette app."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from faas import credentials
from faas.settings import Settings
from gateway.auth import RequireCredentials, authenticated, control_plane_password

PASSWORD = "s3cret-with:colon"


async def _echo(request: Request) -> Response:
    return JSONResponse({"path": request.url.path, "authenticated": authenticated(request.scope)})


async def _function(request: Request) -> Response:
    if request.path_params["name"] != "known":
        return JSONResponse({"error": {"code": "not_found", "message": "no such"}}, 404)
    return JSONResponse({"name": "known"})


_ROUTES = [
    Route("/system/functions", _echo, methods=["GET", "POST"]),
    Route("/system/function/{name}", _function),
    Route("/metrics", _echo),
    Route("/healthz", _echo),
    Route("/function/{name}", _echo),
    Route("/async-function/{name}", _echo, methods=["POST"]),
]


class Client:
    """Plain ASGI calls through httpx, one event loop per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def one() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run(one())

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)


@pytest.fixture
def http() -> Client:
    return Client(RequireCredentials(Starlette(routes=_ROUTES), PASSWORD))


def basic(user: str, password: str) -> dict[str, str]:
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="faas"'
    assert response.json()["error"]["code"] == "unauthorized"
    assert PASSWORD not in response.text


@pytest.mark.parametrize(
    "headers",
    [
        basic("admin", PASSWORD),
        {"Authorization": f"Bearer {PASSWORD}"},
        {"Authorization": f"bearer   {PASSWORD}  "},  # the scheme is case-insensitive
        {"Authorization": "BASIC " + basic("admin", PASSWORD)["Authorization"][6:]},
    ],
    ids=["basic", "bearer", "bearer-lowercase-spaces", "basic-uppercase"],
)
def test_valid_credentials_reach_the_route(http: Client, headers: dict[str, str]) -> None:
    for path in ("/system/functions", "/metrics"):
        response = http.get(path, headers=headers)
        assert response.status_code == 200
        assert response.json() == {"path": path, "authenticated": True}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer "},  # what faas-cli sends before `faas-cli login`
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {PASSWORD}x"},
        basic("root", PASSWORD),
        basic("admin", "wrong"),
        basic("admin", ""),
        {"Authorization": "Basic YWRtaW4="},  # "admin", no colon
        {"Authorization": "Basic !!!not-base64!!!"},
        {"Authorization": "Basic YWRtaW4"},  # bad padding
        {"Authorization": f"Token {PASSWORD}"},
        {"Authorization": PASSWORD},
    ],
    ids=[
        "missing",
        "empty-bearer",
        "bare-bearer",
        "wrong-bearer",
        "longer-bearer",
        "wrong-user",
        "wrong-password",
        "empty-password",
        "no-colon",
        "malformed-base64",
        "bad-padding",
        "other-scheme",
        "no-scheme",
    ],
)
def test_missing_or_wrong_credentials_get_401(http: Client, headers: dict[str, str]) -> None:
    for method, path in [("GET", "/system/functions"), ("POST", "/system/functions"),
                         ("GET", "/metrics"), ("DELETE", "/system/function/known")]:  # fmt: skip
        assert_refused(http.request(method, path, headers=headers))


def test_an_unknown_function_is_401_not_404_without_credentials(http: Client) -> None:
    assert_refused(http.get("/system/function/nosuch"))
    assert_refused(http.get("/no/such/route"))  # routes themselves are not revealed either
    assert http.get("/system/function/nosuch", headers=basic("admin", PASSWORD)).status_code == 404


def test_open_routes_need_no_credentials(http: Client) -> None:
    for method, path in [("GET", "/healthz"), ("GET", "/function/x"),
                         ("POST", "/async-function/x")]:  # fmt: skip
        response = http.request(method, path, headers={"Authorization": "Bearer "})
        assert response.status_code == 200
        assert response.json() == {"path": path, "authenticated": False}
    assert http.get("/healthz", headers=basic("admin", PASSWORD)).json()["authenticated"] is True


def test_auth_off_lets_everything_through_as_authenticated() -> None:
    http = Client(RequireCredentials(Starlette(routes=_ROUTES), None))
    assert http.get("/system/functions").json()["authenticated"] is True
    assert http.get("/healthz").json()["authenticated"] is True


def test_control_plane_password_is_created_once_and_never_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(home=tmp_path)
    with caplog.at_level(logging.INFO, logger="gateway"):
        password = control_plane_password(settings)
    assert password == credentials.find(settings)
    assert password and password not in caplog.text
    assert str(settings.password_file) in caplog.text  # where it is, for the operator


def test_auth_off_warns_at_start_and_creates_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="gateway"):
        assert control_plane_password(Settings(home=tmp_path, auth=False)) is None
    assert "FAAS_AUTH=off" in caplog.text
    assert not list(tmp_path.iterdir())


def test_the_401_body_is_the_projects_error_shape(http: Client) -> None:
    response = http.get("/system/functions")
    assert response.headers["content-type"] == "application/json"
    assert set(json.loads(response.content)) == {"error"}
    assert int(response.headers["content-length"]) == len(response.content)

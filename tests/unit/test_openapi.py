"""The OpenAPI document lists exactly the routes the gateway serves."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Route

from faas.settings import Settings
from gateway.api_policy import ApiGateway
from gateway.app import create_app
from gateway.async_routes import AsyncCallApp
from gateway.auth import RequireCredentials
from gateway.lambda_api import LambdaApiApp
from gateway.lambda_openapi import SERVED as LAMBDA_SERVED
from gateway.openapi import ANY_METHOD, DOCUMENT
from gateway.openfaas_calls import OpenFaasCalls
from gateway.sync_calls import SyncCallApp

# The two hot paths are bare ASGI apps in front of Starlette (see gateway/sync_calls.py).
_BARE = {
    SyncCallApp: ("/function", ANY_METHOD),
    AsyncCallApp: ("/async-function", ("post",)),
}


def _served(tmp_path: Path) -> set[tuple[str, str]]:
    app: object = create_app(Settings(home=tmp_path))
    served: set[tuple[str, str]] = set()
    while not isinstance(app, Starlette):
        # They guard routes (ApiGateway: a function's own policy), and serve none of their own.
        if isinstance(app, RequireCredentials | ApiGateway | OpenFaasCalls):
            app = app.app
            continue
        if isinstance(app, LambdaApiApp):  # serves the Lambda API's fixed paths
            served |= LAMBDA_SERVED
            app = app.app
            continue
        prefix, methods = _BARE[type(app)]
        for path in (f"{prefix}/{{name}}", f"{prefix}/{{name}}/{{path}}"):
            served |= {(method, path) for method in methods}
        app = app.app  # type: ignore[attr-defined]
    for route in app.routes:
        assert isinstance(route, Route)
        served |= {
            (m.lower(), route.path) for m in route.methods or () if m != "HEAD"
        }  # Starlette adds HEAD to GET
    return served


def _documented() -> set[tuple[str, str]]:
    paths = DOCUMENT["paths"]
    return {(m, path) for path, item in paths.items() for m in item if m != "parameters"}


def test_every_served_route_is_documented_and_nothing_else(tmp_path: Path) -> None:
    assert _served(tmp_path) == _documented()

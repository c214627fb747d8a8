"""The OpenAPI document lists exactly the routes the gateway serves."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Route

from faas.settings import Settings
from gateway.app import create_app
from gateway.auth import RequireCredentials
from gateway.call_paths import CallPaths
from gateway.lambda_openapi import SERVED as LAMBDA_SERVED
from gateway.openapi import ANY_METHOD, DOCUMENT

# The two hot paths are served by gateway.call_paths in front of Starlette.
_BARE = {"/function": ANY_METHOD, "/async-function": ("post",)}


def _served(tmp_path: Path) -> set[tuple[str, str]]:
    front = create_app(Settings(home=tmp_path))
    assert isinstance(front, CallPaths)
    served = set(LAMBDA_SERVED)  # the Lambda API's fixed paths
    for prefix, methods in _BARE.items():
        for path in (f"{prefix}/{{name}}", f"{prefix}/{{name}}/{{path}}"):
            served |= {(method, path) for method in methods}
    guard = front.app  # credentials guard routes, and serve none of their own
    assert isinstance(guard, RequireCredentials)
    app = guard.app
    assert isinstance(app, Starlette)
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

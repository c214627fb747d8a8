"""The live dashboard: `GET /` (one self-contained page) and `GET /system/dashboard` (the JSON
it polls once a second).

Both sit behind the control plane's credentials like every Starlette route (gateway.auth): a
browser meets the Basic prompt, then sends the credentials with each poll by itself. The page
has no build step and fetches nothing from the internet: CSS, script and icons are inline in
gateway/dashboard_page.html, read once from the package.

The summary is one round trip to Redis (queue depth and dead letters); everything else is this
gateway's memory: its pools, counters and recent calls. Nothing here runs on the call path.
"""

from __future__ import annotations

import contextlib
import functools
import time
from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from faas.errors import FaasError
from faas.pool.invoker import Invoker

RECENT = 50  # calls listed; the cold-start rate of the window is over these
DEAD_SHOWN = 5


@functools.cache
def _page() -> str:
    return resources.files("gateway").joinpath("dashboard_page.html").read_text("utf-8")


async def dashboard_page(request: Request) -> Response:
    # no-store: a page shown after logging out must not come back from the cache.
    return HTMLResponse(_page(), headers={"Cache-Control": "no-store"})


async def dashboard_summary(request: Request) -> Response:
    state = request.state
    invoker: Invoker = state.invoker
    functions = [_function(invoker, record) for record in await state.catalog.all()]
    recent = [_call(record) for record in state.recent_calls.newest(RECENT)]
    queue: dict[str, Any] = {"available": False}
    dead: list[dict[str, Any]] = []
    with contextlib.suppress(FaasError):  # Redis down: the page still shows the pools
        queue = {"available": True, **await state.queue.depth()}
        if queue["dead_letters"]:
            dead = await state.queue.dead_letters(None, DEAD_SHOWN)
    starts: dict[str, int] = {}
    for function in functions:
        for kind, count in function["starts"].items():
            starts[kind] = starts.get(kind, 0) + count
    generic = invoker.generic
    body = {
        "gateway": state.lifecycle.gateway_id,
        "now": time.time(),
        "functions": functions,
        "generic": generic.counts() if generic is not None else None,
        "starts": starts,
        "cold_rate": _cold_rate(starts),
        "recent_cold_rate": _cold_rate(_count_kinds(recent)),
        "recent_calls": recent,
        "queue": queue,
        "dead_letters": [_dead(letter) for letter in dead],
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def _function(invoker: Invoker, record: Any) -> dict[str, Any]:
    described = invoker.describe(record.name)
    generic = described.get("generic")
    return {
        "name": record.name,
        "image": record.image,
        "version": record.version,
        "updated_at": record.updated_at,
        "containers": described["containers"],
        "calls": described["calls"],
        "errors": described["errors"],
        "starts": described["starts"],
        "generic": bool(isinstance(generic, dict) and generic.get("eligible")),
        "dev": generic.get("dev") if isinstance(generic, dict) else None,
        "logs": f"/system/logs/{record.name}",
    }


def _call(record: dict[str, Any]) -> dict[str, Any]:
    keys = ("call_id", "function", "status", "http_status", "start", "timings", "created_at")
    view = {key: record.get(key) for key in keys}
    error = record.get("error")
    view["error"] = error.get("code") if isinstance(error, dict) else None
    return view


def _dead(letter: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "call_id", "function", "reason", "attempts", "dead_at")
    return {key: letter.get(key) for key in keys}


def _count_kinds(calls: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for call in calls:
        kind = call.get("start")
        if isinstance(kind, str):
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def _cold_rate(starts: dict[str, int]) -> float | None:
    """Calls that waited for a container to start (cold), over all calls served; None: none."""
    total = sum(starts.values())
    return starts.get("cold", 0) / total if total else None


DASHBOARD_ROUTES = [
    Route("/", dashboard_page, methods=["GET"]),
    Route("/system/dashboard", dashboard_summary, methods=["GET"]),
]

_HTML = {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}
_SUMMARY = {
    "description": "functions with their pools, recent calls, cold-start rate, queue depth",
    "content": {"application/json": {"schema": {"type": "object"}}},
}
DASHBOARD_PATHS: dict[str, Any] = {
    "/": {"get": {"summary": "The live dashboard (a page)", "responses": {"200": _HTML}}},
    "/system/dashboard": {
        "get": {"summary": "What the dashboard shows, as JSON", "responses": {"200": _SUMMARY}}
    },
}

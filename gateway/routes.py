"""HTTP endpoints: thin translations between requests and the `faas` core."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from faas.errors import BadRequest, FaasError
from faas.manifest.spec import check_name, parse_manifest
from faas.pool.invoker import Invoker
from faas.pool.lifecycle import Containers
from faas.pool.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from faas.registry.store import FunctionRecord
from gateway.errors import error_response

_STRIPPED = frozenset((b"content-length", b"connection", b"keep-alive", b"transfer-encoding"))


# -- system API -------------------------------------------------------------------------------


async def list_functions(request: Request) -> Response:
    records = await request.state.catalog.all()
    return JSONResponse([_describe(request, record) for record in records])


async def get_function(request: Request) -> Response:
    name = check_name(request.path_params["name"])
    record = await request.state.catalog.get(name)
    return JSONResponse(_describe(request, record))


async def register_function(request: Request) -> Response:
    """Register or update a function from `{"manifest": {...}, "image": ..., "code_hash": ...}`."""
    state = request.state
    try:
        payload = await request.json()
    except ValueError:
        raise BadRequest('the body must be JSON: {"manifest": {...}, "image": "..."}') from None
    if not isinstance(payload, dict):
        raise BadRequest("the body must be a JSON object with manifest and image")
    spec = parse_manifest(payload.get("manifest"))
    image = payload.get("image")
    if not isinstance(image, str) or not image:
        raise BadRequest(
            "image: required, the tag of the function's image (built by `faas deploy`)"
        )
    containers: Containers = state.containers
    if not await containers.run(containers.backend.image_exists, image):
        raise BadRequest(f"image: {image!r} does not exist in Docker; build it with `faas deploy`")
    previous = await state.registry.get(spec.name)
    record: FunctionRecord = await state.registry.put(
        spec, image, str(payload.get("code_hash", ""))
    )
    state.catalog.put(record)
    state.invoker.sync(record)
    return JSONResponse(_describe(request, record), 200 if previous else 201)


async def remove_function(request: Request) -> Response:
    state = request.state
    name = check_name(request.path_params["name"])
    await state.catalog.get(name)  # 404 when unknown
    await state.registry.delete(name)
    state.catalog.drop(name)
    await state.invoker.forget(name)
    return JSONResponse({"removed": name})


async def pool_control(request: Request) -> Response:
    """Drive the pool by hand: `{"action": "drain" | "pause" | "prestart", "count": n}`.

    Benchmarks use it to set up each start kind; it also helps before a demo (pre-start).
    """
    state = request.state
    name = check_name(request.path_params["name"])
    record = await state.catalog.get(name)
    try:
        payload = await request.json()
    except ValueError:
        raise BadRequest('the body must be JSON like {"action": "prestart", "count": 1}') from None
    action = payload.get("action") if isinstance(payload, dict) else None
    pool = state.invoker.pool(name) or state.invoker.sync(record)
    maintenance = state.maintenance
    if action == "drain":
        return JSONResponse({"removed": await maintenance.drain(pool)})
    if action == "pause":
        return JSONResponse({"paused": await maintenance.pause_idle(pool)})
    if action == "prestart":
        count = payload.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100:
            raise BadRequest(f"count must be a whole number from 1 to 100, got {count!r}")
        return JSONResponse({"ready": await maintenance.prestart(pool, count)})
    raise BadRequest(f"action must be drain, pause or prestart, got {action!r}")


async def metrics(request: Request) -> Response:
    state = request.state
    with contextlib.suppress(FaasError):  # Redis down: the call metrics still count
        state.metrics.set_queue_depth(await state.queue.depth())
    return Response(state.metrics.render(), media_type=METRICS_CONTENT_TYPE)


async def function_logs(request: Request) -> Response:
    """Archived lines of removed containers, then the current containers' lines."""
    state = request.state
    name = check_name(request.path_params["name"])
    await state.catalog.get(name)
    tail = _int_param(request, "tail")
    since = _float_param(request, "since")
    archived: list[str] = [] if since else await state.registry.archived_logs(name, tail)
    live = await state.invoker.live_logs(name, since=since)
    lines = archived + live
    if tail:
        lines = lines[-tail:]
    return JSONResponse({"name": name, "lines": lines, "now": time.time()})


async def healthz(request: Request) -> Response:
    state = request.state
    problems: dict[str, str] = {}

    async def check(component: str, probe: Any) -> None:
        try:
            await asyncio.wait_for(probe, 3.0)
        except (FaasError, TimeoutError) as exc:
            problems[component] = getattr(exc, "message", "") or "no answer within 3s"

    containers: Containers = state.containers
    await asyncio.gather(
        check("docker", containers.run(containers.backend.ping)),
        check("redis", state.registry.ping()),
    )
    if problems:
        return error_response(503, "unhealthy", "; ".join(f"{k}: {v}" for k, v in problems.items()))
    gateway_id = containers.gateway_id
    return JSONResponse({"status": "ok", "docker": "ok", "redis": "ok", "gateway": gateway_id})


def _describe(request: Request, record: FunctionRecord) -> dict[str, Any]:
    invoker: Invoker = request.state.invoker
    data = record.to_json()
    data["url"] = f"{str(request.base_url).rstrip('/')}/function/{record.name}"
    data.update(invoker.describe(record.name))
    return data


def _int_param(request: Request, key: str) -> int | None:
    value = request.query_params.get(key)
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise BadRequest(f"{key} must be a whole number, got {value!r}")
    return int(value)


def _float_param(request: Request, key: str) -> float | None:
    value = request.query_params.get(key)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise BadRequest(f"{key} must be a number, got {value!r}") from None


_ALL = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

ROUTES = [
    Route("/system/functions", list_functions, methods=["GET"]),
    Route("/system/functions", register_function, methods=["POST", "PUT"]),
    Route("/system/function/{name}", get_function, methods=["GET"]),
    Route("/system/function/{name}", remove_function, methods=["DELETE"]),
    Route("/system/function/{name}/pool", pool_control, methods=["POST"]),
    Route("/system/logs/{name}", function_logs, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
]

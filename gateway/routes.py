"""HTTP endpoints: thin translations between requests and the `faas` core."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from faas.errors import BadRequest, FaasError, ManifestError
from faas.manifest.images import describe_image
from faas.manifest.spec import FunctionSpec, check_name, parse_manifest
from faas.pool.invoker import Invoker
from faas.pool.lifecycle import Lifecycle
from faas.pool.log_pages import read_page
from faas.pool.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from faas.registry.propagation import wait_applied
from faas.registry.store import FunctionRecord
from faas.supervised import Supervisor
from faas.units import format_size
from gateway.auth import authenticated
from gateway.errors import error_response
from gateway.openapi import OPENAPI_ROUTES
from gateway.params import (
    MAX_SINCE,
    MAX_TAIL,
    image_reference,
    json_body,
    log_cursor,
    number,
    whole_number,
)
from gateway.secret_routes import check_secrets_exist, masked_config

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
    payload = await json_body(request, '{"manifest": {...}, "image": "..."}')
    if not isinstance(payload, dict):
        raise BadRequest("the body must be a JSON object with manifest and image")
    spec = parse_manifest(payload.get("manifest"))
    image = image_reference(payload.get("image"))
    code_hash = payload.get("code_hash", "")
    if not isinstance(code_hash, str):
        raise BadRequest(f"code_hash: must be a string, got {type(code_hash).__name__}")
    lifecycle: Lifecycle = state.lifecycle
    await _check_host_fits(lifecycle, spec)
    await check_secrets_exist(state.secrets, spec)
    if not await lifecycle.image_exists(image):
        raise BadRequest(f"image: {image!r} does not exist in Docker; build it with `faas deploy`")
    previous = await state.registry.get(spec.name)
    record, revision = await state.registry.put_at(spec, image, code_hash)
    state.catalog.put(record)
    state.invoker.sync(record)
    body = _describe(request, record)
    # No gateway answers with the previous code once this returns (or it is named here).
    lagging = await wait_applied(
        state.registry, lifecycle.gateway_id, revision, state.settings.deploy_wait
    )
    if lagging:
        body["lagging_gateways"] = lagging
    return JSONResponse(body, 200 if previous else 201)


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
    payload = await json_body(request, '{"action": "prestart", "count": 1}')
    action = payload.get("action") if isinstance(payload, dict) else None
    invoker: Invoker = state.invoker
    pool = invoker.pool(name) or invoker.sync(record)
    upkeep = invoker.upkeep
    if action == "drain":
        return JSONResponse({"removed": await upkeep.drain(pool)})
    if action == "pause":
        return JSONResponse({"paused": await upkeep.pause_idle(pool)})
    if action == "prestart":
        count = payload.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100:
            raise BadRequest(f"count must be a whole number from 1 to 100, got {count!r}")
        return JSONResponse({"ready": await upkeep.prestart(pool, count)})
    raise BadRequest(f"action must be drain, pause or prestart, got {action!r}")


async def metrics(request: Request) -> Response:
    state = request.state
    with contextlib.suppress(FaasError):  # Redis down: the call metrics still count
        state.metrics.set_queue_depth(await state.queue.depth())
    return Response(state.metrics.render(), media_type=METRICS_CONTENT_TYPE)


async def function_logs(request: Request) -> Response:
    """A page of the newest lines (archived ones of removed containers, the current
    containers'), bounded by FAAS_LOGS_MAX_LINES/BYTES; `before` pages back (log_pages)."""
    state = request.state
    name = check_name(request.path_params["name"])
    await state.catalog.get(name)
    tail = whole_number(request, "tail", 0, MAX_TAIL)
    since = number(request, "since", 0, MAX_SINCE)
    before = log_cursor(request, "before")
    if since is not None and since < 1:
        # Every line is after the first second of 1970; and the engine's API cannot parse
        # the exponent in the repr of small floats (1e-05): its answer was a 500.
        since = None
    settings = state.settings
    page = await read_page(
        state.registry.archived_page,
        state.invoker.live_logs,
        name,
        since=since,
        before=before,
        limit=min(tail or settings.logs_max_lines, settings.logs_max_lines),
        max_bytes=settings.logs_max_bytes,
    )
    body = {"name": name, "lines": page.lines, "before": page.before, "now": time.time()}
    return JSONResponse(body)


async def healthz(request: Request) -> Response:
    state = request.state
    problems: dict[str, str] = {}

    async def check(component: str, probe: Any) -> None:
        try:
            await asyncio.wait_for(probe, 3.0)
        except (FaasError, TimeoutError) as exc:
            problems[component] = getattr(exc, "message", "") or "no answer within 3s"

    lifecycle: Lifecycle = state.lifecycle
    await asyncio.gather(
        check("docker", lifecycle.ping()),
        check("redis", state.registry.ping()),
    )
    lost = _lost_data(state)
    if lost:
        problems["redis"] = lost
    for supervisor in _supervisors(state):
        problems.update({f"loop {name}": why for name, why in supervisor.problems().items()})
    if not authenticated(request.scope):  # open to anyone: the verdict, nothing behind it
        if problems:
            return error_response(503, "unhealthy", "unhealthy")
        return JSONResponse({"status": "ok"})
    if problems:
        return error_response(503, "unhealthy", "; ".join(f"{k}: {v}" for k, v in problems.items()))
    gateway_id = lifecycle.gateway_id
    return JSONResponse({"status": "ok", "docker": "ok", "redis": "ok", "gateway": gateway_id})


def _lost_data(state: Any) -> str:
    """Redis lost its data (seen by the heartbeat) and no function is deployed since."""
    heartbeat = getattr(state, "heartbeat", None)
    lost_at = getattr(heartbeat, "lost_data_at", None)
    if lost_at is None or state.catalog.known():
        return ""
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(lost_at))
    return f"lost its data at {when} (FLUSHALL or a new volume): deploy the functions again"


def _supervisors(state: Any) -> list[Supervisor]:
    """Every supervisor of background loops: the composition root's `supervisors` when it
    lists them, else the queue's own."""
    listed: list[Supervisor] | None = getattr(state, "supervisors", None)
    return listed if listed is not None else [state.queue.supervisor]


def _describe(request: Request, record: FunctionRecord) -> dict[str, Any]:
    invoker: Invoker = request.state.invoker
    data = record.to_json()
    data["config"] = masked_config(data["config"])
    data["url"] = f"{str(request.base_url).rstrip('/')}/function/{record.name}"
    data.update(invoker.describe(record.name))
    data.update(describe_image(record.spec))  # contract and relaxations of an image function
    return data


async def _check_host_fits(lifecycle: Lifecycle, spec: FunctionSpec) -> None:
    """Memory or CPUs the engine's host does not have would make every start fail (503s,
    async calls retried for hours): refuse them at registration, naming the host's figure."""
    capacity = await lifecycle.host_capacity()
    host_memory, host_cpus = capacity.memory, capacity.cpus
    if host_memory and spec.memory > host_memory:
        raise ManifestError(
            "memory",
            f"{format_size(spec.memory)} is more than this host has "
            f"({format_size(host_memory)} according to the container engine)",
        )
    if host_cpus and spec.cpus > host_cpus:
        raise ManifestError(
            "cpus",
            f"{spec.cpus:g} is more than this host has ({host_cpus} according to the engine)",
        )
    budget = lifecycle.settings.memory_budget
    if spec.memory > budget:
        raise ManifestError(
            "memory",
            f"{format_size(spec.memory)} is more than all functions may use together "
            f"(FAAS_MEMORY_BUDGET, {format_size(budget)}): no container of it could start",
        )


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
    *OPENAPI_ROUTES,
]

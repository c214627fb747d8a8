"""OpenFaaS's gateway API next to faas's own, so `faas-cli` drives a faas gateway unchanged.

    GET    /system/functions            faas's records, each with OpenFaaS's FunctionStatus
                                        fields added (one list serves both CLIs: no key is
                                        shared but `name` and `image`, which mean the same)
    POST   /system/functions            OpenFaaS's FunctionDeployment (has `service`): 202 new,
    PUT    /system/functions              200 updated; PUT of an unknown function: 404. Or
                                          faas's {manifest, image}: 201 new, 200 updated.
                                          OpenFaaS's starts a replica (as its providers do)
    DELETE /system/functions            {"functionName": NAME}
    GET    /system/function/{name}      one function, the same merged shape
    POST   /system/scale-function/{name}  {"serviceName" | "service", "replicas"}: scale.min
    GET    /system/info                 provider, version, arch
    GET    /system/namespaces           ["openfaas-fn"]
    GET    /system/logs?name=&tail=&since=&follow=   NDJSON of OpenFaaS's log messages

Names may carry the one namespace (`name.openfaas-fn`); `?namespace=` may name it too; any
other namespace is a 400 (no function lives there). Behind the control plane's credentials,
which `faas-cli login` sends as HTTP Basic.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import platform
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from faas import keys
from faas.errors import BadRequest, FunctionNotFound, ManifestError
from faas.manifest.openfaas import NAMESPACE, strip_namespace
from faas.manifest.spec import MAX_SCALE, Scale, check_name, validate_name
from faas.pool.invoker import Invoker
from faas.pool.lifecycle import Lifecycle
from faas.pool.policy import FunctionPool
from faas.registry.store import FunctionRecord
from gateway.openfaas_logs import function_logs_ndjson
from gateway.openfaas_shapes import (
    check_namespace,
    deployment_manifest,
    function_status,
    is_openfaas_deployment,
)
from gateway.params import image_reference, json_body
from gateway.routes import _check_host_fits, _describe, register_function
from gateway.secret_routes import check_secrets_exist

_DEPLOY_EXAMPLE = '{"service": "hello", "image": "faas/function:1a2b3c4d5e6f"}'


def function_name(raw: str) -> str:
    """A function's name from a URL or body: `name` or `name.openfaas-fn` (404 otherwise)."""
    return check_name(strip_namespace(raw))


def merged(request: Request, record: FunctionRecord) -> dict[str, Any]:
    """faas's description of a function plus OpenFaaS's FunctionStatus fields."""
    data = _describe(request, record)
    data.update(function_status(record, data))
    return data


async def list_functions(request: Request) -> Response:
    check_namespace(request.query_params.get("namespace"))
    records = await request.state.catalog.all()
    return JSONResponse([merged(request, record) for record in records])


async def get_function(request: Request) -> Response:
    check_namespace(request.query_params.get("namespace"))
    name = function_name(request.path_params["name"])
    return JSONResponse(merged(request, await request.state.catalog.get(name)))


async def deploy(request: Request) -> Response:
    payload = await json_body(request, _DEPLOY_EXAMPLE)
    if not is_openfaas_deployment(payload):
        return await register_function(request)  # faas's own shape (its errors say so)
    state = request.state
    check_namespace(payload.get("namespace"))
    name = validate_name(payload.get("service"), "service")
    image = image_reference(payload.get("image"))
    lifecycle: Lifecycle = state.lifecycle
    labels = await lifecycle.image_labels(image)
    if labels is None:
        raise BadRequest(
            f"image: {image!r} does not exist in Docker on this host (the gateway does not "
            "pull images: build it, or `docker pull` it, first)"
        )
    current = await state.registry.get(name)
    if current is None and request.method == "PUT":
        raise FunctionNotFound(name)  # faas-cli then deploys it with a POST
    spec = deployment_manifest(payload, current, labels, state.settings.openfaas_writable_root)
    await _check_host_fits(lifecycle, spec)
    await check_secrets_exist(state.secrets, spec)
    record = await state.registry.put(spec, image, labels.get(keys.LABEL_CODE_HASH, ""))
    state.catalog.put(record)
    invoker: Invoker = state.invoker
    pool = invoker.sync(record)
    if spec.scale.min == 0 and pool.live_count() == 0:
        # As OpenFaaS's providers do, a deploy starts a replica without waiting for a call; it
        # then scales as faas's pool does (to zero when idle, unless the labels say otherwise).
        # With a scale.min, the pool's upkeep starts them.
        invoker.instances.spawn(_start_one(invoker, pool))
    # 202 for a new function, as OpenFaaS's providers answer: faas-cli deploy takes only 200/202.
    return JSONResponse(merged(request, record), 200 if current else 202)


async def _start_one(invoker: Invoker, pool: FunctionPool) -> None:
    """A failed start is the pool's to report (describe, logs); the next call tries again."""
    await invoker.upkeep.prestart(pool, 1)


async def delete(request: Request) -> Response:
    payload = await json_body(request, '{"functionName": "hello"}')
    if not isinstance(payload, dict):
        raise BadRequest('the body must be a JSON object like {"functionName": "hello"}')
    check_namespace(payload.get("namespace"))
    raw = payload.get("functionName")
    if not isinstance(raw, str) or not raw:
        raise ManifestError("functionName", "required: the name of the function to remove")
    name = function_name(raw)
    state = request.state
    await state.catalog.get(name)  # 404 when unknown: faas-cli says so
    await state.registry.delete(name)
    state.catalog.drop(name)
    await state.invoker.forget(name)
    return JSONResponse({"removed": name})


async def scale(request: Request) -> Response:
    """Replicas become the function's scale.min (max grows to fit); 0 also drains it now."""
    state = request.state
    name = function_name(request.path_params["name"])
    payload = await json_body(request, '{"serviceName": "hello", "replicas": 2}')
    if not isinstance(payload, dict):
        raise BadRequest('the body must be a JSON object like {"serviceName": "hello", ...}')
    check_namespace(payload.get("namespace"))
    for field in ("serviceName", "service"):
        given = payload.get(field)
        if given not in (None, "") and (
            not isinstance(given, str) or strip_namespace(given) != name
        ):
            raise ManifestError(field, f"must name the function in the path ({name!r})")
    replicas = payload.get("replicas")
    if isinstance(replicas, bool) or not isinstance(replicas, int) or not replicas >= 0:
        raise ManifestError("replicas", f"must be a whole number >= 0, got {replicas!r}")
    if replicas > MAX_SCALE:
        raise ManifestError("replicas", f"must be at most {MAX_SCALE}, got {replicas}")
    record: FunctionRecord = await state.catalog.get(name)
    wanted = Scale(replicas, max(record.spec.scale.max, replicas))
    if wanted != record.spec.scale:
        spec = dataclasses.replace(record.spec, scale=wanted)
        record = await state.registry.put(spec, record.image, record.code_hash)
        state.catalog.put(record)
    invoker: Invoker = state.invoker
    pool = invoker.sync(record)
    if replicas == 0:
        await invoker.upkeep.drain(pool)
    return JSONResponse({"name": name, "replicas": replicas}, 202)


async def info(request: Request) -> Response:
    try:
        release = importlib.metadata.version("faas")
    except importlib.metadata.PackageNotFoundError:
        release = "dev"
    version = {"sha": release, "release": release}
    return JSONResponse(
        {
            "provider": {"provider": "faas", "orchestration": "docker", "version": version},
            "version": version,
            "arch": platform.machine(),
        }
    )


async def namespaces(request: Request) -> Response:
    return JSONResponse([NAMESPACE])


async def logs(request: Request) -> Response:
    raw = request.query_params.get("name", "")
    if not raw:
        raise ManifestError("name", "required: the function whose logs to read")
    check_namespace(request.query_params.get("namespace"))
    name = function_name(raw)
    await request.state.catalog.get(name)
    return await function_logs_ndjson(request, name)


OPENFAAS_ROUTES = [
    Route("/system/functions", list_functions, methods=["GET"]),
    Route("/system/functions", deploy, methods=["POST", "PUT"]),
    Route("/system/functions", delete, methods=["DELETE"]),
    Route("/system/function/{name}", get_function, methods=["GET"]),
    Route("/system/scale-function/{name}", scale, methods=["POST"]),
    Route("/system/info", info, methods=["GET"]),
    Route("/system/namespaces", namespaces, methods=["GET"]),
    Route("/system/logs", logs, methods=["GET"]),
]

"""`PUT /system/function/{name}/code`: `faas dev` puts edited code into service without an
image build; `DELETE` drops it (the deployed image's code serves again). See faas.pool.dev_code.

Only for functions a generic runtime can serve (no requirements.txt, the gateway's base image,
faas's own runtime, no secrets or Redis binding): the others answer 409 with the reason, and
`faas dev` builds their image instead.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from faas.build.dev_bundle import from_json
from faas.errors import FaasError, PayloadTooLarge
from faas.manifest.spec import check_name
from faas.pool.generic import GenericPool
from faas.pool.invoker import Invoker
from faas.registry.store import FunctionRecord
from gateway.params import json_body

MAX_PUSH = 8 * 1024 * 1024  # 4 MiB of code (MAX_CODE_BYTES), base64-encoded, and the JSON


class NotServedByGeneric(FaasError):
    status = 409
    code = "not_generic"


async def push_code(request: Request) -> Response:
    state = request.state
    invoker: Invoker = state.invoker
    record = await state.catalog.get(check_name(request.path_params["name"]))
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_PUSH:
        raise PayloadTooLarge(f"the body is over {MAX_PUSH} bytes: too much code to push")
    payload = await json_body(request, '{"files": [{"path": "handler.py", "data": "<base64>"}]}')
    code_hash, files = from_json(payload, int(time.time()))
    generic = _generic(invoker, record)
    pool = invoker.pool(record.name) or invoker.sync(record)
    pushed = generic.dev.put(record.name, code_hash, files)
    _retire(invoker, record.name)
    body: dict[str, Any] = {"name": record.name, **pushed.describe()}
    body["spares"] = generic.count_for(pool.spec)
    return JSONResponse(body)


async def drop_code(request: Request) -> Response:
    state = request.state
    invoker: Invoker = state.invoker
    record = await state.catalog.get(check_name(request.path_params["name"]))
    generic = invoker.generic
    dropped = generic is not None and generic.dev.drop(record.name)
    if dropped:
        _retire(invoker, record.name)
    return JSONResponse({"name": record.name, "dropped": dropped})


def _generic(invoker: Invoker, record: FunctionRecord) -> GenericPool:
    generic = invoker.generic
    if generic is None:
        raise NotServedByGeneric("this gateway has no generic runtimes: deploy the function")
    why = generic.describe(record.spec, record.image)["reason"]
    if why is not None:
        raise NotServedByGeneric(
            f"function {record.name!r} is not served by generic runtimes ({why}): "
            "build and deploy its image (`faas deploy`)"
        )
    return generic


def _retire(invoker: Invoker, name: str) -> None:
    """The containers holding the previous code take no new call; idle ones go now, busy ones
    when their calls end."""
    pool = invoker.pool(name)
    if pool is None:
        return
    pool.init_ok()  # new code: a broken version's back-off does not carry over
    for instance in pool.retire():
        if instance.inflight == 0:
            invoker.instances.discard(pool, instance)


DEV_CODE_ROUTES = [
    Route("/system/function/{name}/code", push_code, methods=["PUT"]),
    Route("/system/function/{name}/code", drop_code, methods=["DELETE"]),
]

_FILES = {
    "type": "object",
    "required": ["files"],
    "properties": {
        "files": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "data"],
                "properties": {
                    "path": {"type": "string"},
                    "mode": {"type": "integer"},
                    "data": {"type": "string", "format": "byte"},
                },
            },
        }
    },
}


def _error(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Error"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "the function's name",
    "schema": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
}
_OK = {"description": "done", "content": {"application/json": {"schema": {"type": "object"}}}}
DEV_CODE_PATHS: dict[str, Any] = {
    "/system/function/{name}/code": {
        "parameters": [_NAME],
        "put": {
            "summary": "Serve this code (faas dev) from generic runtimes, without an image build",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _FILES}}},
            "responses": {
                "200": _OK,
                "400": _error("bad request: the message names the field"),
                "404": _error("no such function"),
                "409": _error("not served by generic runtimes: the reason"),
                "413": _error("too much code"),
            },
        },
        "delete": {
            "summary": "Drop pushed code: the deployed image serves again",
            "responses": {"200": _OK, "404": _error("no such function")},
        },
    }
}

"""Async calls, call status and dead letters: thin translations to `faas.queue`.

`/async-function/` is served in front of Starlette, like `/function/` (see `gateway.call_paths`):
enqueueing is one Redis round trip, and Starlette's request machinery would cost more than that.
The rest goes through Starlette's routes below.

POST /async-function/{name}[/{path}]      202 {"call_id"} + X-Call-Id once durably queued
     Idempotency-Key: K                   same K and request -> the same call id, no new call;
                                          same K, other request -> 422
     X-Callback-Url: URL                  the result is POSTed there when the call ends
GET  /system/calls/{call_id}              the call's record (async calls; recent sync calls)
GET  /system/dead-letters[?function=&limit=&before=]
GET  /system/dead-letters/{id}            one dead letter, with its request
POST /system/dead-letters/{id}/redrive    queue it again: 202 {"call_id"}
POST /system/dead-letters/redrive[?function=]   redrive all (of one function)
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from faas.errors import BadRequest, CallNotFound
from faas.manifest.spec import check_name
from faas.queue.service import QueueService
from faas.registry.store import FunctionRecord
from gateway.asgi import error_response, header, read_body, respond
from gateway.openfaas_calls import START_HEADER
from gateway.params import stream_id, whole_number

PREFIX = "/async-function/"

MAX_LIST = 1000
MAX_REDRIVE = 10_000
_CALL_ID_CHARS = frozenset("0123456789abcdefABCDEF-")


def _queue(request: Request) -> QueueService:
    queue: QueueService = request.state.queue
    return queue


async def enqueue_call(
    scope: Scope, receive: Receive, send: Send, record: FunctionRecord | None, start: bytes | None
) -> None:
    """Serve one /async-function/ call (`record` and `start` as in `sync_calls.call_function`)."""
    try:
        call_id, new = await _enqueue(scope, receive, record)
    except Exception as exc:
        status, headers, body = error_response(scope, exc)
    else:
        status, body = 202, b'{"call_id":"' + call_id.encode() + b'"}'
        headers = [(b"x-call-id", call_id.encode()), (b"content-type", b"application/json")]
        if not new:
            headers.append((b"idempotent-replayed", b"true"))
    if start is not None:
        headers.append((START_HEADER, start))
    await respond(send, status, headers, body)


async def _enqueue(
    scope: Scope, receive: Receive, record: FunctionRecord | None
) -> tuple[str, bool]:
    state = scope["state"]
    raw_name, slash, rest = scope["raw_path"][len(PREFIX) :].partition(b"/")
    name = record.name if record is not None else check_name(raw_name.decode("latin-1"))
    if record is None:
        await state["catalog"].get(name)  # 404 for an unknown function, never 202
    body = await read_body(scope, receive, state["settings"].max_body)
    key, callback = header(scope, b"idempotency-key"), header(scope, b"x-callback-url")
    queue: QueueService = state["queue"]
    queued = await queue.enqueue(
        name,
        method=scope["method"],
        target=slash + rest,  # still percent-encoded, as the caller sent it
        query=scope["query_string"],
        headers=scope["headers"],
        body=body,
        idempotency_key=key.decode("latin-1") if key is not None else None,
        callback=callback.decode("latin-1") if callback is not None else None,
    )
    return queued.call_id, queued.new


async def get_call(request: Request) -> Response:
    call_id = request.path_params["call_id"]
    if len(call_id) <= 64 and set(call_id) <= _CALL_ID_CHARS:
        found = await _queue(request).call(call_id)
        if found is None:
            recent = getattr(request.state, "recent_calls", None)
            found = recent.get(call_id) if recent is not None else None
        if found is not None:
            return JSONResponse(found)
    raise CallNotFound(
        f"no call with id {call_id!r} (async records expire after FAAS_ASYNC_RESULT_TTL)"
    )


async def list_dead_letters(request: Request) -> Response:
    params = request.query_params
    function = params.get("function") or None
    if function is not None:
        check_name(function)
    limit = whole_number(request, "limit", 1, MAX_LIST) or 100
    before = stream_id(request, "before") or "+"
    letters = await _queue(request).dead_letters(function, limit, before)
    return JSONResponse({"dead_letters": letters})


async def get_dead_letter(request: Request) -> Response:
    return JSONResponse(await _queue(request).dead_letter(_entry_id(request)))


async def redrive_dead_letter(request: Request) -> Response:
    call_id = await _queue(request).redrive(_entry_id(request))
    return JSONResponse({"call_id": call_id}, 202, headers={"X-Call-Id": call_id})


async def redrive_all(request: Request) -> Response:
    function = request.query_params.get("function") or None
    if function is not None:
        check_name(function)
    queue = _queue(request)
    redriven: list[dict[str, Any]] = []
    # One pass over what is dead now: calls that die again meanwhile wait for the next redrive.
    for letter in await queue.dead_letters(function, MAX_REDRIVE):
        try:
            call_id = await queue.redrive(letter["id"])
        except CallNotFound:  # redriven meanwhile through another gateway
            continue
        except BadRequest:  # a malformed entry: nothing to run
            continue
        redriven.append({"id": letter["id"], "call_id": call_id})
    return JSONResponse({"redriven": redriven})


def _entry_id(request: Request) -> str:
    entry_id: str = request.path_params["id"]
    ms, dash, seq = entry_id.partition("-")
    if not (ms.isascii() and ms.isdigit() and dash and seq.isascii() and seq.isdigit()):
        raise CallNotFound(f"no dead letter with id {entry_id!r} (ids look like 1700000000000-0)")
    return entry_id


ASYNC_ROUTES = [
    Route("/system/calls/{call_id}", get_call, methods=["GET"]),
    Route("/system/dead-letters", list_dead_letters, methods=["GET"]),
    Route("/system/dead-letters/redrive", redrive_all, methods=["POST"]),
    Route("/system/dead-letters/{id}", get_dead_letter, methods=["GET"]),
    Route("/system/dead-letters/{id}/redrive", redrive_dead_letter, methods=["POST"]),
]

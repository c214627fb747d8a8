"""`GET /system/logs?name=&tail=&since=&follow=`: a function's logs as OpenFaaS streams them.

One JSON object per line (application/x-ndjson), faas-provider's `logs.Message`:
    {"name", "namespace", "instance", "timestamp" (RFC 3339), "text"}
Lines of containers already removed (instance "") and of the current ones, in time order.
`follow=true` (what `faas-cli logs` sends by default) keeps the response open and sends new
lines, also of containers started meanwhile, once a second, for at most FOLLOW_LIMIT seconds.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import time
from collections.abc import AsyncIterator
from typing import NamedTuple

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from faas.errors import FaasError, ManifestError
from faas.manifest.openfaas import NAMESPACE
from faas.pool.invoker import Invoker
from faas.pool.lifecycle import Lifecycle

NDJSON = "application/x-ndjson"
FOLLOW_LIMIT = 30 * 60.0  # OpenFaaS's gateway ends a log stream after its write timeout too
FOLLOW_EVERY = 1.0
_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})  # Go's strconv.ParseBool
_FALSE = frozenset({"0", "f", "F", "false", "FALSE", "False"})

Line = tuple[str, str]  # (instance, "TIMESTAMP text")


class Bound(NamedTuple):
    lines: int
    max_bytes: int


async def function_logs_ndjson(request: Request, name: str) -> Response:
    params = request.query_params
    tail = _tail(params.get("tail", ""))
    since = _since(params.get("since", ""))
    follow = _follow(params.get("follow", ""))
    state = request.state
    # Bounded like faas's own logs route: at most FAAS_LOGS_MAX_LINES lines, and each source
    # read only up to FAAS_LOGS_MAX_BYTES (a 200 MB stdout never comes back whole).
    settings = state.settings
    limit = min(tail, settings.logs_max_lines) if tail > 0 else settings.logs_max_lines
    bound = Bound(limit, settings.logs_max_bytes)
    archived: list[Line] = []
    if since is None:
        page, _ = await state.registry.archived_page(name, None, limit, bound.max_bytes)
        archived = [("", line) for line in page]
    live = await _live(state.invoker, state.lifecycle, name, since, bound)
    lines = sorted(archived + live, key=lambda pair: pair[1])[-limit:]  # by engine timestamp
    first = [_message(name, instance, line) for instance, line in lines]
    if not follow:
        return Response(b"".join(first), media_type=NDJSON)
    seen = {line for _, line in lines}
    stream = _follow_stream(request, name, first, seen, bound)
    return StreamingResponse(stream, media_type=NDJSON)


async def _follow_stream(
    request: Request, name: str, first: list[bytes], seen: set[str], bound: Bound
) -> AsyncIterator[bytes]:
    for message in first:
        yield message
    state = request.state
    ends = time.monotonic() + FOLLOW_LIMIT
    since = time.time() - FOLLOW_EVERY
    while time.monotonic() < ends:
        await asyncio.sleep(FOLLOW_EVERY)
        if state.invoker.pool(name) is None or await request.is_disconnected():
            return  # removed, or nobody reads any more: stop asking the engine
        now = time.time()
        try:
            fresh = await _live(state.invoker, state.lifecycle, name, since, bound)
        except FaasError:
            continue  # the engine hiccuped: try again next second
        for instance, line in fresh:
            if line not in seen:
                seen.add(line)
                yield _message(name, instance, line)
        since = now - FOLLOW_EVERY  # overlap: a line written as we read is not lost
        if len(seen) > 10_000:
            seen = {line for _, line in fresh}


async def _live(
    invoker: Invoker, lifecycle: Lifecycle, name: str, since: float | None, bound: Bound
) -> list[Line]:
    pool = invoker.pool(name)
    ids = [i.container_id for i in pool or () if i.container_id is not None]
    reads = (lifecycle.logs(cid, since, tail=bound.lines, max_bytes=bound.max_bytes) for cid in ids)
    batches = await asyncio.gather(*reads)
    lines = [(cid[:12], line) for cid, batch in zip(ids, batches, strict=True) for line in batch]
    return sorted(lines, key=lambda pair: pair[1])


def _message(name: str, instance: str, line: str) -> bytes:
    stamp, _, text = line.partition(" ")
    if not stamp[:4].isdigit():  # not prefixed by the engine: keep the whole line
        stamp, text = "", line
    message = {
        "name": name,
        "namespace": NAMESPACE,
        "instance": instance,
        "timestamp": stamp or "0001-01-01T00:00:00Z",
        "text": text,
    }
    return json.dumps(message).encode() + b"\n"


def _tail(value: str) -> int:
    """faas-provider: a whole number, <= 0 for every line."""
    try:
        tail = int(value) if value else 0
    except ValueError:
        raise ManifestError("tail", f"must be a whole number, got {value[:32]!r}") from None
    return min(max(tail, 0), 100_000)


def _since(value: str) -> float | None:
    if not value:
        return None
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise ManifestError(
            "since", f"must be an RFC 3339 time like 2024-01-02T15:04:05Z, got {value[:40]!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    seconds = moment.timestamp()
    return seconds if seconds >= 1 else None  # the engine cannot take tiny or negative times


def _follow(value: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE or value == "":
        return False
    raise ManifestError("follow", f"must be true or false, got {value[:16]!r}")

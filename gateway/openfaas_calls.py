"""OpenFaaS's conventions on the way in, before anything else sees the request.

- `name.openfaas-fn` (what faas-cli puts in `/function/` paths) becomes `name` in the path, so
  every layer behind (API keys, limits, CORS, the call paths, `/system` routes) sees one name:
  a suffix is never a way around a function's policy.
- Calls get OpenFaaS's `X-Start-Time` (Unix nanoseconds when the gateway received the call),
  on the request the function sees and on the response.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from faas.manifest.openfaas import NAMESPACE

SUFFIX = b"." + NAMESPACE.encode()
NAMED_PREFIXES = (
    b"/function/",
    b"/async-function/",
    b"/system/function/",
    b"/system/scale-function/",
    b"/system/logs/",
)
CALL_PREFIXES = ("/function/", "/async-function/")
START_HEADER = b"x-start-time"


class OpenFaasCalls:
    """ASGI middleware: the outermost layer of the gateway."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if SUFFIX in scope["raw_path"]:
            scope = _without_namespace(scope)
        if not scope["path"].startswith(CALL_PREFIXES):
            await self.app(scope, receive, send)
            return
        start = b"%d" % time.time_ns()
        headers = scope["headers"]
        if isinstance(headers, list):  # the server's own, made for this request: no copy
            headers.append((START_HEADER, start))
        else:
            scope = {**scope, "headers": [*headers, (START_HEADER, start)]}

        async def send_with_start(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (START_HEADER, start)]
            await send(message)

        await self.app(scope, receive, send_with_start)


def _without_namespace(scope: Scope) -> Scope:
    raw: bytes = scope["raw_path"]
    prefix = next((p for p in NAMED_PREFIXES if raw.startswith(p)), None)
    if prefix is None:
        return scope
    name, slash, rest = raw[len(prefix) :].partition(b"/")
    if not name.endswith(SUFFIX):
        return scope
    raw = prefix + name[: -len(SUFFIX)] + slash + rest
    path: str = scope["path"]
    text_prefix = prefix.decode()
    text_name, text_slash, text_rest = path[len(text_prefix) :].partition("/")
    text_name = text_name.removesuffix(SUFFIX.decode())
    return {**scope, "raw_path": raw, "path": text_prefix + text_name + text_slash + text_rest}

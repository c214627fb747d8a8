"""Unit-test a function in-process: its handler called with the runtime's own Event and Context,
its return value (or exception) turned into a response exactly as in a container. No Docker,
no gateway, no build.

    from faas.testing import call, load

    handle = load("functions/hello")       # reads faas.yaml, imports handler.py afresh
    response = call(handle, "POST", "/", json={"name": "Ada"})
    assert response.status == 200
    assert response.json() == {"message": "Hello, Ada!"}

`call` runs the handler through `faas.runtime.invoke`: a str becomes text/plain, a dict JSON,
a `statusCode` dict its own response, an exception a 500 `handler_error` (its traceback on
stderr, where pytest shows it). For a handler's raw return value, call it yourself with
`event(...)` and `context(...)`. A `contract: lambda` function is loaded through the Lambda
adapter, so `call` sends its JSON event as the gateway would and returns Lambda's shapes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json as jsonlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from faas.manifest.openfaas import NODE
from faas.manifest.spec import FunctionSpec, load_manifest
from faas.runtime import Context, Event, invoke
from faas.runtime.codec import parse_query

__all__ = ["Response", "call", "context", "event", "load", "load_module"]

Handler = Callable[[Event, Context], Any]


def event(
    method: str = "GET",
    path: str = "/",
    *,
    query: Mapping[str, str | list[str]] | str | None = None,
    headers: Mapping[str, str] | None = None,
    body: bytes | str = b"",
    json: Any = None,
) -> Event:
    """A call's Event as the runtime builds it. `query` is a mapping (a list for repeated
    keys) or a query string; `json=` sets the body and Content-Type application/json."""
    headers = dict(headers or {})
    if json is not None:
        body = jsonlib.dumps(json)
        if not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json"
    if isinstance(query, str):
        query_list = parse_query(query.encode())
    else:
        query_list = {
            key: list(value) if isinstance(value, list) else [value]
            for key, value in (query or {}).items()
        }
    data = body.encode() if isinstance(body, str) else bytes(body)
    return Event(method, path, query_list, headers, data)


def context(
    function_name: str = "function",
    call_id: str = "test-call",
    *,
    cold: bool = False,
    timeout_ms: float | None = None,
) -> Context:
    """A call's Context: `remaining_ms()` counts down from `timeout_ms` (inf without one)."""
    return Context(function_name, call_id, cold, timeout_ms)


@dataclass
class Response:
    """What the caller of the function would get: status, headers (lower-case names), body."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return jsonlib.loads(self.body)


def call(
    handler: Handler,
    method: str = "GET",
    path: str = "/",
    *,
    query: Mapping[str, str | list[str]] | str | None = None,
    headers: Mapping[str, str] | None = None,
    body: bytes | str = b"",
    json: Any = None,
    ctx: Context | None = None,
) -> Response:
    """Call `handler` once, as the runtime does, and return the response."""
    request = event(method, path, query=query, headers=headers, body=body, json=json)
    status, pairs, data = invoke(handler, request, ctx or context())
    names = {name.lower(): value for name, value in pairs if name.lower() != "x-faas-handler-ms"}
    return Response(status, names, data)


def load_module(folder: str | Path, spec: FunctionSpec | None = None) -> ModuleType:
    """A fresh copy of the function's handler module (module-level state included), its folder
    first on sys.path so that it imports its own modules as in the container."""
    path = Path(folder).resolve()
    spec = spec or load_manifest(path)
    if spec.lang == NODE:
        raise ValueError(f"{spec.name} is a Node.js function: test it with `node --test`")
    module_name = spec.handler.rsplit(".", 1)[0]
    relative = module_name.replace(".", "/")
    file = path / f"{relative}.py"
    if not file.is_file():
        file = path / relative / "__init__.py"
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:8]
    unique = f"faas_testing_{digest}_{module_name.replace('.', '_')}"
    loader_spec = importlib.util.spec_from_file_location(unique, file)
    assert loader_spec is not None and loader_spec.loader is not None
    module = importlib.util.module_from_spec(loader_spec)
    loader_spec.loader.exec_module(module)
    return module


def load(folder: str | Path) -> Handler:
    """The function's handler, as its faas.yaml names it (through the Lambda adapter for
    `contract: lambda`), from a fresh copy of its module."""
    spec = load_manifest(Path(folder).resolve())
    handler: Handler = getattr(load_module(folder, spec), spec.handler.rsplit(".", 1)[1])
    if spec.contract == "lambda":
        from faas.runtime import lambda_adapter

        return lambda_adapter.wrap(handler)
    return handler

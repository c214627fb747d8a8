"""`GET /openapi.json`: the gateway's HTTP API as OpenAPI 3.0, and `GET /docs`: a page that
renders it with no asset from the internet. tests/integration/test_openapi.py keeps the document
true: every route the app serves is in it and nothing else, and a fuzz run over it gets no 5xx.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from gateway.api_key_routes import API_KEY_PATHS
from gateway.dashboard import DASHBOARD_PATHS
from gateway.dev_code import DEV_CODE_PATHS
from gateway.lambda_openapi import LAMBDA_PATHS
from gateway.openapi_parts import error as _error
from gateway.openapi_parts import json_response as _json
from gateway.openapi_parts import parameter, request_body
from gateway.openapi_schemas import MANIFEST, NAME, SCHEMAS, SECRET
from gateway.openfaas_openapi import add_openfaas
from gateway.params import MAX_SINCE, MAX_TAIL

ANY_METHOD = ("get", "post", "put", "patch", "delete", "head", "options")


def _path(name: str, description: str, pattern: str | None = None) -> dict[str, Any]:
    return parameter(
        name, "path", description, {"type": "string", "pattern": pattern} if pattern else None
    )


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return parameter(name, "query", description, schema)


FUNCTION = _path("name", "the function's name", NAME)
SUBPATH = _path("path", "the rest of the path, passed to the handler as event.path")
ENTRY = _path("id", "a dead letter's id, like 1700000000000-0")
BAD, MISSING = _error("bad request: the message names the field"), _error("no such function")
UNAVAILABLE = _error("Docker or Redis unavailable")


def _call(summary: str, *, asynchronous: bool) -> dict[str, Any]:
    responses: dict[str, Any] = {"400": BAD, "404": MISSING, "413": _error("body too large")}
    # A function's own API-gateway fields (auth, rate_limit, quota, cors, request_schema).
    responses["401"] = _error("auth: api-key and no X-Api-Key header")
    responses["403"] = _error("X-Api-Key not valid for this function, or CORS preflight refused")
    responses["429"] = _error("over a rate limit, a quota, or the scale limit (Retry-After)")
    if asynchronous:
        responses["202"] = _json("queued durably", {"$ref": "#/components/schemas/Queued"})
        responses["422"] = _error("the Idempotency-Key was used for another request")
    else:
        responses["default"] = {"description": "the function's own answer"}
        responses.update({"502": _error("crashed"), "504": _error("timed out")})
    return {
        "summary": summary,
        "requestBody": {"required": False, "content": {"*/*": {"schema": {}}}},
        "responses": responses,
    }


def _calls(prefix: str, asynchronous: bool) -> dict[str, dict[str, Any]]:
    verb = "Queue a call of" if asynchronous else "Call"
    methods = ("post",) if asynchronous else ANY_METHOD
    paths = {}
    for suffix, params in (("", [FUNCTION]), ("/{path}", [FUNCTION, SUBPATH])):
        item: dict[str, Any] = {"parameters": params}
        for method in methods:
            item[method] = _call(f"{verb} the function", asynchronous=asynchronous)
        paths[f"{prefix}/{{name}}{suffix}"] = item
    return paths


DOCUMENT: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "faas gateway", "version": "1", "description": "faas's own HTTP API."},
    "paths": {
        **_calls("/function", asynchronous=False),
        **_calls("/async-function", asynchronous=True),
        "/system/functions": {
            "get": {
                "summary": "Every function's record",
                "responses": {
                    "200": _json("records", {"type": "array", "items": {"type": "object"}}),
                    "503": UNAVAILABLE,
                },
            },
            "post": {
                "summary": "Register or update a function (used by faas deploy)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["manifest", "image"],
                                "properties": {
                                    "manifest": MANIFEST,
                                    "image": {"type": "string"},
                                    "code_hash": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json("updated"),
                    "201": _json("registered"),
                    "400": BAD,
                    "503": UNAVAILABLE,
                },
            },
        },
        "/system/function/{name}": {
            "parameters": [FUNCTION],
            "get": {
                "summary": "One function's record",
                "responses": {"200": _json("the record"), "404": MISSING},
            },
            "delete": {
                "summary": "Remove a function and its containers",
                "responses": {"200": _json("removed"), "404": MISSING},
            },
        },
        "/system/function/{name}/pool": {
            "parameters": [FUNCTION],
            "post": {
                "summary": "Drain, pause or pre-start the function's containers",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["action"],
                                "properties": {
                                    "action": {"enum": ["drain", "pause", "prestart"]},
                                    "count": {"type": "integer", "minimum": 1, "maximum": 100},
                                },
                            }
                        }
                    },
                },
                "responses": {"200": _json("what was done"), "400": BAD, "404": MISSING},
            },
        },
        "/system/logs/{name}": {
            "parameters": [FUNCTION],
            "get": {
                "summary": "A page of the function's newest log lines, each tagged with its "
                "call id; at most FAAS_LOGS_MAX_LINES lines and FAAS_LOGS_MAX_BYTES of text. "
                "The answer's `before` (null on the oldest page) asks for the next, older page.",
                "parameters": [
                    _query(
                        "tail",
                        "only the last N lines (at most FAAS_LOGS_MAX_LINES)",
                        {"type": "integer", "minimum": 0, "maximum": MAX_TAIL},
                    ),
                    _query(
                        "since",
                        "only lines after this epoch time",
                        {"type": "number", "minimum": 0, "maximum": MAX_SINCE},
                    ),
                    _query(
                        "before",
                        "only lines before this: an earlier page's `before`, or epoch seconds",
                        {"type": "string", "maxLength": 40},
                    ),
                ],
                "responses": {
                    "200": _json("lines (oldest first), before, now"),
                    "400": BAD,
                    "404": MISSING,
                },
            },
        },
        "/system/calls/{call_id}": {
            "parameters": [_path("call_id", "the call's id (X-Call-Id)")],
            "get": {
                "summary": "A call's status, attempts, timings and result",
                "responses": {"200": _json("the call's record"), "404": _error("no such call")},
            },
        },
        "/system/dead-letters": {
            "get": {
                "summary": "Dead letters, newest first",
                "parameters": [
                    _query("function", "only this function's", {"type": "string", "pattern": NAME}),
                    _query(
                        "limit",
                        "at most this many",
                        {"type": "integer", "minimum": 1, "maximum": 1000},
                    ),
                    _query(
                        "before",
                        "the page after this id",
                        {"type": "string", "pattern": r"^[0-9]+(-[0-9]+)?$"},
                    ),
                ],
                "responses": {"200": _json("dead letters"), "400": BAD},
            },
        },
        "/system/dead-letters/redrive": {
            "post": {
                "summary": "Queue every dead letter (of one function) again",
                "parameters": [
                    _query("function", "only this function's", {"type": "string", "pattern": NAME})
                ],
                "responses": {"200": _json("the new calls")},
            },
        },
        "/system/dead-letters/{id}": {
            "parameters": [ENTRY],
            "get": {
                "summary": "One dead letter with its request",
                "responses": {
                    "200": _json("the dead letter"),
                    "404": _error("no such dead letter"),
                },
            },
        },
        "/system/dead-letters/{id}/redrive": {
            "parameters": [ENTRY],
            "post": {
                "summary": "Queue one dead letter again",
                "responses": {
                    "202": _json("queued", {"$ref": "#/components/schemas/Queued"}),
                    "404": _error("no such dead letter"),
                },
            },
        },
        **API_KEY_PATHS,
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {
                        "description": "Prometheus text",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "200 when Docker, Redis and every background loop are well",
                "responses": {"200": _json("healthy"), "503": _error("what is not")},
            }
        },
        "/openapi.json": {
            "get": {"summary": "This document", "responses": {"200": _json("OpenAPI 3.0")}}
        },
        "/docs": {
            "get": {
                "summary": "This document as a page",
                "responses": {
                    "200": {
                        "description": "HTML",
                        "content": {"text/html": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    },
    "components": {"schemas": SCHEMAS},
}
DOCUMENT["paths"].update(LAMBDA_PATHS)  # the Lambda API (gateway/lambda_api.py)
DOCUMENT["paths"].update(DASHBOARD_PATHS)  # the live dashboard (gateway/dashboard.py)
DOCUMENT["paths"].update(DEV_CODE_PATHS)  # `faas dev` (gateway/dev_code.py)
# PUT is OpenFaaS's spelling of an update; both register or update.
DOCUMENT["paths"]["/system/functions"]["put"] = DOCUMENT["paths"]["/system/functions"]["post"]

add_openfaas(
    DOCUMENT,
    DOCUMENT["paths"]["/system/functions"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ],
)

# OpenFaaS's secrets API (gateway/secret_routes.py): names only ever come back, never values.
_SECRET_BODY = request_body(SECRET)
_NO_SECRET = _error("no such secret")
DOCUMENT["paths"]["/system/secrets"] = {
    "get": {
        "summary": "Every secret's name (never a value)",
        "responses": {
            "200": _json(
                "names",
                {
                    "type": "array",
                    "items": {"type": "object", "properties": {"name": {"type": "string"}}},
                },
            ),
            "503": UNAVAILABLE,
        },
    },
    "post": {
        "summary": "Create a secret",
        "requestBody": _SECRET_BODY,
        "responses": {"201": _json("created"), "400": BAD, "409": _error("it exists already")},
    },
    "put": {
        "summary": "Replace a secret's value; instances that mounted the old one are retired",
        "requestBody": _SECRET_BODY,
        "responses": {"200": _json("updated"), "400": BAD, "404": _NO_SECRET},
    },
    "delete": {
        "summary": "Remove a secret",
        "requestBody": _SECRET_BODY,
        "responses": {
            "200": _json("removed"),
            "400": BAD,
            "404": _NO_SECRET,
            "409": _error("a deployed function names it"),
        },
    },
}

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>faas gateway API</title>
<style>body{font:15px/1.4 system-ui,sans-serif;margin:2em;max-width:60em}
code{background:#f3f3f3;padding:0 .3em}h2{margin-top:1.5em}li{margin:.2em 0}</style></head>
<body><h1>faas gateway API</h1><p>The machine-readable document: <a href="/openapi.json">
/openapi.json</a>.</p><div id="api"></div>
<script>
const api = __DOCUMENT__;
const root = document.getElementById("api");
for (const [path, item] of Object.entries(api.paths)) {
  const h = document.createElement("h2"); h.textContent = path; root.appendChild(h);
  const ul = document.createElement("ul"); root.appendChild(ul);
  for (const [method, op] of Object.entries(item)) {
    if (method === "parameters") continue;
    const li = document.createElement("li");
    const params = [...(item.parameters || []), ...(op.parameters || [])]
      .map(p => p.name + " (" + p.in + ")").join(", ");
    li.textContent = method.toUpperCase() + " " + op.summary +
      (params ? " [" + params + "]" : "") + " -> " + Object.keys(op.responses).join(", ");
    ul.appendChild(li);
  }
}
</script></body></html>
"""


async def openapi_json(request: Request) -> Response:
    return JSONResponse(DOCUMENT)


async def docs(request: Request) -> Response:
    document = json.dumps(DOCUMENT).replace("</", "<\\/")  # inside <script>
    return HTMLResponse(_PAGE.replace("__DOCUMENT__", document))


OPENAPI_ROUTES = [
    Route("/openapi.json", openapi_json, methods=["GET"]),
    Route("/docs", docs, methods=["GET"]),
]

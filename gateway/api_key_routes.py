"""API keys on the control plane (behind its credentials, like every /system route).

POST   /system/api-keys        {"name", "functions": [...], "rate_limit": {"rate", "burst"},
                               "quota": {"limit", "period"}} (all optional) -> 201, with "key":
                               the secret, in this answer only
GET    /system/api-keys        {"api_keys": [...]}: id, name, prefix, functions, plan; no secret
GET    /system/api-keys/{id}   one key's record
DELETE /system/api-keys/{id}   revoke it: refused by every gateway from its next call
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from faas.errors import BadRequest, ManifestError
from faas.manifest.api import parse_quota, parse_rate_limit
from faas.manifest.spec import validate_name
from faas.registry.api_keys import ApiKeys
from gateway.openapi_parts import json_response, parameter, request_body
from gateway.params import json_body

MAX_NAME = 100
MAX_FUNCTIONS = 1000
_FIELDS = ("name", "functions", "rate_limit", "quota")
_EXAMPLE = '{"name": "partner", "functions": ["hello"], "quota": {"limit": 1000, "period": "day"}}'


def _keys(request: Request) -> ApiKeys:
    store: ApiKeys = request.state.api_keys
    return store


async def create_key(request: Request) -> Response:
    payload = await json_body(request, _EXAMPLE)
    if not isinstance(payload, dict):
        raise BadRequest(f"the body must be a JSON object like {_EXAMPLE}")
    unknown = sorted(str(key) for key in payload if key not in _FIELDS)
    if unknown:
        raise BadRequest(f"{unknown[0]}: unknown field (known: {', '.join(_FIELDS)})")
    name = payload.get("name") or ""
    if not isinstance(name, str) or len(name) > MAX_NAME or not name.isprintable():
        raise BadRequest(f"name: must be printable text of at most {MAX_NAME} characters")
    functions = payload.get("functions") or []
    if not isinstance(functions, list) or len(functions) > MAX_FUNCTIONS:
        raise BadRequest(f"functions: must be a list of function names, got {functions!r}")
    for index, function in enumerate(functions):
        validate_name(function, f"functions[{index}]")
    rate_limit = _plan_part(payload, "rate_limit", parse_rate_limit)
    quota = _plan_part(payload, "quota", parse_quota)
    record, token = await _keys(request).create(
        name, tuple(dict.fromkeys(functions)), rate_limit, quota
    )
    return JSONResponse({**record.to_json(), "key": token}, 201)


def _plan_part(payload: dict[str, Any], key: str, parse: Any) -> Any:
    value = payload.get(key)
    if value is None:
        return None
    try:
        return parse(value)
    except ManifestError as exc:
        reason = exc.message.split(": ", 1)[1] if exc.field else exc.message
        raise ManifestError(f"{key}.{exc.field}" if exc.field else key, reason) from None


async def list_keys(request: Request) -> Response:
    return JSONResponse({"api_keys": [key.to_json() for key in await _keys(request).list()]})


async def get_key(request: Request) -> Response:
    return JSONResponse((await _keys(request).get(request.path_params["id"])).to_json())


async def revoke_key(request: Request) -> Response:
    key_id = request.path_params["id"]
    await _keys(request).revoke(key_id)
    return JSONResponse({"revoked": key_id})


def _answer(description: str, ref: str | None = None) -> dict[str, Any]:
    return json_response(description, {"$ref": f"#/components/schemas/{ref}"} if ref else None)


_ID_PARAMETER = parameter(
    "id", "path", "an API key's id (12 hex digits)", {"type": "string", "pattern": "^[0-9a-f]{12}$"}
)
_CREATE = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": MAX_NAME},
        "functions": {
            "type": "array",
            "items": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        },
        "rate_limit": {"$ref": "#/components/schemas/RateLimit"},
        "quota": {"$ref": "#/components/schemas/Quota"},
    },
}
# These routes in the OpenAPI document (gateway.openapi), kept next to them.
API_KEY_PATHS: dict[str, Any] = {
    "/system/api-keys": {
        "get": {
            "summary": "Every API key: id, name, prefix, functions, plan (never the secret)",
            "responses": {"200": _answer("keys"), "503": _answer("Redis unavailable", "Error")},
        },
        "post": {
            "summary": "Create an API key; the answer carries its secret, this once",
            "requestBody": request_body(_CREATE),
            "responses": {
                "201": _answer("the key, with its secret"),
                "400": _answer("bad request: the message names the field", "Error"),
            },
        },
    },
    "/system/api-keys/{id}": {
        "parameters": [_ID_PARAMETER],
        "get": {
            "summary": "One API key's record",
            "responses": {"200": _answer("the key"), "404": _answer("no such key", "Error")},
        },
        "delete": {
            "summary": "Revoke an API key: refused from its next call on every gateway",
            "responses": {"200": _answer("revoked"), "404": _answer("no such key", "Error")},
        },
    },
}

API_KEY_ROUTES = [
    Route("/system/api-keys", list_keys, methods=["GET"]),
    Route("/system/api-keys", create_key, methods=["POST"]),
    Route("/system/api-keys/{id}", get_key, methods=["GET"]),
    Route("/system/api-keys/{id}", revoke_key, methods=["DELETE"]),
]

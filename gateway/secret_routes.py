"""`/system/secrets`: OpenFaaS's secrets API, so `faas-cli secret ...` works as well as `faas`.

    GET     -> 200 [{"name": ...}]            names only: no route ever returns a value
    POST    {"name", "value"} -> 201          409 when it exists
    PUT     {"name", "value"} -> 200          404 when it does not
    DELETE  {"name"} -> 200                   404 when it does not, 409 while a function uses it

`rawValue` (base64, for binary values) stands in for `value`, as in faas-provider's
`types.Secret`; `namespace` is accepted and ignored (one namespace). Behind the control plane's
credentials like every `/system` route. Bodies and values are never logged.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from faas.errors import BadRequest, ManifestError, SecretInUse
from faas.manifest.secret_names import validate_secret_name
from faas.manifest.spec import FunctionSpec
from faas.registry.secrets import SecretStore
from gateway.params import json_body

MAX_SECRET_BYTES = 512 * 1024  # Docker's own limit for a Swarm secret is 500 KB
_FIELDS = ("name", "value", "rawValue", "namespace")
_EXAMPLE = '{"name": "db-password", "value": "..."}'


async def list_secrets(request: Request) -> Response:
    store: SecretStore = request.state.secrets
    return JSONResponse([{"name": name} for name in await store.names()])


async def create_secret(request: Request) -> Response:
    name, value = await _secret(request, needs_value=True)
    store: SecretStore = request.state.secrets
    await store.create(name, value)
    return JSONResponse({"name": name}, 201)


async def update_secret(request: Request) -> Response:
    name, value = await _secret(request, needs_value=True)
    store: SecretStore = request.state.secrets
    await store.update(name, value)
    # This gateway's instances that mounted the old value go now; the others' within a second.
    await request.state.secret_watch.round()
    return JSONResponse({"name": name})


async def remove_secret(request: Request) -> Response:
    name, _ = await _secret(request, needs_value=False)
    store: SecretStore = request.state.secrets
    # As Docker refuses to remove a secret a service uses: their next starts would fail.
    users = [r.name for r in await request.state.catalog.all() if name in r.spec.secrets]
    if users:
        raise SecretInUse(
            f"name: secret {name!r} is used by {', '.join(users)}: remove it from their "
            "`secrets:` (or remove them) first"
        )
    await store.remove(name)
    await request.state.secret_watch.round()
    return JSONResponse({"name": name})


async def _secret(request: Request, *, needs_value: bool) -> tuple[str, bytes]:
    payload = await json_body(request, _EXAMPLE)
    if not isinstance(payload, dict):
        raise BadRequest(f"the body must be a JSON object like {_EXAMPLE}")
    unknown = sorted(str(key) for key in payload if key not in _FIELDS)
    if unknown:
        raise ManifestError(unknown[0][:64], f"unknown field (known: {', '.join(_FIELDS)})")
    name = validate_secret_name(payload.get("name"))
    namespace = payload.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise ManifestError("namespace", "must be a string (it is ignored: one namespace)")
    if not needs_value:
        return name, b""
    return name, _value(payload)


def _value(payload: dict[str, Any]) -> bytes:
    """`rawValue` (base64) when given, else `value`: faas-provider's rule. Never echoed."""
    raw, text = payload.get("rawValue"), payload.get("value")
    if raw not in (None, ""):
        if not isinstance(raw, str):
            raise ManifestError("rawValue", "must be a base64 string")
        try:
            value = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise ManifestError("rawValue", "is not valid base64") from None
    elif isinstance(text, str):
        try:
            value = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (\ud800) in the JSON string
            raise ManifestError("value", "must be valid Unicode (or use rawValue)") from None
    elif text is None:
        raise ManifestError("value", "is required (or rawValue, base64), and must not be empty")
    else:
        raise ManifestError("value", f"must be a string, got {type(text).__name__}")
    if not value:
        raise ManifestError("value", "must not be empty")
    if len(value) > MAX_SECRET_BYTES:
        raise ManifestError("value", f"must be at most {MAX_SECRET_BYTES // 1024} KiB")
    return value


MASK = "****"


def masked_config(config: dict[str, Any]) -> dict[str, Any]:
    """A function's config as the API shows it: environment values masked (they often hold
    credentials; secrets are the place for those). A copy: records share their config."""
    environment = config.get("environment")
    if not environment:
        return config
    return {**config, "environment": dict.fromkeys(environment, MASK)}


async def check_secrets_exist(store: SecretStore, spec: FunctionSpec) -> None:
    """A deploy naming a secret that does not exist is refused, naming it (400)."""
    missing = await store.missing(spec.secrets)
    if missing:
        index = spec.secrets.index(missing[0])
        raise ManifestError(
            f"secrets[{index}]",
            f"no secret named {missing[0]!r}: create it first with "
            f"`faas secret create {missing[0]}` (POST /system/secrets)",
        )


SECRET_ROUTES = [
    Route("/system/secrets", list_secrets, methods=["GET"]),
    Route("/system/secrets", create_secret, methods=["POST"]),
    Route("/system/secrets", update_secret, methods=["PUT"]),
    Route("/system/secrets", remove_secret, methods=["DELETE"]),
]

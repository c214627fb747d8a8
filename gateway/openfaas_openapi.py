"""The OpenAPI document's part for OpenFaaS's API (gateway/openfaas_routes.py)."""

from __future__ import annotations

from typing import Any

from gateway.openapi_parts import error as _error
from gateway.openapi_parts import json_response as _json
from gateway.openapi_parts import parameter
from gateway.openapi_parts import request_body as _body

OPENFAAS_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.openfaas-fn)?$"
_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_RESOURCES = {
    "type": "object",
    "properties": {"memory": {"type": "string"}, "cpu": {"type": "string"}},
}
FUNCTION_DEPLOYMENT = {
    "type": "object",
    "required": ["service", "image"],
    "description": "OpenFaaS's FunctionDeployment (faas-provider types)",
    "properties": {
        "service": {"type": "string"},
        "image": {"type": "string"},
        "namespace": {"type": "string"},
        "envProcess": {"type": "string"},
        "envVars": _MAP,
        "constraints": {"type": "array", "items": {"type": "string"}},
        "secrets": {"type": "array", "items": {"type": "string"}},
        "labels": _MAP,
        "annotations": _MAP,
        "limits": _RESOURCES,
        "requests": _RESOURCES,
        "readOnlyRootFilesystem": {"type": "boolean"},
    },
}
_NAME = parameter(
    "name",
    "path",
    "the function's name, optionally with .openfaas-fn",
    {"type": "string", "pattern": OPENFAAS_NAME},
)
_NAMESPACE = parameter("namespace", "query", "openfaas-fn, the one namespace")
_BAD, _MISSING = _error("bad request: the message names the field"), _error("no such function")


def add_openfaas(document: dict[str, Any], faas_registration: dict[str, Any]) -> None:
    """Add OpenFaaS's routes; `faas_registration` is the schema of faas's own POST body."""
    paths = document["paths"]
    functions = paths["/system/functions"]
    either = {"oneOf": [faas_registration, FUNCTION_DEPLOYMENT]}
    post = {**functions["post"], "requestBody": _body(either)}
    post["summary"] = "Register or update a function: faas's shape or OpenFaaS's"
    post["responses"] = {**post["responses"], "202": _json("registered (OpenFaaS's shape)")}
    functions["post"] = post
    functions["put"] = {
        **post,
        "summary": "Update a function (OpenFaaS: 404 when it does not exist, then POST)",
        "responses": {**post["responses"], "404": _MISSING},
    }
    functions["get"]["parameters"] = [_NAMESPACE]
    functions["delete"] = {
        "summary": "Remove a function (OpenFaaS's DeleteFunctionRequest)",
        "requestBody": _body(
            {
                "type": "object",
                "required": ["functionName"],
                "properties": {
                    "functionName": {"type": "string"},
                    "namespace": {"type": "string"},
                },
            }
        ),
        "responses": {"200": _json("removed"), "400": _BAD, "404": _MISSING},
    }
    paths["/system/function/{name}"]["get"]["parameters"] = [_NAMESPACE]
    paths["/system/scale-function/{name}"] = {
        "parameters": [_NAME],
        "post": {
            "summary": "Set the function's minimum containers (OpenFaaS's replicas)",
            "requestBody": _body(
                {
                    "type": "object",
                    "required": ["replicas"],
                    "properties": {
                        "serviceName": {"type": "string"},
                        "service": {"type": "string"},
                        "replicas": {"type": "integer", "minimum": 0},
                        "namespace": {"type": "string"},
                    },
                }
            ),
            "responses": {
                "202": _json("scaling"),
                "400": _BAD,
                "404": _MISSING,
            },
        },
    }
    paths["/system/info"] = {
        "get": {"summary": "Provider, version, arch", "responses": {"200": _json("info")}}
    }
    paths["/system/namespaces"] = {
        "get": {
            "summary": "The one namespace, openfaas-fn",
            "responses": {"200": _json("names", {"type": "array", "items": {"type": "string"}})},
        }
    }
    query = [
        {**parameter("name", "query", "the function"), "required": True},
        _NAMESPACE,
        *(
            parameter(key, "query", key, schema)
            for key, schema in (
                ("tail", {"type": "integer"}),
                ("since", {"type": "string", "format": "date-time"}),
                ("follow", {"type": "boolean"}),
                ("instance", {"type": "string"}),
            )
        ),
    ]
    paths["/system/logs"] = {
        "get": {
            "summary": "The function's logs as NDJSON (OpenFaaS's log messages)",
            "parameters": query,
            "responses": {
                "200": {
                    "description": "one JSON message per line",
                    "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                },
                "400": _BAD,
                "404": _MISSING,
            },
        }
    }

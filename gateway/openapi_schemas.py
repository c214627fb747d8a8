"""The schemas of the gateway's OpenAPI document (gateway.openapi): the manifest, OpenFaaS's
secret, and the shared component schemas referenced as `#/components/schemas/...`."""

from __future__ import annotations

from typing import Any

NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

MANIFEST = {
    "type": "object",
    "required": ["name"],
    "description": "faas.yaml as JSON (see the README); unknown fields are refused",
    "properties": {
        "name": {"type": "string", "pattern": NAME, "maxLength": 63},
        "handler": {"type": "string"},
        "timeout": {"oneOf": [{"type": "string"}, {"type": "number"}]},
        "memory": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        "cpus": {"type": "number", "minimum": 0.01, "maximum": 64},
        "concurrency": {"type": "integer", "minimum": 1, "maximum": 1000},
        "scale": {
            "type": "object",
            "properties": {"min": {"type": "integer"}, "max": {"type": "integer"}},
        },
        "keep_alive": {"oneOf": [{"type": "string"}, {"type": "number"}]},
        "environment": {"type": "object", "additionalProperties": {"type": "string"}},
        "network": {"type": "boolean"},
        "triggers": {"type": "array", "items": {"type": "object"}},
        "auth": {"enum": ["none", "api-key"]},
        "rate_limit": {"$ref": "#/components/schemas/RateLimit"},
        "key_rate_limit": {"$ref": "#/components/schemas/RateLimit"},
        "quota": {"$ref": "#/components/schemas/Quota"},
        "cors": {
            "type": "object",
            "required": ["origins"],
            "properties": {
                "origins": {"type": "array", "items": {"type": "string"}},
                "methods": {"type": "array", "items": {"type": "string"}},
                "headers": {"type": "array", "items": {"type": "string"}},
                "max_age": {"oneOf": [{"type": "string"}, {"type": "number"}]},
                "credentials": {"type": "boolean"},
            },
        },
        "request_schema": {"type": "object", "description": "a JSON Schema for call bodies"},
        "secrets": {"type": "array", "items": {"type": "string"}},
        "redis": {
            "type": "object",
            "description": "a data binding (needs network: true): its own Redis user on KEYSPACE:*",
            "required": ["keyspace"],
            "properties": {
                "keyspace": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"}
            },
        },
        # Image functions (faas.manifest.images): HTTP images and task images.
        "contract": {"enum": ["native", "lambda", "http", "task", "lambda-image"]},
        "image": {"type": "string", "description": "an existing local image (repo:tag)"},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
        "readonly_root_filesystem": {"type": "boolean"},
        "image_user": {"type": "boolean"},
    },
}

# OpenFaaS's secrets API (gateway/secret_routes.py): names only ever come back, never values.
SECRET = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$"},
        "value": {"type": "string"},
        "rawValue": {"type": "string", "format": "byte", "description": "base64, for binary"},
        "namespace": {"type": "string", "description": "accepted and ignored"},
    },
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    },
    "RateLimit": {
        "type": "object",
        "required": ["rate"],
        "properties": {
            "rate": {"type": "string", "description": "10/s, 600/m, 1000/h, 5000/d"},
            "burst": {"type": "integer", "minimum": 1},
        },
    },
    "Quota": {
        "type": "object",
        "required": ["limit"],
        "properties": {
            "limit": {"type": "integer", "minimum": 1},
            "period": {"enum": ["minute", "hour", "day", "week", "month"]},
        },
    },
    "Queued": {
        "type": "object",
        "required": ["call_id"],
        "properties": {"call_id": {"type": "string"}},
    },
}

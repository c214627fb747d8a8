"""The shapes the OpenAPI document repeats (gateway.openapi, gateway.lambda_openapi,
gateway.openfaas_openapi): a JSON response, faas's error response, a JSON body, a parameter."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {"$ref": "#/components/schemas/Error"}


def json_response(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    body = schema or {"type": "object"}
    return {"description": description, "content": {"application/json": {"schema": body}}}


def error(description: str) -> dict[str, Any]:
    """faas's `{"error": {"code", "message"}}` response."""
    return json_response(description, ERROR_SCHEMA)


def request_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def parameter(
    name: str, where: str, description: str, schema: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A parameter `in` "path" (required) or "query" (optional); a string unless `schema`."""
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema if schema is not None else {"type": "string"},
    }

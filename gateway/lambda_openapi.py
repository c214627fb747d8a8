"""The Lambda API's routes (gateway/lambda_api.py) in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from gateway.openapi_parts import json_response, parameter, request_body

_AWS_ERROR = {
    "type": "object",
    "properties": {"Type": {"type": "string"}, "message": {"type": "string"}},
}


def _aws_error(description: str) -> dict[str, Any]:
    return json_response(description, _AWS_ERROR)


_NAME = parameter("name", "path", "a function name, name:qualifier, or an ARN")
_QUALIFIER = parameter("Qualifier", "query", "only $LATEST: faas keeps one version")
_ERRORS = {
    "400": _aws_error("InvalidParameterValueException, InvalidRequestContentException"),
    "403": _aws_error("bad signature or credentials; or the function's API key refused"),
    "404": _aws_error("ResourceNotFoundException"),
    "413": _aws_error("RequestEntityTooLargeException"),
    "429": _aws_error("TooManyRequestsException"),
    "502": _aws_error("ServiceException"),
    "503": _aws_error("ServiceException: Docker or Redis unavailable"),
}
_PAYLOAD = {"required": False, "content": {"*/*": {"schema": {}}}}
_CONTROL = {"401": _aws_error("no credentials"), "403": _aws_error("InvalidSignatureException")}

LAMBDA_PATHS: dict[str, Any] = {
    "/2015-03-31/functions/{name}/invocations": {
        "parameters": [_NAME, _QUALIFIER],
        "post": {
            "summary": "Lambda Invoke (X-Amz-Invocation-Type RequestResponse, Event, DryRun)",
            "requestBody": _PAYLOAD,
            "responses": {
                "200": {
                    "description": "the function's result, or its error with X-Amz-Function-Error"
                },
                "202": {"description": "Event: queued durably"},
                "204": {"description": "DryRun: the call would be accepted"},
                **_ERRORS,
            },
        },
    },
    "/2014-11-13/functions/{name}/invoke-async/": {
        "parameters": [_NAME],
        "post": {
            "summary": "Lambda InvokeAsync (deprecated by AWS; as Invoke with Event)",
            "requestBody": _PAYLOAD,
            "responses": {"202": {"description": "queued durably"}, **_ERRORS},
        },
    },
    "/2015-03-31/functions/": {
        "get": {
            "summary": "Lambda ListFunctions (control plane)",
            "responses": {"200": {"description": "{Functions: [...]}"}, **_CONTROL, **_ERRORS},
        },
    },
    "/2015-03-31/functions": {
        "post": {
            "summary": (
                "Lambda CreateFunction from Code.ZipFile (built by faas) or Code.ImageUri "
                "(a local Lambda image; control plane)"
            ),
            "requestBody": request_body({}),
            "responses": {
                "201": {"description": "FunctionConfiguration"},
                "409": _aws_error("ResourceConflictException: it exists"),
                **_CONTROL,
                **_ERRORS,
            },
        },
    },
    "/2015-03-31/functions/{name}/configuration": {
        "parameters": [_NAME, _QUALIFIER],
        "get": {
            "summary": "Lambda GetFunctionConfiguration (control plane)",
            "responses": {"200": {"description": "FunctionConfiguration"}, **_CONTROL, **_ERRORS},
        },
    },
    "/2015-03-31/functions/{name}/code": {
        "parameters": [_NAME],
        "put": {
            "summary": "Lambda UpdateFunctionCode from Code.ZipFile or ImageUri (control plane)",
            "requestBody": request_body({}),
            "responses": {"200": {"description": "FunctionConfiguration"}, **_CONTROL, **_ERRORS},
        },
    },
    "/2015-03-31/functions/{name}": {
        "parameters": [_NAME, _QUALIFIER],
        "get": {
            "summary": "Lambda GetFunction (control plane)",
            "responses": {"200": {"description": "{Configuration, Code}"}, **_CONTROL, **_ERRORS},
        },
        "delete": {
            "summary": "Lambda DeleteFunction (control plane)",
            "responses": {"204": {"description": "removed"}, **_CONTROL, **_ERRORS},
        },
    },
}

SERVED = {
    (method, path)
    for path, item in LAMBDA_PATHS.items()
    for method in item
    if method != "parameters"
}

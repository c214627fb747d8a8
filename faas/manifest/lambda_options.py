"""faas.yaml's Lambda fields: `contract: lambda` runs `module.function(event, context)` as AWS
Lambda does, and `lambda:` says how HTTP calls reach it.

    contract: lambda                    native (the default: handle(Event, Context)) or lambda
                                        (or lambda-image: an image on the Lambda Runtime API)
    lambda: {event: apigateway-v2}      the event of a call through /function/NAME/...:
                                        apigateway-v1 (REST API proxy) or apigateway-v2 (HTTP API)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from faas.errors import ManifestError

HTTP_EVENTS = ("apigateway-v1", "apigateway-v2")
# Functions that take Lambda's events and answer in Lambda's shapes: handlers on faas's
# runtime (`lambda`) and images on the Lambda Runtime API (`lambda-image`: contracts.lambda_image).
LAMBDA_CONTRACTS = ("lambda", "lambda-image")


def speaks_lambda(contract: str) -> bool:
    return contract in LAMBDA_CONTRACTS


@dataclass(frozen=True)
class LambdaOptions:
    """How a Lambda-contract function is shown HTTP calls."""

    event: str = "apigateway-v2"

    def to_manifest(self) -> dict[str, Any]:
        return {"event": self.event}


def parse_lambda_options(data: Mapping[str, Any], contract: str) -> LambdaOptions | None:
    """The `lambda:` mapping (defaults when absent) of a `contract: lambda` function, else None."""
    value = data.get("lambda")
    if contract not in LAMBDA_CONTRACTS:
        if value is not None:
            raise ManifestError("lambda", "is only for `contract: lambda` or `lambda-image`")
        return None
    if value is None:
        return LambdaOptions()
    if not isinstance(value, Mapping):
        raise ManifestError(
            "lambda", f"must be a mapping like {{event: apigateway-v2}}, got {value!r}"
        )
    unknown = sorted(str(key) for key in value if key != "event")
    if unknown:
        raise ManifestError(f"lambda.{unknown[0]}", "unknown field (known: event)")
    event = value.get("event", LambdaOptions.event)
    if event not in HTTP_EVENTS:
        raise ManifestError(
            "lambda.event", f"must be one of {', '.join(HTTP_EVENTS)}, got {event!r}"
        )
    return LambdaOptions(event=event)


def lambda_runtime_env(memory: int) -> dict[str, str]:
    """What tells the runtime to use its Lambda adapter (it sets the AWS_* variables itself)."""
    return {"FAAS_ADAPTER": "lambda", "FAAS_MEMORY_MB": str(max(1, memory // (1024 * 1024)))}

"""`request_schema:` a JSON Schema (draft 2020-12 unless it says `$schema`) that every call's
body must match before any container starts; a call that does not gets 400 naming the first
failing place as a JSON pointer.

The schema is checked when the manifest is (so `faas deploy` refuses a broken one), and only
references inside it are allowed: a `$ref` to a URL would make the gateway fetch it, or fail
on every call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import referencing
import referencing.exceptions
import referencing.jsonschema
from jsonschema.exceptions import SchemaError, best_match
from jsonschema.protocols import Validator

from faas.errors import ManifestError, RequestInvalid

MAX_SCHEMA = 64 * 1024  # bytes as JSON: it travels in every function record
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})  # validated even when empty
_MESSAGE = 200  # characters of jsonschema's message (it quotes the offending value)


@dataclass(frozen=True)
class RequestSchema:
    schema: Mapping[str, Any]
    _validator: Validator = field(compare=False, repr=False)

    def to_manifest(self) -> dict[str, Any]:
        return dict(self.schema)

    def check(self, method: str, body: bytes) -> None:
        """Raise RequestInvalid unless `body` is JSON matching the schema. GET, HEAD, DELETE
        and OPTIONS without a body carry nothing to check."""
        if not body and method not in BODY_METHODS:
            return
        if not body:
            raise RequestInvalid("", "the body is empty; this function takes a JSON body")
        try:
            document = json.loads(body, parse_constant=_no_constant)
        except RecursionError:
            raise RequestInvalid("", "the body is JSON nested too deeply") from None
        except ValueError:
            raise RequestInvalid("", "the body is not valid JSON") from None
        try:
            error = best_match(self._validator.iter_errors(document))
        except RecursionError:
            raise RequestInvalid("", "the body is JSON nested too deeply") from None
        if error is not None:
            message = error.message
            if len(message) > _MESSAGE:
                message = message[: _MESSAGE - 3] + "..."
            raise RequestInvalid(pointer(error.absolute_path), message)


def pointer(path: Iterator[str | int] | Any) -> str:
    """RFC 6901: /items/0/name."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_request_schema(value: object) -> RequestSchema:
    if isinstance(value, str):
        raise ManifestError(
            "",
            "a file name is read by `faas deploy` from the function folder; "
            "the API takes the JSON Schema itself (an object)",
        )
    if not isinstance(value, Mapping):
        raise ManifestError("", f"must be a JSON Schema (an object), got {value!r}")
    try:
        size = len(json.dumps(value))
    except (TypeError, ValueError, RecursionError):
        raise ManifestError("", "must be plain JSON (strings, numbers, lists, objects)") from None
    if size > MAX_SCHEMA:
        raise ManifestError("", f"is {size} bytes as JSON; at most {MAX_SCHEMA}")
    schema = dict(value)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise ManifestError(pointer(exc.absolute_path), exc.message[:_MESSAGE]) from None
    _check_references(schema)
    return RequestSchema(schema, cls(schema))


def _check_references(schema: Mapping[str, Any]) -> None:
    dialect = str(schema.get("$schema", ""))
    specification = referencing.jsonschema.specification_with(
        dialect, default=referencing.jsonschema.DRAFT202012
    )
    registry: referencing.Registry[Any] = referencing.Registry()
    resolver = registry.with_resource("", specification.create_resource(schema)).resolver()
    for where, ref in _references(schema, ""):
        if not ref.startswith("#"):
            raise ManifestError(where, f"{ref!r}: only references inside the schema (#/...)")
        try:
            resolver.lookup(ref)
        except referencing.exceptions.Unresolvable:
            raise ManifestError(where, f"{ref!r} points at nothing in the schema") from None


def _references(node: object, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, Mapping):
        for key, item in node.items():
            if key in ("$ref", "$dynamicRef") and isinstance(item, str):
                yield f"{where}/{key}", item
            else:
                yield from _references(item, f"{where}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _references(item, f"{where}/{index}")

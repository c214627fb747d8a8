"""faas.yaml: parse and validate a function's manifest into a frozen `FunctionSpec`.

Every rule lives here, so `faas deploy` (before building) and the gateway (on registration)
reject the same manifests with the same message, which always names the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from faas.errors import FunctionNotFound, ManifestError
from faas.manifest.api import API_FIELDS, ApiPolicy, inline_schema_file, parse_api
from faas.manifest.images import (
    IMAGE_DEFAULTS,
    IMAGE_FIELDS,
    RUNTIME_CONTRACTS,
    parse_image_fields,
)
from faas.manifest.lambda_options import LambdaOptions, parse_lambda_options
from faas.manifest.openfaas import DEFAULT_LANG, NODE, parse_lang, parse_metadata
from faas.manifest.secret_names import validate_secret_name

# Re-exported: code that imports the trigger types from here keeps working.
from faas.manifest.triggers import ScheduleTrigger as ScheduleTrigger
from faas.manifest.triggers import StreamTrigger as StreamTrigger
from faas.manifest.triggers import Trigger, parse_triggers
from faas.units import format_duration, format_size, parse_duration, parse_size

MANIFEST_FILE = "faas.yaml"

NAME_RULE = (
    "lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63"
)
# Matched with fullmatch: `$` would also accept a trailing newline.
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_HANDLER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# Limits that keep one function from taking the machine; generous for local work.
MAX_TIMEOUT = 15 * 60.0
MAX_KEEP_ALIVE = 7 * 24 * 3600.0
MIN_MEMORY = 16 * 1024 * 1024
MAX_CONCURRENCY = 1000
MAX_SCALE = 1000


def validate_name(name: object, field_name: str = "name") -> str:
    """Return `name` if it is a valid function name, else raise ManifestError naming the field."""
    if not isinstance(name, str) or not name:
        raise ManifestError(field_name, f"must be a non-empty string ({NAME_RULE})")
    if len(name) > 63 or not _NAME.fullmatch(name):
        raise ManifestError(field_name, f"{name!r} is not a valid function name ({NAME_RULE})")
    return name


def check_name(name: str) -> str:
    """A name that arrived in a URL: a malformed one names no function (404, never 500)."""
    if len(name) > 63 or not _NAME.fullmatch(name):
        raise FunctionNotFound(name)
    return name


@dataclass(frozen=True)
class Scale:
    min: int = 0
    max: int = 10


# A data binding's keyspace becomes a Redis key pattern (`votes` -> `votes:*`): no glob
# characters, no ':' (no reaching into another prefix), and never the platform's own `faas`.
_KEYSPACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class RedisBinding:
    """`redis: {keyspace: votes}`: the function gets its own Redis user for keys `votes:*`."""

    keyspace: str

    @property
    def prefix(self) -> str:
        return self.keyspace + ":"


@dataclass(frozen=True)
class FunctionSpec:
    """A validated manifest. Durations in seconds, memory in bytes."""

    name: str
    handler: str = "handler.handle"
    timeout: float = 30.0
    memory: int = 128 * 1024 * 1024
    cpus: float = 0.5
    concurrency: int = 1
    scale: Scale = field(default_factory=Scale)
    keep_alive: float = 600.0
    environment: Mapping[str, str] = field(default_factory=dict)
    network: bool = False
    triggers: tuple[Trigger, ...] = ()
    api: ApiPolicy | None = None  # auth, rate_limit, quota, cors, ... (faas.manifest.api)
    secrets: tuple[str, ...] = ()  # mounted as files at /var/openfaas/secrets/NAME
    redis: RedisBinding | None = None
    # OpenFaaS compatibility (faas.manifest.openfaas): the handler's calling convention, and
    # free-form metadata that the OpenFaaS API shows back (com.openfaas.scale.* set `scale`).
    lang: str = DEFAULT_LANG
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    # How the gateway talks to it (faas.contracts): faas's runtime, an image serving HTTP on
    # `port`, or an image run once per call with arguments (`task`). See faas.manifest.images.
    contract: str = "native"  # or lambda (faas.manifest.lambda_options), http, task
    image: str = ""  # an existing image to run instead of building the folder
    port: int = 8080
    # What OpenFaaS lets a function relax (and `faas describe` reports): a writable root
    # filesystem, and the image's own user instead of faas's unprivileged uid.
    readonly_root_filesystem: bool = True
    image_user: bool = False
    lambda_options: LambdaOptions | None = None  # `lambda:`, for `contract: lambda`

    @property
    def on_runtime(self) -> bool:
        """Runs on faas's own runtime (native or Lambda handlers), not an image of its own."""
        return self.contract in RUNTIME_CONTRACTS

    def to_manifest(self) -> dict[str, Any]:
        """The manifest as a user would write it (round-trips through `parse_manifest`)."""
        data = asdict(self)
        data["triggers"] = [asdict(trigger) for trigger in self.triggers]
        data["timeout"] = format_duration(self.timeout)
        data["keep_alive"] = format_duration(self.keep_alive)
        data["memory"] = format_size(self.memory)
        data["environment"] = dict(self.environment)
        del data["api"]
        if self.api is not None:
            data.update(self.api.to_manifest())
        data["secrets"] = list(self.secrets)
        if self.redis is None:
            del data["redis"]
        for key, default in (("lang", DEFAULT_LANG), ("labels", {}), ("annotations", {})):
            if data[key] == default:  # absent unless set: manifests read as they always did
                del data[key]
            elif key != "lang":
                data[key] = dict(data[key])
        for key, image_default in IMAGE_DEFAULTS.items():  # old manifests round-trip unchanged
            if data[key] == image_default:
                del data[key]
        del data["lambda_options"]
        if self.lambda_options is not None:
            data["lambda"] = self.lambda_options.to_manifest()
        return data


_FIELDS = {
    "name",
    "handler",
    "timeout",
    "memory",
    "cpus",
    "concurrency",
    "scale",
    "keep_alive",
    "environment",
    "network",
    "triggers",
    *API_FIELDS,
    "secrets",
    "redis",
    "lang",
    "labels",
    "annotations",
    *IMAGE_FIELDS,
    "lambda",
}


def load_manifest(folder: Path) -> FunctionSpec:
    """Read `folder/faas.yaml`; the handler module must exist in the folder."""
    path = folder / MANIFEST_FILE
    if not folder.is_dir():
        raise ManifestError("", f"{folder} is not a directory")
    if not path.is_file():
        raise ManifestError("", f"{path} not found: a function folder needs a {MANIFEST_FILE}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ManifestError("", f"{path} is not valid YAML: {_yaml_problem(exc)}") from None
    spec = parse_manifest(inline_schema_file(data if data is not None else {}, folder))
    if not spec.on_runtime:  # an image: no handler module to look for
        return spec
    module = spec.handler.rsplit(".", 1)[0].replace(".", "/")
    if spec.lang == NODE:  # the places faas/runtime_node looks, in its order
        candidates = [f"{module}.js", f"{module}.cjs", f"{module}.mjs", f"{module}/index.js"]
    else:
        candidates = [f"{module}.py", f"{module}/__init__.py"]
    if not any((folder / candidate).is_file() for candidate in candidates):
        raise ManifestError("handler", f"module {candidates[0]} not found in {folder}")
    return spec


def _yaml_problem(exc: Exception) -> str:
    """One line: what is wrong and where (PyYAML's own message spans several lines)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


def parse_manifest(data: object) -> FunctionSpec:
    """Validate a manifest mapping; unknown fields and bad values raise ManifestError."""
    if not isinstance(data, Mapping):
        raise ManifestError(
            "", "the manifest must be a mapping of fields (name: ..., handler: ...)"
        )
    unknown = sorted(str(key) for key in data if key not in _FIELDS)
    if unknown:
        raise ManifestError(unknown[0], f"unknown field (known: {', '.join(sorted(_FIELDS))})")
    if "name" not in data:
        raise ManifestError("name", f"is required ({NAME_RULE})")
    defaults = FunctionSpec(name="x")
    values: dict[str, Any] = {"name": validate_name(data["name"])}

    handler = data.get("handler", defaults.handler)
    if not isinstance(handler, str) or not _HANDLER.fullmatch(handler):
        raise ManifestError("handler", f"must look like module.function, got {handler!r}")
    values["handler"] = handler

    values["timeout"] = _duration(
        data, "timeout", defaults.timeout, minimum=0.001, maximum=MAX_TIMEOUT
    )
    values["keep_alive"] = _duration(
        data, "keep_alive", defaults.keep_alive, minimum=0.0, maximum=MAX_KEEP_ALIVE
    )
    values["memory"] = _size(data, "memory", defaults.memory)
    values["cpus"] = _number(data, "cpus", defaults.cpus)
    values["concurrency"] = _integer(data, "concurrency", defaults.concurrency, 1, MAX_CONCURRENCY)
    values["scale"] = _scale(data.get("scale", {}))
    values["environment"] = _environment(data.get("environment", {}))
    network = data.get("network", defaults.network)
    if not isinstance(network, bool):
        raise ManifestError("network", f"must be true or false, got {network!r}")
    values["network"] = network
    values["triggers"] = parse_triggers(data.get("triggers", []))
    values["api"] = parse_api(data)
    values["secrets"] = _secrets(data.get("secrets", []))
    values["redis"] = _redis_binding(data.get("redis"))
    if values["redis"] is not None and not network:
        raise ManifestError("redis", "a Redis binding needs `network: true` to reach Redis")
    values["lang"] = parse_lang(data.get("lang", DEFAULT_LANG))
    if values["lang"] == NODE and data.get("contract", "native") != "native":
        raise ManifestError("lang", "`lang: node` runs on faas's native contract only")
    values["labels"] = parse_metadata(data.get("labels", {}), "labels")
    values["annotations"] = parse_metadata(data.get("annotations", {}), "annotations")
    values.update(parse_image_fields(data))
    values["lambda_options"] = parse_lambda_options(data, values["contract"])
    return FunctionSpec(**values)


def _redis_binding(value: object) -> RedisBinding | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or "keyspace" not in value:
        raise ManifestError("redis", f"must be a mapping like {{keyspace: votes}}, got {value!r}")
    unknown = sorted(str(key) for key in value if key != "keyspace")
    if unknown:
        raise ManifestError(f"redis.{unknown[0]}", "unknown field (known: keyspace)")
    keyspace = value["keyspace"]
    if not isinstance(keyspace, str) or not _KEYSPACE.fullmatch(keyspace):
        raise ManifestError(
            "redis.keyspace",
            "must be 1-64 letters, digits and '_.-', starting with a letter or digit "
            f"(keys are then KEYSPACE:*), got {keyspace!r}",
        )
    if keyspace.lower() == "faas":
        raise ManifestError("redis.keyspace", "'faas' is reserved for the platform's own keys")
    return RedisBinding(keyspace)


def _duration(
    data: Mapping[str, Any],
    key: str,
    default: float,
    *,
    minimum: float,
    maximum: float | None = None,
) -> float:
    if key not in data:
        return default
    try:
        seconds = parse_duration(data[key])
    except ValueError as exc:
        raise ManifestError(key, str(exc)) from None
    if seconds < minimum:
        raise ManifestError(key, f"must be at least {format_duration(minimum)}, got {data[key]!r}")
    if maximum is not None and seconds > maximum:
        raise ManifestError(key, f"must be at most {format_duration(maximum)}, got {data[key]!r}")
    return seconds


def _size(data: Mapping[str, Any], key: str, default: int) -> int:
    if key not in data:
        return default
    try:
        size = parse_size(data[key])
    except ValueError as exc:
        raise ManifestError(key, str(exc)) from None
    if size < MIN_MEMORY:
        raise ManifestError(key, f"must be at least {format_size(MIN_MEMORY)}, got {data[key]!r}")
    return size


def _number(data: Mapping[str, Any], key: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.01 <= value <= 64:
        raise ManifestError(key, f"must be a number of CPUs from 0.01 to 64, got {value!r}")
    return float(value)


def _integer(data: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ManifestError(key, f"must be a whole number from {low} to {high}, got {value!r}")
    return value


def _scale(value: object) -> Scale:
    if not isinstance(value, Mapping):
        raise ManifestError("scale", f"must be a mapping like {{min: 0, max: 10}}, got {value!r}")
    unknown = sorted(str(key) for key in value if key not in ("min", "max"))
    if unknown:
        raise ManifestError(f"scale.{unknown[0]}", "unknown field (known: min, max)")
    low = _scoped(value, "min", Scale.min, 0)
    high = _scoped(value, "max", Scale.max, 1)
    if low > high:
        raise ManifestError("scale.min", f"must not exceed scale.max ({low} > {high})")
    return Scale(min=low, max=high)


def _scoped(value: Mapping[str, Any], key: str, default: int, low: int) -> int:
    try:
        return _integer(value, key, default, low, MAX_SCALE)
    except ManifestError as exc:
        raise ManifestError(f"scale.{key}", exc.message.split(": ", 1)[1]) from None


def _environment(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ManifestError("environment", f"must be a mapping of NAME: value, got {value!r}")
    env: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not _ENV_NAME.fullmatch(key):
            raise ManifestError(f"environment.{key}", "is not a valid variable name")
        if key.startswith("FAAS_"):
            raise ManifestError(f"environment.{key}", "FAAS_* variables are reserved for faas")
        if isinstance(item, Mapping | list) or item is None:
            raise ManifestError(f"environment.{key}", f"must be a string or number, got {item!r}")
        text = str(item).lower() if isinstance(item, bool) else str(item)
        if "\0" in text:  # the engine cannot pass it: every start would fail
            raise ManifestError(f"environment.{key}", "must not contain a NUL character")
        env[key] = text
    return env


def _secrets(value: object) -> tuple[str, ...]:
    """`[db-password, api-token]`: names of secrets (`faas secret create`), each once."""
    if not isinstance(value, list):
        raise ManifestError("secrets", f"must be a list of secret names, got {value!r}")
    names: list[str] = []
    for index, item in enumerate(value):
        name = validate_secret_name(item, f"secrets[{index}]")
        if name in names:
            raise ManifestError(f"secrets[{index}]", f"{name!r} is listed twice")
        names.append(name)
    return tuple(names)

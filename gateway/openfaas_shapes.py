"""OpenFaaS's JSON shapes (faas-provider `types`) to and from faas's functions.

    FunctionDeployment  {service, image, envVars, secrets, labels, annotations, limits, ...}
                        -> a faas manifest mapping, validated by `parse_manifest`; errors name
                           OpenFaaS's field (`envVars.X`, `limits.memory`, `service`)
    FunctionStatus      <- a function record and its pool: name, image, namespace, envVars
                           (values masked, as faas's own API does), envProcess, secrets,
                           labels (with `faas_function`), annotations, limits, replicas
                           (containers running, at least scale.min), availableReplicas
                           (ready, busy or paused), invocationCount, createdAt (RFC 3339)

What a FunctionDeployment cannot say (timeout, concurrency, keep_alive, triggers, API keys) is
kept from the function's current manifest on an update, so `faas-cli deploy` over a function
deployed by `faas deploy` changes only what OpenFaaS describes. Ignored, as faas has no use
for them: `constraints`, `requests` and unknown keys (OpenFaaS's Go decoder ignores them
too). `envProcess` becomes the `fprocess` environment variable, as OpenFaaS's providers set it
for the watchdog (and read back from it, outside `envVars`).

`limits` come back as they were asked (kept in the `faas.limits` annotation, which the API does
not show), and only when asked: a function deployed without limits has none in its status, as
in OpenFaaS, unless faas's own manifest set other than its defaults. A memory limit below
faas's floor (16 MiB; Docker refuses less than 6) runs at the floor.

An image faas did not build on its runtime becomes an HTTP image function (`contract: http`,
port 8080: OpenFaaS has no port setting, every workload serves on 8080).
`readOnlyRootFilesystem: false` gives it a writable root filesystem; absent, faas's hardening
default (read-only) stays, unlike OpenFaaS, unless FAAS_OPENFAAS_WRITABLE_ROOT=true.
Functions on faas's runtime are always read-only.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from typing import Any

from faas import keys
from faas.errors import BadRequest, ManifestError
from faas.manifest.openfaas import (
    DEFAULT_LANG,
    NAMESPACE,
    SCALE_MAX,
    SCALE_MIN,
    cpu_quantity,
    memory_quantity,
    parse_metadata,
    scale_from_labels,
)
from faas.manifest.spec import MIN_MEMORY, FunctionSpec, parse_manifest
from faas.registry.store import FunctionRecord

# Annotations that tell faas how to run a faas-built image deployed through this API.
HANDLER_ANNOTATION = "faas.handler"
LANG_ANNOTATION = "faas.lang"
# The limits a FunctionDeployment asked for, as it wrote them (shown back, never as annotation).
LIMITS_ANNOTATION = "faas.limits"
# OpenFaaS's watchdog runs this command; its providers put `envProcess` there.
FPROCESS = "fprocess"
# Every OpenFaaS provider labels a function with its name (the certifier checks it).
NAME_LABEL = "faas_function"
_DEFAULTS = FunctionSpec(name="x")
# faas's manifest field -> OpenFaaS's field, for error messages.
_FIELD_NAMES = {
    "name": "service",
    f"environment.{FPROCESS}": "envProcess",
    "environment": "envVars",
    "memory": "limits.memory",
    "cpus": "limits.cpu",
    "scale.min": f"labels.{SCALE_MIN}",
    "scale.max": f"labels.{SCALE_MAX}",
    "handler": f"annotations.{HANDLER_ANNOTATION}",
    "lang": f"annotations.{LANG_ANNOTATION}",
    "readonly_root_filesystem": "readOnlyRootFilesystem",
}
_IMAGE_KEYS = ("contract", "image", "port", "readonly_root_filesystem", "image_user")


def is_openfaas_deployment(payload: object) -> bool:
    """OpenFaaS's FunctionDeployment has `service`; faas's registration has `manifest`."""
    return isinstance(payload, Mapping) and "service" in payload and "manifest" not in payload


def check_namespace(value: object, field: str = "namespace") -> None:
    if value not in (None, "", NAMESPACE):
        raise BadRequest(f"{field}: this gateway has one namespace, {NAMESPACE!r}; got {value!r}")


def deployment_manifest(
    payload: Mapping[str, Any],
    current: FunctionRecord | None,
    image_labels: Mapping[str, str],
    writable_default: bool = False,
) -> FunctionSpec:
    """The spec a FunctionDeployment asks for; `current` is the function's record, if any,
    `image_labels` the labels of the image it names; `writable_default` is
    FAAS_OPENFAAS_WRITABLE_ROOT (an image without `readOnlyRootFilesystem` gets a writable one)."""
    check_namespace(payload.get("namespace"))
    manifest: dict[str, Any] = dict(current.spec.to_manifest()) if current else {}
    # Built by faas on its runtime (a handler folder); any other image serves HTTP itself.
    faas_image = keys.LABEL_CODE_HASH in image_labels and keys.LABEL_BASE_IMAGE in image_labels
    service = payload.get("service")
    manifest["name"] = service
    environment = _string_map(payload.get("envVars"), "envVars")
    process = payload.get("envProcess")
    if process not in (None, ""):
        if not isinstance(process, str):
            raise ManifestError("envProcess", f"must be a command line, got {process!r}")
        environment[FPROCESS] = process
    manifest["environment"] = environment
    manifest["secrets"] = _list(payload.get("secrets"), "secrets")
    labels = parse_metadata(_optional(payload.get("labels"), "labels"), "labels")
    annotations = parse_metadata(
        _optional(payload.get("annotations"), "annotations"), "annotations"
    )
    manifest["labels"], manifest["annotations"] = labels, annotations
    scale = dict(manifest.get("scale") or {})
    scale.update(scale_from_labels(labels))
    if scale.get("min", 0) > scale.get("max", 10):  # min above the default max: raise it
        scale["max"] = scale["min"] if SCALE_MAX not in labels else scale["max"]
    manifest["scale"] = scale
    limits = _optional(payload.get("limits"), "limits") or {}
    asked: dict[str, str] = {}
    if limits.get("memory"):
        memory = memory_quantity(limits["memory"], "limits.memory")
        manifest["memory"], asked["memory"] = max(memory, MIN_MEMORY), str(limits["memory"])
    if limits.get("cpu"):
        manifest["cpus"] = cpu_quantity(limits["cpu"], "limits.cpu")
        asked["cpu"] = str(limits["cpu"])
    annotations.pop(LIMITS_ANNOTATION, None)
    if asked:
        annotations[LIMITS_ANNOTATION] = json.dumps(asked, sort_keys=True)
    for ignored in ("requests",):
        _optional(payload.get(ignored), ignored)
    same_code = current is not None and current.code_hash == image_labels.get(keys.LABEL_CODE_HASH)
    if not faas_image:
        manifest["contract"], manifest["image"] = "http", payload.get("image")
        manifest["readonly_root_filesystem"] = _readonly(payload, writable_default)
        manifest.pop("lang", None)
        manifest.pop("handler", None)
    else:
        if current is not None and not current.spec.on_runtime:  # an image before: not now
            for key in _IMAGE_KEYS:
                manifest.pop(key, None)
        if LANG_ANNOTATION in annotations:
            manifest["lang"] = annotations[LANG_ANNOTATION]
        elif not same_code:
            manifest["lang"] = DEFAULT_LANG
        if HANDLER_ANNOTATION in annotations:
            manifest["handler"] = annotations[HANDLER_ANNOTATION]
        elif not same_code:
            manifest.pop("handler", None)
    try:
        return parse_manifest(manifest)
    except ManifestError as exc:
        raise _renamed(exc) from None


def _readonly(payload: Mapping[str, Any], writable_default: bool) -> bool:
    value = payload.get("readOnlyRootFilesystem")
    if value is None:
        return not writable_default
    if not isinstance(value, bool):
        raise ManifestError("readOnlyRootFilesystem", f"must be true or false, got {value!r}")
    return value


def _renamed(exc: ManifestError) -> ManifestError:
    for ours, theirs in _FIELD_NAMES.items():
        if exc.field == ours or exc.field.startswith(ours + "."):
            field = theirs + exc.field[len(ours) :]
            return ManifestError(field, exc.message.split(": ", 1)[-1])
    return exc


def _optional(value: object, field: str) -> Any:
    if value is not None and not isinstance(value, Mapping):
        raise ManifestError(field, f"must be an object, got {type(value).__name__}")
    return value


def _string_map(value: object, field: str) -> dict[str, Any]:
    return dict(_optional(value, field) or {})


def _list(value: object, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ManifestError(field, f"must be a list of names, got {type(value).__name__}")
    return value


def function_status(record: FunctionRecord, pool: Mapping[str, Any]) -> dict[str, Any]:
    """OpenFaaS's FunctionStatus of a function; `pool` is the invoker's description of it."""
    spec: FunctionSpec = record.spec
    containers: Mapping[str, int] = pool.get("containers") or {}
    # OpenFaaS's replicas are those running: a paused container (frozen after FAAS_PAUSE_AFTER
    # idle, resumed in milliseconds) has been scaled down, yet it is available to answer.
    running = sum(containers.get(state, 0) for state in ("creating", "ready", "busy"))
    available = sum(containers.get(state, 0) for state in ("ready", "busy", "paused"))
    labels = dict(spec.labels)
    labels.setdefault(SCALE_MIN, str(spec.scale.min))
    labels.setdefault(SCALE_MAX, str(spec.scale.max))
    labels.setdefault(NAME_LABEL, spec.name)
    annotations = dict(spec.annotations)
    asked_limits = annotations.pop(LIMITS_ANNOTATION, None)
    environment = {key: "****" for key in spec.environment if key != FPROCESS}
    status: dict[str, Any] = {
        "name": spec.name,
        "image": record.image,
        "namespace": NAMESPACE,
        "envProcess": spec.environment.get(FPROCESS, ""),
        "secrets": list(spec.secrets),
        "labels": labels,
        "annotations": annotations,
        "readOnlyRootFilesystem": spec.readonly_root_filesystem,
        "invocationCount": float(pool.get("calls", 0)),
        "replicas": max(spec.scale.min, running),
        "availableReplicas": available,
        "createdAt": rfc3339(record.created_at),
    }
    # Go's decoder tells an absent map from an empty one: leave out what was never set.
    if environment:
        status["envVars"] = environment
    limits = _limits(spec, asked_limits)
    if limits:
        status["limits"] = limits
    return status


def _limits(spec: FunctionSpec, asked: str | None) -> dict[str, str] | None:
    """The limits as deployed through this API, else faas's own when not its defaults."""
    if asked is not None:
        try:
            shown = json.loads(asked)
        except ValueError:
            shown = None
        if isinstance(shown, dict):
            return {str(key): str(value) for key, value in shown.items()}
    if (spec.memory, spec.cpus) == (_DEFAULTS.memory, _DEFAULTS.cpus):
        return None
    return {"memory": f"{spec.memory // 2**20}Mi", "cpu": f"{round(spec.cpus * 1000)}m"}


def rfc3339(epoch: float) -> str:
    moment = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")

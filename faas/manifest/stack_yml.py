"""OpenFaaS stack files (stack.yml): read them into faas manifests, with no template download.

    version: 1.0
    provider: {name: openfaas, gateway: http://127.0.0.1:8080}
    functions:
      hello:
        lang: python3-http            # or python3-http-debian: run on faas's own runtime;
                                      # or dockerfile: the folder's Dockerfile, an HTTP image
        handler: ./hello              # a folder with handler.py (and requirements.txt), or
                                      # with a Dockerfile for `lang: dockerfile`
        image: me/hello:latest        # accepted; faas tags its own images
        environment: {KEY: value}
        environment_file: [env.yml]   # YAML files with `environment:`; `environment` wins
        secrets: [db-password]
        labels: {com.openfaas.scale.min: "1", com.openfaas.scale.max: "4"}
        annotations: {topic: orders}
        limits: {memory: 128Mi, cpu: 500m}

`${VAR}` and `${VAR:-default}` are replaced from the environment first, as faas-cli does.
A dockerfile function is `contract: http` on port 8080 (OpenFaaS's watchdog port) and may set
`readonly_root_filesystem: false`; on faas's runtime the root filesystem is always read-only.
`requests`, `build_args`, `build_options`, `constraints`, `fprocess`, `skip_build` and
`platforms` are accepted and reported as ignored. Other languages are refused naming the
supported ones. Errors name the file and the field.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from faas.errors import ManifestError
from faas.manifest.openfaas import (
    NAMESPACE,
    STACK_LANGS,
    cpu_quantity,
    memory_quantity,
    parse_metadata,
    scale_from_labels,
)
from faas.manifest.spec import FunctionSpec, parse_manifest

DOCKERFILE = "Dockerfile"
STACK_FILES = ("stack.yml", "stack.yaml")
HANDLER_FILE = "handler.py"
DOCKERFILE_LANG = "dockerfile"
_SUPPORTED = ", ".join(STACK_LANGS)  # and dockerfile
# Accepted and reported as ignored (`fprocess` is used by dockerfile functions: the watchdog's).
_IGNORED = (
    "requests",
    "build_args",
    "build_options",
    "build_secrets",
    "constraints",
    "fprocess",
    "skip_build",
    "platforms",
)
_KNOWN = {
    "lang",
    "handler",
    "image",
    "environment",
    "environment_file",
    "secrets",
    "labels",
    "annotations",
    "limits",
    "readonly_root_filesystem",
    "namespace",
    *_IGNORED,
}
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


@dataclass(frozen=True)
class StackFunction:
    """One function of a stack file: its validated spec and the folder to build."""

    spec: FunctionSpec
    folder: Path
    notes: tuple[str, ...] = ()  # what was ignored, for the CLI to say


@dataclass(frozen=True)
class Stack:
    path: Path
    gateway: str | None
    functions: list[StackFunction] = field(default_factory=list)


def find_stack_file(folder: Path) -> Path | None:
    """The stack file a folder holds, if any (stack.yml first)."""
    return next((folder / n for n in STACK_FILES if (folder / n).is_file()), None)


def load_stack(path: Path, environ: Mapping[str, str] | None = None) -> Stack:
    """Read and validate every function of a stack file before anything is built."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError("", f"{path}: cannot read it ({exc})") from None
    text = substitute(text, os.environ if environ is None else environ)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ManifestError("", f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    try:
        return _stack(path, data)
    except ManifestError as exc:
        raise ManifestError(exc.field, f"{path}: {exc.message}") from None


def substitute(text: str, environ: Mapping[str, str]) -> str:
    """`${VAR}` and `${VAR:-default}` (faas-cli's envsubst, the common forms)."""
    return _VARIABLE.sub(lambda m: environ.get(m.group(1)) or (m.group(2) or ""), text)


def _stack(path: Path, data: object) -> Stack:
    if not isinstance(data, Mapping):
        raise ManifestError("", "a stack file is a mapping with `provider` and `functions`")
    version = data.get("version")
    if version is not None and str(version) != "1.0":
        raise ManifestError("version", f"must be 1.0 (OpenFaaS's stack schema), got {version!r}")
    provider = data.get("provider") or {}
    if not isinstance(provider, Mapping):
        raise ManifestError("provider", "must be a mapping like {name: openfaas, gateway: URL}")
    gateway = provider.get("gateway")
    if gateway is not None and (not isinstance(gateway, str) or "://" not in gateway):
        raise ManifestError("provider.gateway", f"must be a URL, got {gateway!r}")
    functions = data.get("functions")
    if not isinstance(functions, Mapping) or not functions:
        raise ManifestError("functions", "must map at least one function name to its fields")
    base = path.parent
    parsed = [_function(base, str(name), item) for name, item in functions.items()]
    return Stack(path, gateway, parsed)


def _function(base: Path, name: str, item: object) -> StackFunction:
    where = f"functions.{name}"
    if not isinstance(item, Mapping):
        raise ManifestError(where, "must be a mapping with lang and handler")
    unknown = sorted(str(k) for k in item if k not in _KNOWN)
    if unknown:
        raise ManifestError(f"{where}.{unknown[0]}", f"unknown field (known: {_sorted(_KNOWN)})")
    lang = item.get("lang")
    dockerfile = lang == DOCKERFILE_LANG
    if not dockerfile and lang not in STACK_LANGS:
        raise ManifestError(
            f"{where}.lang",
            f"{lang!r} is not supported: faas runs {_SUPPORTED} functions on its own runtime "
            f"and {DOCKERFILE_LANG} functions as HTTP images",
        )
    namespace = item.get("namespace")
    if namespace not in (None, "", NAMESPACE):
        raise ManifestError(f"{where}.namespace", f"the one namespace is {NAMESPACE!r}")
    folder = _handler_folder(base, item.get("handler"), where, DOCKERFILE if dockerfile else None)
    labels = parse_metadata(item.get("labels"), f"{where}.labels")
    manifest: dict[str, Any] = {
        "name": name,
        "environment": _environment(base, item, where),
        "secrets": item.get("secrets") or [],
        "labels": labels,
        "annotations": parse_metadata(item.get("annotations"), f"{where}.annotations"),
    }
    if dockerfile:  # built from the folder's Dockerfile, served on 8080
        manifest["contract"] = "http"
        if item.get("fprocess"):  # the classic watchdog's command, where OpenFaaS puts it
            manifest["environment"]["fprocess"] = str(item["fprocess"])
        manifest["readonly_root_filesystem"] = item.get("readonly_root_filesystem", True)
    else:
        manifest["lang"] = STACK_LANGS[str(lang)]
    scale = scale_from_labels(labels, f"{where}.labels")
    if scale:
        if scale.get("min", 0) > 10 and "max" not in scale:
            scale["max"] = scale["min"]
        manifest["scale"] = scale
    limits = item.get("limits") or {}
    if not isinstance(limits, Mapping):
        raise ManifestError(f"{where}.limits", "must be a mapping like {memory: 128Mi, cpu: 500m}")
    if limits.get("memory"):
        manifest["memory"] = memory_quantity(limits["memory"], f"{where}.limits.memory")
    if limits.get("cpu"):
        manifest["cpus"] = cpu_quantity(limits["cpu"], f"{where}.limits.cpu")
    try:
        spec = parse_manifest(manifest)
    except ManifestError as exc:
        raise ManifestError(f"{where}.{exc.field}", exc.message.split(": ", 1)[-1]) from None
    used = {"fprocess"} if dockerfile else set()
    notes = [
        f"{where}.{key}: ignored by faas" for key in _IGNORED if item.get(key) and key not in used
    ]
    if item.get("readonly_root_filesystem") is False and not dockerfile:
        notes.append(f"{where}.readonly_root_filesystem: faas's root filesystem is read-only")
    return StackFunction(spec, folder, tuple(notes))


def _handler_folder(base: Path, handler: object, where: str, needs: str | None) -> Path:
    needs = needs or HANDLER_FILE
    if not isinstance(handler, str) or not handler:
        raise ManifestError(f"{where}.handler", f"required: the folder holding {needs}")
    folder = (base / handler).resolve()
    if not folder.is_dir():
        raise ManifestError(f"{where}.handler", f"{folder} is not a folder")
    if not (folder / needs).is_file():
        raise ManifestError(f"{where}.handler", f"{folder} has no {needs}")
    return folder


def _environment(base: Path, item: Mapping[str, Any], where: str) -> dict[str, Any]:
    """environment_file values, then `environment` over them (faas-cli's order)."""
    merged: dict[str, Any] = {}
    files = item.get("environment_file") or []
    if not isinstance(files, list):
        raise ManifestError(f"{where}.environment_file", "must be a list of YAML files")
    for index, name in enumerate(files):
        field_name = f"{where}.environment_file[{index}]"
        path = base / str(name)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ManifestError(field_name, f"cannot read {path}: {exc}") from None
        values = data.get("environment") if isinstance(data, Mapping) else None
        if not isinstance(values, Mapping):
            raise ManifestError(field_name, f"{path} must hold `environment:` with a mapping")
        merged.update(values)
    given = item.get("environment") or {}
    if not isinstance(given, Mapping):
        raise ManifestError(f"{where}.environment", "must be a mapping of NAME: value")
    merged.update(given)
    return merged


def _sorted(names: set[str]) -> str:
    return ", ".join(sorted(names))

"""OpenFaaS's vocabulary in faas's manifest: handler languages, labels, annotations, resource
quantities and the `com.openfaas.scale.*` labels.

Shared by the stack.yml reader (`faas.manifest.stack_yml`) and the gateway's OpenFaaS API
(`gateway.openfaas_shapes`), so both read `128Mi`, `500m` or `com.openfaas.scale.max: "4"`
the same way and reject the same values with a message naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from faas.errors import ManifestError

DEFAULT_LANG = "python"  # faas's own `handle(event, context)` contract
PYTHON3_HTTP = "python3-http"  # OpenFaaS's template, run by faas's runtime through an adapter
IMAGE = "image"  # read from records made before such images became `contract: http`
NODE = "node"  # faas's `handle(event, context)` contract in Node.js (faas/runtime_node)
LANGS = (DEFAULT_LANG, PYTHON3_HTTP, IMAGE, NODE)
# What the OpenFaaS template names map to here (python3-http-debian differs only in its base).
STACK_LANGS = {"python3-http": PYTHON3_HTTP, "python3-http-debian": PYTHON3_HTTP}

NAMESPACE = "openfaas-fn"  # the one namespace: `name.openfaas-fn` is `name`
SCALE_MIN = "com.openfaas.scale.min"
SCALE_MAX = "com.openfaas.scale.max"
SCALE_ZERO = "com.openfaas.scale.zero"

MAX_ENTRIES = 64
MAX_KEY = 317  # Kubernetes: a 253-character prefix, '/', a 63-character name
MAX_VALUE = 4096
_KEY = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?")


def parse_lang(value: object) -> str:
    if value not in LANGS:
        raise ManifestError("lang", f"must be one of {', '.join(LANGS)}, got {value!r}")
    return str(value)


def parse_metadata(value: object, field: str) -> dict[str, str]:
    """Labels or annotations: at most 64 `key: value` strings (numbers and booleans as text)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ManifestError(field, f"must be a mapping of key: value, got {value!r}")
    if len(value) > MAX_ENTRIES:
        raise ManifestError(field, f"at most {MAX_ENTRIES} entries, got {len(value)}")
    result: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or len(key) > MAX_KEY or not _KEY.fullmatch(key):
            raise ManifestError(
                f"{field}.{str(key)[:64]}",
                "keys are letters, digits and '._/-', starting and ending with a letter or "
                f"digit, at most {MAX_KEY}",
            )
        if isinstance(item, Mapping | list) or item is None:
            raise ManifestError(f"{field}.{key}", f"must be a string or number, got {item!r}")
        text = str(item).lower() if isinstance(item, bool) else str(item)
        if len(text) > MAX_VALUE or "\0" in text:
            raise ManifestError(f"{field}.{key}", f"at most {MAX_VALUE} characters, no NUL")
        result[key] = text
    return result


def scale_from_labels(labels: Mapping[str, str], field: str = "labels") -> dict[str, int]:
    """faas's `scale` mapping from OpenFaaS's labels (only what they set).

    `com.openfaas.scale.zero: true` lets the function scale to zero (faas's min 0, its default);
    `false` keeps at least one container (min 1 unless scale.min says more)."""
    scale: dict[str, int] = {}
    for label, key in ((SCALE_MIN, "min"), (SCALE_MAX, "max")):
        if label in labels:
            text = labels[label].strip()
            if not text.isdigit():
                raise ManifestError(f"{field}.{label}", f"must be a whole number, got {text!r}")
            scale[key] = int(text)
    if SCALE_ZERO in labels:
        zero = labels[SCALE_ZERO].strip().lower()
        if zero not in ("true", "false"):
            raise ManifestError(f"{field}.{SCALE_ZERO}", f"must be true or false, got {zero!r}")
        if zero == "true":
            scale["min"] = 0
        else:
            scale["min"] = max(1, scale.get("min", 1))
    return scale


_MEMORY_UNITS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    # Docker's (and faas-cli's Swarm era) lower-case forms: 128m is 128 MiB there.
    "m": 2**20,
    "g": 2**30,
    "K": 2**10,
}
_QUANTITY = re.compile(r"(\d+(?:\.\d+)?)([A-Za-z]{0,2})")


def memory_quantity(value: object, field: str) -> int:
    """`128Mi`, `1Gi`, `100M`, `128m` (Docker's MiB) or plain bytes, as bytes."""
    text = str(value).strip() if isinstance(value, str | int) else None
    match = _QUANTITY.fullmatch(text or "")
    if match is None or match.group(2) not in _MEMORY_UNITS:
        raise ManifestError(field, f"must be a memory quantity like 128Mi or 1Gi, got {value!r}")
    return int(float(match.group(1)) * _MEMORY_UNITS[match.group(2)])


def cpu_quantity(value: object, field: str) -> float:
    """`500m` (millicores), `0.5` or `1`, as CPUs."""
    text = str(value).strip() if isinstance(value, str | int | float) else ""
    if isinstance(value, bool):
        text = ""
    match = _QUANTITY.fullmatch(text)
    if match is None or match.group(2) not in ("", "m"):
        raise ManifestError(field, f"must be a CPU quantity like 500m or 0.5, got {value!r}")
    number = float(match.group(1))
    return number / 1000.0 if match.group(2) == "m" else number


def strip_namespace(name: str) -> str:
    """`fn.openfaas-fn` is `fn`; another namespace is left as it is (then no function has it)."""
    base, dot, namespace = name.rpartition(".")
    return base if dot and namespace == NAMESPACE else name

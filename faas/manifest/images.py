"""The faas.yaml fields of functions that are images rather than faas handlers.

`contract: http` — any image serving HTTP on `port` (8080 by default, as OpenFaaS's watchdog);
`contract: lambda-image` — an image built on the Lambda Runtime API (`awslambdaric`, AWS's base
images), run unchanged (faas.contracts.lambda_image);
`contract: task` — an image run once per call with the call's arguments (Docker's 2016
serverless article). `image: repo:tag` names an existing local image instead of building the
folder; with `image` and no `contract`, the contract is `http`.

`readonly_root_filesystem: false` and `image_user: true` are the two relaxations OpenFaaS allows
(a writable root filesystem; the image's own USER instead of faas's uid 10001). Every other
hardening default (no capabilities, no-new-privileges, pids and memory limits) stays on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from faas.errors import ManifestError

# native and lambda run on faas's own runtime (the handler's calling convention differs);
# http and task are images of their own.
RUNTIME_CONTRACTS = ("native", "lambda")
CONTRACTS = (*RUNTIME_CONTRACTS, "http", "task", "lambda-image")
IMAGE_FIELDS = ("contract", "image", "port", "readonly_root_filesystem", "image_user")
IMAGE_DEFAULTS: dict[str, object] = {
    "contract": "native",
    "image": "",
    "port": 8080,
    "readonly_root_filesystem": True,
    "image_user": False,
}
# A Docker reference: [registry/]repo[:tag][@digest], lowercase repository path.
_IMAGE = re.compile(r"[a-z0-9][a-z0-9._/:-]{0,254}(@sha256:[0-9a-f]{64})?")


def parse_image_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """The validated image fields of a manifest (errors name the field)."""
    image = data.get("image", "")
    if not isinstance(image, str) or (image and not _IMAGE.fullmatch(image)):
        raise ManifestError(
            "image", f"must be a Docker image reference like repo:tag, got {image!r}"
        )
    contract = data.get("contract", "http" if image else "native")
    if contract not in CONTRACTS:
        raise ManifestError("contract", f"must be one of {', '.join(CONTRACTS)}, got {contract!r}")
    if image and contract in RUNTIME_CONTRACTS:
        raise ManifestError("image", "an existing image runs with `contract: http` or `task`")
    port = data.get("port", 8080)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ManifestError("port", f"must be a TCP port from 1 to 65535, got {port!r}")
    if contract == "lambda-image" and data.get("concurrency", 1) != 1:
        message = "a Lambda runtime takes one event at a time: keep 1 (scale out with scale.max)"
        raise ManifestError("concurrency", message)
    if contract == "task" and isinstance(data.get("scale"), Mapping) and data["scale"].get("min"):
        raise ManifestError("scale.min", "a task runs one container per call: keep none ready")
    values: dict[str, Any] = {"contract": contract, "image": image, "port": port}
    for key in ("readonly_root_filesystem", "image_user"):
        value = data.get(key, IMAGE_DEFAULTS[key])
        if not isinstance(value, bool):
            raise ManifestError(key, f"must be true or false, got {value!r}")
        if value != IMAGE_DEFAULTS[key] and contract in RUNTIME_CONTRACTS:
            raise ManifestError(key, "can be relaxed only for image functions (`contract`)")
        values[key] = value
    return values


def describe_image(spec: Any) -> dict[str, object]:
    """An image function's contract, port and relaxations, for `faas describe` ({} if native)."""
    if spec.contract in RUNTIME_CONTRACTS:
        return {}
    return {"contract": spec.contract, "port": spec.port, "relaxed": relaxed(spec)}


def relaxed(spec: Any) -> list[str]:
    """What an image function relaxes of the hardening defaults."""
    out: list[str] = []
    if not spec.readonly_root_filesystem:
        out.append("writable root filesystem (readonly_root_filesystem: false)")
    if spec.image_user:
        out.append("runs as the image's own user (image_user: true)")
    return out
